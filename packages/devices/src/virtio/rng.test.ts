import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeGuestMemory, MockVirtqueue, RecordingIrq, mmioInitialize, mmioRead32, mmioWrite32, type MockBuffer } from '../testing/index.js';
import { VIRTIO_F_RING_EVENT_IDX, VIRTIO_F_RING_INDIRECT_DESC, VIRTIO_F_VERSION_1, VIRTIO_ID_RNG } from './device.js';
import { MmioTransport } from './mmio.js';
import type { RateLimiterConfig } from '../rate-limiter.js';
import { MAX_RNG_REQUEST_BYTES, VirtioRng, type VirtioRngOptions } from './rng.js';

/** A deterministic "entropy" source: 1, 2, 3, ... across calls. */
function counting(): (dst: Uint8Array) => void {
  let next = 1;
  return (dst) => {
    for (let i = 0; i < dst.length; i++) dst[i] = next++ & 0xff;
  };
}

function setup(options: VirtioRngOptions & { realEntropy?: boolean } = {}) {
  const { realEntropy, ...rest } = options;
  const mem = new FakeGuestMemory(0x20_0000);
  const device = new VirtioRng({ name: 'rng0', queueSize: 16, ...(realEntropy === true ? {} : { fill: counting() }), ...rest });
  const irq = new RecordingIrq();
  const transport = new MmioTransport({ device, mem, irq });
  const driver = new MockVirtqueue(mem, { size: 16 });
  const status = mmioInitialize(transport, [driver]);
  if (status !== 0x0f) throw new Error(`handshake ended in status 0x${status.toString(16)}`);
  const request = (buffers: readonly MockBuffer[]) => {
    const placed = driver.addChain(buffers);
    transport.queueNotify(0);
    return { used: driver.takeUsed(), buffers: placed.buffers };
  };
  return { mem, device, irq, transport, driver, request };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('VirtioRng', () => {
  it('is device type 4 with one queue, the ring features and no configuration', () => {
    const { transport } = setup();
    expect(mmioRead32(transport, 0x008)).toBe(VIRTIO_ID_RNG);
    const rng = new VirtioRng();
    expect(rng.features).toBe(VIRTIO_F_VERSION_1 | VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_F_RING_EVENT_IDX);
    expect(rng.queueMaxSizes).toEqual([256]);
    expect(mmioRead32(transport, 0x100)).toBe(0);
  });

  it('counts and ignores configuration writes', () => {
    const { transport, device } = setup();
    transport.write(0x100, Uint8Array.of(1, 2, 3, 4));
    expect(device.metrics.ignoredConfigWrites).toBe(1);
    expect(mmioRead32(transport, 0x100)).toBe(0);
  });

  it('fills a device-writable buffer with host bytes and raises one interrupt', () => {
    const { request, mem, device, irq } = setup();
    const r = request([{ len: 64, writable: true }]);
    expect(r.used).toEqual([{ id: 0, len: 64 }]);
    expect(Array.from(mem.dump(r.buffers[0]?.addr ?? 0, 64))).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
    expect(device.metrics).toMatchObject({ requests: 1, bytes: 64, errors: 0 });
    expect(irq.take()).toBe(1);
  });

  it('fills a chain of several writable buffers end to end', () => {
    const { request, mem } = setup();
    const r = request([
      { len: 3, writable: true },
      { len: 0, writable: true },
      { len: 5, writable: true },
    ]);
    expect(r.used).toEqual([{ id: 0, len: 8 }]);
    expect(Array.from(mem.dump(r.buffers[0]?.addr ?? 0, 3))).toEqual([1, 2, 3]);
    expect(Array.from(mem.dump(r.buffers[2]?.addr ?? 0, 5))).toEqual([4, 5, 6, 7, 8]);
  });

  it('uses the real getrandom by default: two fills differ', () => {
    const { request, mem } = setup({ realEntropy: true });
    const dev = new VirtioRng();
    expect(dev.name).toBe('rng');
    const a = request([{ len: 32, writable: true }]);
    const b = request([{ len: 32, writable: true }]);
    const bytesA = mem.dump(a.buffers[0]?.addr ?? 0, 32);
    expect(bytesA.some((x) => x !== 0)).toBe(true);
    expect(bytesA).not.toEqual(mem.dump(b.buffers[0]?.addr ?? 0, 32));
  });

  it('serves every available request on one notification', () => {
    const { driver, transport, device, irq } = setup();
    for (let i = 0; i < 5; i++) driver.addChain([{ len: 16, writable: true }]);
    mmioWrite32(transport, 0x50, 0);
    expect(driver.takeUsed().map((u) => u.len)).toEqual([16, 16, 16, 16, 16]);
    expect(device.metrics.bytes).toBe(80);
    expect(irq.take()).toBe(1);
  });

  it('fills requests through an indirect table', () => {
    const { driver, transport, device } = setup();
    driver.addIndirectChain([{ len: 10, writable: true }, { len: 6, writable: true }]);
    transport.queueNotify(0);
    expect(driver.takeUsed()).toEqual([{ id: 0, len: 16 }]);
    expect(device.metrics.bytes).toBe(16);
  });

  it('caps one request at MAX_RNG_REQUEST_BYTES', () => {
    const { request, device } = setup();
    const r = request([{ len: MAX_RNG_REQUEST_BYTES + 100, writable: true }]);
    expect(r.used).toEqual([{ id: 0, len: MAX_RNG_REQUEST_BYTES }]);
    expect(device.metrics.truncated).toBe(1);
  });

  describe('hostile chains', () => {
    it('answers a chain with a device-readable buffer with length 0 and writes nothing', () => {
      const { request, mem, device } = setup();
      const r = request([{ data: [9, 9, 9, 9] }, { len: 8, writable: true }]);
      expect(r.used).toEqual([{ id: 0, len: 0 }]);
      expect(Array.from(mem.dump(r.buffers[1]?.addr ?? 0, 8))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
      expect(device.metrics).toMatchObject({ requests: 1, errors: 1, bytes: 0 });
    });

    it('answers a read-only chain with length 0', () => {
      const { request, device } = setup();
      expect(request([{ len: 16 }]).used).toEqual([{ id: 0, len: 0 }]);
      expect(device.metrics.errors).toBe(1);
    });

    it('answers a zero-length writable buffer with length 0', () => {
      const { request, device } = setup();
      expect(request([{ len: 0, writable: true }]).used).toEqual([{ id: 0, len: 0 }]);
      expect(device.metrics.errors).toBe(1);
    });

    it('hands back a descriptor loop and a buffer outside RAM, then keeps serving', () => {
      const { driver, transport, device } = setup();
      // 3 -> 4 -> 3: a loop.
      driver.writeDescriptor(3, { addr: 0x8000, len: 8, flags: 1 | 2, next: 4 });
      driver.writeDescriptor(4, { addr: 0x8100, len: 8, flags: 1 | 2, next: 3 });
      driver.publish(3);
      driver.writeDescriptor(5, { addr: 0x4000_0000, len: 64, flags: 2 });
      driver.publish(5);
      driver.writeDescriptor(6, { addr: 0xffff_ffff_ffff_f000n, len: 64, flags: 2 });
      driver.publish(6);
      driver.writeDescriptor(7, { addr: 0x9000, len: 8, flags: 2 });
      driver.publish(7);
      transport.queueNotify(0);
      expect(driver.takeUsed()).toEqual([
        { id: 3, len: 0 },
        { id: 5, len: 0 },
        { id: 6, len: 0 },
        { id: 7, len: 8 },
      ]);
      expect(transport.queues[0]?.metrics.badChains).toBe(3);
      expect(device.metrics.bytes).toBe(8);
    });

    it('ignores an available index that runs past the queue size', () => {
      const { driver, transport, device } = setup();
      driver.setAvailIndex(100);
      transport.queueNotify(0);
      expect(driver.takeUsed()).toEqual([]);
      expect(transport.queues[0]?.metrics.badAvailIndex).toBe(1);
      expect(device.metrics.requests).toBe(0);
    });

    it('reports a host entropy failure as length 0 and keeps going', () => {
      let fail = true;
      const { request, device } = setup({
        fill: (dst) => {
          if (fail) {
            fail = false;
            throw new Error('getrandom: EIO');
          }
          dst.fill(7);
        },
      });
      expect(request([{ len: 8, writable: true }]).used).toEqual([{ id: 0, len: 0 }]);
      expect(request([{ len: 8, writable: true }]).used).toEqual([{ id: 1, len: 8 }]);
      expect(device.metrics.hostErrors).toBe(1);
    });
  });

  it('ignores notifications of other queues and after a reset', () => {
    const { driver, transport, device } = setup();
    driver.addChain([{ len: 8, writable: true }]);
    device.queueNotify(1);
    expect(driver.takeUsed()).toEqual([]);
    mmioWrite32(transport, 0x70, 0);
    device.queueNotify(0);
    expect(driver.takeUsed()).toEqual([]);
  });

  describe('rate limiter', () => {
    function limited(limit: RateLimiterConfig) {
      vi.useFakeTimers();
      return setup({ rateLimiter: limit, now: () => Date.now() });
    }

    it('serves within budget at once, then makes the next request wait for the refill', () => {
      const { driver, transport, device, irq } = limited({ bandwidth: { size: 64, refillTimeMs: 100 } });
      driver.addChain([{ len: 64, writable: true }]);
      driver.addChain([{ len: 32, writable: true }]);
      transport.queueNotify(0);
      expect(driver.takeUsed()).toEqual([{ id: 0, len: 64 }]);
      expect(device.throttledNow).toBe(true);
      expect(device.metrics.throttled).toBe(1);
      irq.take();
      // With EVENT_IDX the driver asks for an interrupt at the next used entry.
      driver.setUsedEvent(1);
      // 32 bytes come back after half the refill time.
      vi.advanceTimersByTime(49);
      expect(driver.takeUsed()).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(driver.takeUsed()).toEqual([{ id: 1, len: 32 }]);
      expect(irq.take()).toBe(1);
      expect(device.throttledNow).toBe(false);
      expect(device.metrics.bytes).toBe(96);
    });

    it('does not drop requests while throttled: a kick just waits for the timer', () => {
      const { driver, transport, device } = limited({ bandwidth: { size: 10, refillTimeMs: 1000 } });
      for (let i = 0; i < 4; i++) driver.addChain([{ len: 10, writable: true }]);
      transport.queueNotify(0);
      expect(driver.takeUsed()).toHaveLength(1);
      transport.queueNotify(0);
      expect(driver.takeUsed()).toHaveLength(0);
      vi.advanceTimersByTime(3000);
      expect(driver.takeUsed().map((u) => u.len)).toEqual([10, 10, 10]);
      expect(device.metrics.requests).toBe(4);
    });

    it('spends one_time_burst before the bucket', () => {
      const { driver, transport } = limited({ bandwidth: { size: 16, oneTimeBurst: 48, refillTimeMs: 1000 } });
      for (let i = 0; i < 5; i++) driver.addChain([{ len: 16, writable: true }]);
      transport.queueNotify(0);
      expect(driver.takeUsed()).toHaveLength(4);
    });

    it('fills a request larger than the bucket only up to the bucket size', () => {
      const { request, device } = limited({ bandwidth: { size: 32, refillTimeMs: 100 } });
      expect(request([{ len: 100, writable: true }]).used).toEqual([{ id: 0, len: 32 }]);
      expect(device.metrics.truncated).toBe(1);
    });

    it('limits requests with an ops bucket', () => {
      const { driver, transport } = limited({ ops: { size: 2, refillTimeMs: 1000 } });
      for (let i = 0; i < 3; i++) driver.addChain([{ len: 8, writable: true }]);
      transport.queueNotify(0);
      expect(driver.takeUsed()).toHaveLength(2);
      vi.advanceTimersByTime(500);
      expect(driver.takeUsed()).toHaveLength(1);
    });

    it('cancels the refill timer on reset', () => {
      const { driver, transport, device } = limited({ bandwidth: { size: 8, refillTimeMs: 1000 } });
      driver.addChain([{ len: 8, writable: true }]);
      driver.addChain([{ len: 8, writable: true }]);
      transport.queueNotify(0);
      mmioWrite32(transport, 0x70, 0);
      expect(device.throttledNow).toBe(false);
      vi.advanceTimersByTime(5000);
      expect(driver.takeUsed()).toHaveLength(1);
    });

    it('refuses an invalid bucket', () => {
      expect(() => new VirtioRng({ rateLimiter: { bandwidth: { size: -1, refillTimeMs: 10 } } })).toThrow(expect.objectContaining({ code: 'ERR_VMM_VIRTIO_INVALID_CONFIG' }));
    });
  });

  describe('state', () => {
    it('saves and restores the limiter budget as JSON', () => {
      vi.useFakeTimers();
      const limit = { bandwidth: { size: 100, oneTimeBurst: 50, refillTimeMs: 1000 } };
      const a = setup({ rateLimiter: limit, now: () => Date.now() });
      a.request([{ len: 80, writable: true }]);
      const state = JSON.parse(JSON.stringify(a.device.save())) as ReturnType<VirtioRng['save']>;
      expect(state).toEqual({ limiter: { bandwidth: { budget: 70, oneTimeBurst: 0 } } });
      const b = setup({ rateLimiter: limit, now: () => Date.now() });
      b.device.restore(state);
      expect(b.device.save()).toEqual(state);
      expect(b.request([{ len: 80, writable: true }]).used).toEqual([]);
    });

    it('has an empty state without a limiter and refuses a mismatched one', () => {
      const plain = new VirtioRng();
      expect(plain.save()).toEqual({});
      expect(() => plain.restore({ limiter: {} })).toThrow(/has a rate limiter/);
      const limitedRng = new VirtioRng({ rateLimiter: { ops: { size: 1, refillTimeMs: 1 } } });
      expect(() => limitedRng.restore({})).toThrow(/lacks the rate limiter/);
      expect(() => limitedRng.restore({ limiter: { ops: { budget: 5, oneTimeBurst: 0 } } })).toThrow(expect.objectContaining({ code: 'ERR_VMM_VIRTIO_INVALID_CONFIG' }));
    });
  });
});
