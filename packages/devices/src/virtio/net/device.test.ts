import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeGuestMemory, FakeTap, MockVirtqueue, RecordingIrq, mmioInitialize, mmioRead32, type MockBuffer } from '../../testing/index.js';
import { VIRTIO_F_VERSION_1, VIRTIO_ID_NET } from '../device.js';
import { MmioTransport } from '../mmio.js';
import { VirtioNet } from './device.js';
import {
  MAX_FRAME_SIZE,
  NET_HDR_SIZE,
  TUN_F_CSUM,
  TUN_F_TSO4,
  TUN_F_TSO6,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_GUEST_UFO,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_UFO,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_STATUS,
  formatMac,
  parseMac,
  randomMac,
} from './header.js';

const MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
const BASIC = VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC;

/** A frame: a 12-byte vnet header (gso_type in byte 1 as a marker) then `len` payload bytes 0, 1, 2, ... */
function frame(len: number, marker = 0): Uint8Array {
  const f = new Uint8Array(NET_HDR_SIZE + len);
  f[1] = marker;
  for (let i = 0; i < len; i++) f[NET_HDR_SIZE + i] = i & 0xff;
  return f;
}

function setup(options: { features?: bigint; offloads?: number; queueSize?: number } = {}) {
  const size = options.queueSize ?? 16;
  const mem = new FakeGuestMemory(0x40_0000);
  const tap = new FakeTap(options.offloads ?? 0x1f);
  const device = new VirtioNet({ backend: tap, mac: MAC, name: 'net0', queueSize: size });
  const irq = new RecordingIrq();
  const transport = new MmioTransport({ device, mem, irq });
  const rxq = new MockVirtqueue(mem, { size, ringBase: 0x1000, dataBase: 0x1_0000 });
  const txq = new MockVirtqueue(mem, { size, ringBase: 0x8000, dataBase: 0x20_0000 });
  const status = mmioInitialize(transport, [rxq, txq], options.features);
  if (status !== 0x0f) throw new Error(`handshake ended in status 0x${status.toString(16)}`);
  const post = (buffers: readonly MockBuffer[]) => rxq.addChain(buffers);
  const send = (buffers: readonly MockBuffer[]) => {
    const placed = txq.addChain(buffers);
    transport.queueNotify(1);
    return placed;
  };
  return { mem, tap, device, irq, transport, rxq, txq, post, send };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('VirtioNet', () => {
  it('is device type 1 with two queues, the MAC and LINK_UP in its configuration', () => {
    const { transport, device } = setup();
    expect(mmioRead32(transport, 0x008)).toBe(VIRTIO_ID_NET);
    expect(device.queueMaxSizes).toEqual([16, 16]);
    const config = new Uint8Array(8);
    for (let i = 0; i < 8; i++) {
      const b = new Uint8Array(1);
      transport.read(0x100 + i, b);
      config[i] = b[0] ?? 0;
    }
    expect(Array.from(config)).toEqual([0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 1, 0]);
  });

  it('offers the guest offloads the tap accepts and the host offloads always', () => {
    const all = new VirtioNet({ backend: new FakeTap(0x1f), mac: MAC });
    for (const f of [VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_CSUM, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_UFO, VIRTIO_NET_F_HOST_UFO]) {
      expect(all.features & f).toBe(f);
    }
    const plain = new VirtioNet({ backend: new FakeTap(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6), mac: MAC });
    expect(plain.features & (VIRTIO_NET_F_GUEST_UFO | VIRTIO_NET_F_HOST_UFO)).toBe(0n);
    expect(plain.features & VIRTIO_NET_F_GUEST_TSO6).toBe(VIRTIO_NET_F_GUEST_TSO6);
    const none = new VirtioNet({ backend: new FakeTap(0), mac: MAC });
    expect(none.features & (VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4)).toBe(0n);
  });

  it('offers no offload the config switched off (offload_csum, offload_tso, offload_ufo)', () => {
    const noCsum = new VirtioNet({ backend: new FakeTap(0x1f), mac: MAC, offloads: { csum: false, tso: true, ufo: true } });
    expect(noCsum.features & (VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_GUEST_TSO4)).toBe(0n);
    const noTso = new VirtioNet({ backend: new FakeTap(0x1f), mac: MAC, offloads: { csum: true, tso: false, ufo: true } });
    expect(noTso.features & (VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6)).toBe(0n);
    expect(noTso.features & (VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_UFO)).toBe(VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_UFO);
    const noUfo = new VirtioNet({ backend: new FakeTap(0x1f), mac: MAC, offloads: { csum: true, tso: true, ufo: false } });
    expect(noUfo.features & (VIRTIO_NET_F_HOST_UFO | VIRTIO_NET_F_GUEST_UFO)).toBe(0n);
    expect(noUfo.features & VIRTIO_NET_F_HOST_TSO4).toBe(VIRTIO_NET_F_HOST_TSO4);
  });

  it('sets the tap offloads from the GUEST_* features the driver accepted', () => {
    const { tap } = setup({ features: BASIC | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 });
    expect(tap.offloadCalls).toEqual([TUN_F_CSUM | TUN_F_TSO4]);
    expect(setup({ features: BASIC }).tap.offloadCalls).toEqual([0]);
  });

  it('counts and ignores configuration writes', () => {
    const { transport, device } = setup();
    transport.write(0x100, Uint8Array.of(1, 2, 3, 4));
    expect(device.metrics.ignoredConfigWrites).toBe(1);
    expect(mmioRead32(transport, 0x100)).toBe(0x12005452);
  });

  describe('transmit', () => {
    it('writes the header and frame gathered from every readable buffer to the tap, one interrupt', () => {
      const { send, tap, txq, device, irq } = setup();
      const f = frame(100, 7);
      send([{ data: f.subarray(0, NET_HDR_SIZE) }, { data: f.subarray(NET_HDR_SIZE, 50) }, { data: f.subarray(50) }]);
      expect(tap.written).toEqual([f]);
      expect(txq.takeUsed()).toEqual([{ id: 0, len: 0 }]);
      expect(device.metrics).toMatchObject({ txFrames: 1, txBytes: 100, txDropped: 0 });
      expect(irq.take()).toBe(1);
    });

    it('drops chains with writable buffers or shorter than the header, counts them, and keeps going', () => {
      const { send, tap, txq, device } = setup();
      send([{ data: frame(10) }, { len: 8, writable: true }]);
      send([{ data: [1, 2, 3] }]);
      send([{ data: frame(20) }]);
      expect(txq.takeUsed().map((u) => u.len)).toEqual([0, 0, 0]);
      expect(tap.written).toHaveLength(1);
      expect(device.metrics).toMatchObject({ txFrames: 1, txDropped: 2, errors: 2 });
    });

    it('returns loops and buffers outside RAM as used without touching the tap', () => {
      const { transport, txq, tap, device } = setup();
      txq.writeDescriptor(0, { addr: 0x3000, len: 64, flags: 1, next: 0 });
      txq.publish(0);
      txq.writeDescriptor(1, { addr: 0x1_0000_0000, len: 64 });
      txq.publish(1);
      transport.queueNotify(1);
      expect(txq.takeUsed()).toEqual([
        { id: 0, len: 0 },
        { id: 1, len: 0 },
      ]);
      expect(tap.written).toHaveLength(0);
      expect(transport.queues[1]?.metrics.badChains).toBe(2);
      expect(device.metrics.txFrames).toBe(0);
    });

    it('counts a failing or full tap and completes the chain', () => {
      const { send, tap, txq, device } = setup();
      tap.writeError = new Error('writev failed: Bad file descriptor in bad state');
      send([{ data: frame(10) }]);
      tap.writeError = undefined;
      tap.writeBlocks = true;
      send([{ data: frame(10) }]);
      tap.writeBlocks = false;
      send([{ data: frame(10) }]);
      expect(txq.takeUsed()).toHaveLength(3);
      expect(device.metrics).toMatchObject({ txTapErrors: 1, txDropped: 2, txFrames: 1 });
    });
  });

  describe('receive with MRG_RXBUF', () => {
    it('spreads a frame over several receive chains and sets num_buffers', () => {
      const { post, tap, rxq, mem, device, irq } = setup();
      const placed = Array.from({ length: 16 }, () => post([{ len: 1536, writable: true }]));
      tap.deliver(frame(4000, 9));
      const used = rxq.takeUsed();
      expect(used).toEqual([
        { id: placed[0]?.head, len: 1536 },
        { id: placed[1]?.head, len: 1536 },
        { id: placed[2]?.head, len: NET_HDR_SIZE + 4000 - 2 * 1536 },
      ]);
      const first = placed[0]?.buffers[0]?.addr ?? 0;
      expect(mem.readU8(first + 1)).toBe(9);
      expect(mem.readU16(first + 10)).toBe(3);
      expect(mem.readU8(first + NET_HDR_SIZE + 5)).toBe(5);
      // Byte 1536 - 12 of the payload lands at the start of the second buffer.
      expect(mem.readU8(placed[1]?.buffers[0]?.addr ?? 0)).toBe((1536 - NET_HDR_SIZE) & 0xff);
      expect(device.metrics).toMatchObject({ rxFrames: 1, rxBytes: 4000 });
      expect(irq.take()).toBe(1);
      expect(device.heldRxBuffers).toBe(13);
    });

    it('waits for buffers that can take a 64 KiB frame, then resumes on the receiveq kick', () => {
      const { post, tap, rxq, transport, device } = setup({ queueSize: 32 });
      post([{ len: 4096, writable: true }]);
      tap.deliver(frame(60));
      expect(rxq.takeUsed()).toEqual([]);
      expect(device.rxPaused).toBe('buffers');
      expect(tap.handler).toBeUndefined();
      expect(device.metrics.rxNoBuffers).toBe(1);
      for (let i = 0; i < 17; i++) post([{ len: 4096, writable: true }]);
      transport.queueNotify(0);
      expect(rxq.takeUsed()).toEqual([{ id: 0, len: NET_HDR_SIZE + 60 }]);
      expect(tap.handler).toBeDefined();
      expect(device.rxPaused).toBe('none');
      expect(device.heldRxBuffers * 4096).toBeGreaterThanOrEqual(MAX_FRAME_SIZE);
    });

    it('delivers a full 64 KiB GSO frame over big buffers', () => {
      const { post, tap, rxq, device } = setup();
      for (let i = 0; i < 9; i++) post([{ len: 8192, writable: true }]);
      tap.deliver(frame(65550));
      const used = rxq.takeUsed();
      expect(used).toHaveLength(9);
      expect(used.reduce((s, u) => s + u.len, 0)).toBe(MAX_FRAME_SIZE);
      expect(device.metrics.rxBytes).toBe(65550);
    });
  });

  describe('receive without MRG_RXBUF', () => {
    it('puts each frame in one chain with num_buffers 1', () => {
      const { post, tap, rxq, mem } = setup({ features: BASIC });
      const a = post([{ len: NET_HDR_SIZE, writable: true }, { len: 1514, writable: true }]);
      const b = post([{ len: 2000, writable: true }]);
      tap.deliver(frame(100));
      tap.deliver(frame(200));
      expect(rxq.takeUsed()).toEqual([
        { id: a.head, len: NET_HDR_SIZE + 100 },
        { id: b.head, len: NET_HDR_SIZE + 200 },
      ]);
      expect(mem.readU16((a.buffers[0]?.addr ?? 0) + 10)).toBe(1);
      expect(mem.readU8(a.buffers[1]?.addr ?? 0)).toBe(0);
      expect(mem.readU8((a.buffers[1]?.addr ?? 0) + 99)).toBe(99);
    });

    it('drops a frame larger than the posted chain and keeps the chain for the next one', () => {
      const { post, tap, rxq, device } = setup({ features: BASIC });
      const a = post([{ len: 100, writable: true }]);
      tap.deliver(frame(500));
      expect(rxq.takeUsed()).toEqual([]);
      tap.deliver(frame(50));
      expect(rxq.takeUsed()).toEqual([{ id: a.head, len: NET_HDR_SIZE + 50 }]);
      expect(device.metrics).toMatchObject({ rxDropped: 1, rxFrames: 1 });
    });
  });

  describe('hostile receive chains', () => {
    it('returns read-only, too short and out-of-RAM receive buffers unused and counts them', () => {
      const { post, tap, rxq, transport, device } = setup({ features: BASIC });
      post([{ len: 64 }]);
      post([{ len: 4, writable: true }]);
      rxq.writeDescriptor(15, { addr: 0x1_0000_0000, len: 1600, flags: 2 });
      rxq.publish(15);
      const good = post([{ len: 1600, writable: true }]);
      tap.deliver(frame(10));
      expect(rxq.takeUsed()).toEqual([
        { id: 0, len: 0 },
        { id: 1, len: 0 },
        { id: 15, len: 0 },
        { id: good.head, len: NET_HDR_SIZE + 10 },
      ]);
      expect(device.metrics.errors).toBe(2);
      expect(transport.queues[0]?.metrics.badChains).toBe(1);
    });

    it('survives a descriptor loop on the receive queue', () => {
      const { rxq, tap, transport, device } = setup({ features: BASIC });
      rxq.writeDescriptor(0, { addr: 0x3000, len: 64, flags: 2 | 1, next: 0 });
      rxq.publish(0);
      tap.deliver(frame(10));
      expect(rxq.takeUsed()).toEqual([{ id: 0, len: 0 }]);
      expect(transport.queues[0]?.metrics.badChains).toBe(1);
      expect(device.rxPaused).toBe('buffers');
    });
  });

  describe('tap failures', () => {
    it('counts a read error, pauses receive, retries after a second, and keeps transmitting', () => {
      vi.useFakeTimers();
      const { post, tap, rxq, device, send } = setup({ features: BASIC });
      post([{ len: 1600, writable: true }]);
      tap.readError = Object.assign(new Error('readv failed: File descriptor in bad state'), { code: 'EBADFD' });
      tap.deliver(frame(10));
      expect(device.metrics.rxTapErrors).toBe(1);
      expect(device.rxPaused).toBe('retry');
      expect(tap.handler).toBeUndefined();
      send([{ data: frame(10) }]);
      expect(device.metrics.txFrames).toBe(1);
      vi.advanceTimersByTime(1000);
      expect(tap.handler).toBeDefined();
      tap.handler?.();
      expect(rxq.takeUsed()).toEqual([{ id: 0, len: NET_HDR_SIZE + 10 }]);
    });

    it('counts a tap it cannot watch again after an error instead of throwing from the timer', () => {
      vi.useFakeTimers();
      const { post, tap, device } = setup({ features: BASIC });
      post([{ len: 1600, writable: true }]);
      tap.readError = new Error('readv failed');
      tap.deliver(frame(10));
      tap.watchError = new Error('uv_poll_init failed: bad file descriptor');
      expect(() => vi.advanceTimersByTime(1000)).not.toThrow();
      expect(device.metrics.rxTapErrors).toBe(2);
      expect(tap.handler).toBeUndefined();
      expect(device.rxPaused).toBe('retry');
      tap.watchError = undefined;
      vi.advanceTimersByTime(1000);
      expect(tap.handler).toBeDefined();
    });

    it('treats EOF (a deleted tap) as a read error', () => {
      vi.useFakeTimers();
      const { post, tap, device } = setup({ features: BASIC });
      post([{ len: 1600, writable: true }]);
      tap.readError = 'eof';
      tap.handler?.();
      expect(device.metrics.rxTapErrors).toBe(1);
      expect(device.rxPaused).toBe('retry');
    });

    it('falls back to no offloads when the tap refuses them', () => {
      const mem = new FakeGuestMemory(0x40_0000);
      const tap = new FakeTap();
      tap.refuseOffload = true;
      const device = new VirtioNet({ backend: tap, mac: MAC, queueSize: 16 });
      const transport = new MmioTransport({ device, mem, irq: new RecordingIrq() });
      const status = mmioInitialize(transport, [new MockVirtqueue(mem, { size: 16 }), new MockVirtqueue(mem, { size: 16, ringBase: 0x8000, dataBase: 0x20_0000 })]);
      expect(status).toBe(0x0f);
      expect(tap.offloadCalls.at(-1)).toBe(0);
    });
  });

  it('stops watching the tap and forgets held buffers on reset', () => {
    const { post, tap, transport, device } = setup();
    post([{ len: 1536, writable: true }]);
    tap.deliver(frame(10));
    expect(device.heldRxBuffers).toBe(1);
    transport.write(0x70, Uint8Array.of(0, 0, 0, 0));
    expect(device.heldRxBuffers).toBe(0);
    expect(tap.handler).toBeUndefined();
  });
});

describe('MAC helpers', () => {
  it('parses and formats MACs, and makes locally administered random ones', () => {
    expect(Array.from(parseMac('52:54:00:AB:cd:ef') ?? [])).toEqual([0x52, 0x54, 0, 0xab, 0xcd, 0xef]);
    expect(parseMac('52:54:00:ab:cd')).toBeUndefined();
    expect(parseMac('52-54-00-ab-cd-ef')).toBeUndefined();
    expect(formatMac(MAC)).toBe('52:54:00:12:34:56');
    const m = randomMac((d) => d.fill(0xff));
    expect(m[0]).toBe(0xfe);
  });
});
