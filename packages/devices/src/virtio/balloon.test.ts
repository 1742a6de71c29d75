import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeGuestMemory, MockVirtqueue, RecordingIrq, mmioInitialize, mmioRead32, mmioWrite32, type FakeRegion } from '../testing/index.js';
import { BALLOON_PAGE_SIZE, coalescePfns } from './balloon-pages.js';
import { BALLOON_STAT_SIZE, parseBalloonStats } from './balloon-stats.js';
import {
  MAX_BALLOON_PFNS_PER_REQUEST,
  VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
  VIRTIO_BALLOON_F_PAGE_REPORTING,
  VIRTIO_BALLOON_F_STATS_VQ,
  VirtioBalloon,
  type VirtioBalloonOptions,
} from './balloon.js';
import { VIRTIO_F_RING_EVENT_IDX, VIRTIO_F_RING_INDIRECT_DESC, VIRTIO_F_VERSION_1, VIRTIO_ID_BALLOON } from './device.js';
import { MmioTransport } from './mmio.js';

const MIB = 1024 * 1024;
const PAGE = BALLOON_PAGE_SIZE;
const REG_INTERRUPT_STATUS = 0x60;
const REG_INTERRUPT_ACK = 0x64;
const CONFIG = 0x100;
/** Guest pages tests inflate live from here (well above the rings and buffers). */
const POOL = 8 * MIB;

/** le32 PFNs as bytes, what Linux's balloon puts in one inflate/deflate buffer. */
function pfnBytes(pfns: readonly number[]): Uint8Array {
  const out = new Uint8Array(4 * pfns.length);
  const view = new DataView(out.buffer);
  pfns.forEach((p, i) => view.setUint32(4 * i, p >>> 0, true));
  return out;
}

/** Packed virtio_balloon_stat entries. */
function statBytes(entries: ReadonlyArray<[number, bigint]>): Uint8Array {
  const out = new Uint8Array(BALLOON_STAT_SIZE * entries.length);
  const view = new DataView(out.buffer);
  entries.forEach(([tag, val], i) => {
    view.setUint16(BALLOON_STAT_SIZE * i, tag, true);
    view.setBigUint64(BALLOON_STAT_SIZE * i + 2, val, true);
  });
  return out;
}

type SetupOptions = Omit<VirtioBalloonOptions, 'discard'> & { layout?: number | readonly FakeRegion[]; features?: bigint; failDiscard?: boolean };

function setup(options: SetupOptions = {}) {
  const { layout, features, failDiscard, ...rest } = options;
  const mem = new FakeGuestMemory(layout ?? 16 * MIB);
  const discard = failDiscard === true ? { discard: () => { throw new Error('EIO'); } } : mem;
  const device = new VirtioBalloon({ name: 'balloon0', queueSize: 16, discard, ...rest });
  const irq = new RecordingIrq();
  const transport = new MmioTransport({ device, mem, irq });
  const queues = device.queueMaxSizes.map((_, i) => new MockVirtqueue(mem, { size: 16, ringBase: 0x1000 + i * 0x8000, dataBase: 0x10_0000 + i * 0x10_0000 }));
  const status = mmioInitialize(transport, queues, features);
  if (status !== 0x0f) throw new Error(`handshake ended in status 0x${status.toString(16)}`);
  /** Puts one chain on queue `q`, kicks it, returns what came back used. */
  const send = (q: number, buffers: Parameters<MockVirtqueue['addChain']>[0]) => {
    const driver = queues[q]!;
    driver.addChain(buffers);
    transport.queueNotify(q);
    return driver.takeUsed();
  };
  const fillPool = (pages: number) => mem.write(POOL, new Uint8Array(pages * PAGE).fill(0xcc));
  return { mem, device, irq, transport, queues, send, fillPool };
}

const poolPfn = (i: number) => POOL / PAGE + i;

afterEach(() => {
  vi.useRealTimers();
});

describe('VirtioBalloon', () => {
  it('is device type 5 with inflate and deflate queues and the ring features by default', () => {
    const { transport } = setup();
    expect(mmioRead32(transport, 0x008)).toBe(VIRTIO_ID_BALLOON);
    const b = new VirtioBalloon({ discard: new FakeGuestMemory(PAGE) });
    expect(b.name).toBe('balloon');
    expect(b.features).toBe(VIRTIO_F_VERSION_1 | VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_F_RING_EVENT_IDX);
    expect(b.queueMaxSizes).toEqual([256, 256]);
  });

  it('offers DEFLATE_ON_OOM, STATS_VQ and PAGE_REPORTING only when asked, with a queue for each of the last two', () => {
    const mem = new FakeGuestMemory(PAGE);
    const b = new VirtioBalloon({ discard: mem, deflateOnOom: true, statsIntervalMs: 1000, freePageReporting: true });
    expect(b.features & VIRTIO_BALLOON_F_DEFLATE_ON_OOM).toBe(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
    expect(b.features & VIRTIO_BALLOON_F_STATS_VQ).toBe(VIRTIO_BALLOON_F_STATS_VQ);
    expect(b.features & VIRTIO_BALLOON_F_PAGE_REPORTING).toBe(VIRTIO_BALLOON_F_PAGE_REPORTING);
    expect(b.queueMaxSizes).toHaveLength(4);
    expect(new VirtioBalloon({ discard: mem, freePageReporting: true }).queueMaxSizes).toHaveLength(3);
  });

  describe('configuration space', () => {
    it('shows the initial target in num_pages and 0 in actual', () => {
      const { transport } = setup({ targetBytes: 64 * MIB + 100 });
      expect(mmioRead32(transport, CONFIG)).toBe((64 * MIB) / PAGE);
      expect(mmioRead32(transport, CONFIG + 4)).toBe(0);
      expect(mmioRead32(transport, CONFIG + 8)).toBe(0);
      expect(mmioRead32(transport, CONFIG + 0x40)).toBe(0);
    });

    it('takes the driver writing actual and reads it back at any width', () => {
      const { transport, device } = setup();
      transport.write(CONFIG + 4, Uint8Array.of(0x34, 0x12, 0, 0));
      expect(device.actual).toBe(0x1234);
      const two = new Uint8Array(2);
      transport.read(CONFIG + 4, two);
      expect(Array.from(two)).toEqual([0x34, 0x12]);
      const one = new Uint8Array(1);
      transport.read(CONFIG + 5, one);
      expect(one[0]).toBe(0x12);
    });

    it('counts and ignores writes to num_pages and partial writes of actual', () => {
      const { transport, device } = setup({ targetBytes: 4 * PAGE });
      mmioWrite32(transport, CONFIG, 99);
      transport.write(CONFIG + 4, Uint8Array.of(1, 2));
      transport.write(CONFIG + 0x20, Uint8Array.of(1, 2, 3, 4));
      expect(device.metrics.ignoredConfigWrites).toBe(3);
      expect(mmioRead32(transport, CONFIG)).toBe(4);
      expect(device.actual).toBe(0);
    });

    it('announces a new target with a configuration-change interrupt once the driver runs', () => {
      const { transport, device, irq } = setup();
      irq.take();
      device.setTarget(128 * MIB);
      expect(mmioRead32(transport, CONFIG)).toBe((128 * MIB) / PAGE);
      expect(irq.take()).toBe(1);
      expect(mmioRead32(transport, REG_INTERRUPT_STATUS) & 0b10).toBe(0b10);
      expect(device.metrics.configChanges).toBe(1);
      // The same target again changes nothing.
      device.setTarget(128 * MIB + 1);
      expect(irq.take()).toBe(0);
    });

    it('sets a target before activation without an interrupt', () => {
      const mem = new FakeGuestMemory(16 * MIB);
      const irq = new RecordingIrq();
      const device = new VirtioBalloon({ discard: mem });
      const transport = new MmioTransport({ device, mem, irq });
      device.setTarget(8 * MIB);
      expect(irq.take()).toBe(0);
      expect(mmioRead32(transport, CONFIG)).toBe((8 * MIB) / PAGE);
    });

    it('refuses a target that is not a byte count or does not fit num_pages', () => {
      const { device } = setup();
      expect(() => device.setTarget(-1)).toThrow(expect.objectContaining({ code: 'ERR_VMM_VIRTIO_INVALID_CONFIG' }));
      expect(() => device.setTarget(1.5)).toThrow(/not a whole number/);
      expect(() => device.setTarget(2 ** 32 * PAGE)).toThrow(/more than 4294967295 pages/);
    });
  });

  describe('inflate', () => {
    it('gives inflated pages back to the host as merged ranges, whatever their order, and the pages read zeros', () => {
      const { send, mem, device, fillPool } = setup();
      fillPool(8);
      const used = send(0, [{ data: pfnBytes([poolPfn(3), poolPfn(0), poolPfn(1), poolPfn(2), poolPfn(1), poolPfn(6)]) }]);
      expect(used).toEqual([{ id: 0, len: 0 }]);
      expect(mem.discarded).toEqual([
        { gpa: POOL, len: 4 * PAGE },
        { gpa: POOL + 6 * PAGE, len: PAGE },
      ]);
      expect(mem.dump(POOL, 4 * PAGE).every((b) => b === 0)).toBe(true);
      expect(mem.dump(POOL + 4 * PAGE, PAGE).every((b) => b === 0xcc)).toBe(true);
      expect(device.metrics).toMatchObject({ inflateRequests: 1, inflatedPages: 6, discardedBytes: 5 * PAGE, discardRanges: 2, badPfns: 0 });
    });

    it('reads PFNs split across several buffers and through an indirect table', () => {
      const { queues, transport, mem } = setup();
      const bytes = pfnBytes([poolPfn(0), poolPfn(1), poolPfn(2)]);
      queues[0]!.addIndirectChain([{ data: bytes.subarray(0, 6) }, { data: bytes.subarray(6) }]);
      transport.queueNotify(0);
      expect(queues[0]!.takeUsed()).toEqual([{ id: 0, len: 0 }]);
      expect(mem.discarded).toEqual([{ gpa: POOL, len: 3 * PAGE }]);
    });

    it('raises a used-buffer interrupt after serving the queue', () => {
      const { send, irq } = setup();
      irq.take();
      send(0, [{ data: pfnBytes([poolPfn(0)]) }]);
      expect(irq.take()).toBe(1);
    });

    it('does not merge pages across two RAM regions that happen to touch', () => {
      const { send, mem } = setup({ layout: [{ gpa: 0, size: POOL + 2 * PAGE }, { gpa: POOL + 2 * PAGE, size: 2 * PAGE }] });
      send(0, [{ data: pfnBytes([poolPfn(1), poolPfn(2)]) }]);
      expect(mem.discarded).toEqual([
        { gpa: POOL + PAGE, len: PAGE },
        { gpa: POOL + 2 * PAGE, len: PAGE },
      ]);
    });

    it('sorts 256 scattered PFNs (a full Linux batch) into as few ranges as they form', () => {
      const { send, mem, device } = setup({ queueSize: 16 });
      const pfns = Array.from({ length: 256 }, (_, i) => poolPfn(255 - i));
      send(0, [{ data: pfnBytes(pfns) }]);
      expect(mem.discarded).toEqual([{ gpa: POOL, len: 256 * PAGE }]);
      expect(device.metrics.inflatedPages).toBe(256);
    });
  });

  describe('deflate', () => {
    it('counts deflated pages and leaves guest memory alone', () => {
      const { send, mem, device, fillPool } = setup();
      fillPool(2);
      expect(send(1, [{ data: pfnBytes([poolPfn(0), poolPfn(1)]) }])).toEqual([{ id: 0, len: 0 }]);
      expect(mem.discarded).toEqual([]);
      expect(mem.dump(POOL, 2 * PAGE).every((b) => b === 0xcc)).toBe(true);
      expect(device.metrics).toMatchObject({ deflateRequests: 1, deflatedPages: 2 });
    });
  });

  describe('hostile drivers', () => {
    it('ignores and counts PFNs outside guest RAM, discarding only the good ones', () => {
      const { send, mem, device } = setup();
      const outside = (16 * MIB) / PAGE;
      send(0, [{ data: pfnBytes([outside, 0xffff_ffff, poolPfn(0)]) }]);
      expect(mem.discarded).toEqual([{ gpa: POOL, len: PAGE }]);
      expect(device.metrics).toMatchObject({ badPfns: 2, inflatedPages: 1 });
    });

    it('ignores PFNs in a hole between RAM regions', () => {
      const { send, mem, device } = setup({ layout: [{ gpa: 0, size: 12 * MIB }, { gpa: 64 * MIB, size: 4 * MIB }] });
      send(0, [{ data: pfnBytes([(32 * MIB) / PAGE, (64 * MIB) / PAGE]) }]);
      expect(mem.discarded).toEqual([{ gpa: 64 * MIB, len: PAGE }]);
      expect(device.metrics.badPfns).toBe(1);
    });

    it('refuses an inflate buffer with device-writable parts without discarding anything', () => {
      const { send, mem, device } = setup();
      const used = send(0, [{ data: pfnBytes([poolPfn(0)]) }, { len: 4, writable: true }]);
      expect(used).toEqual([{ id: 0, len: 0 }]);
      expect(mem.discarded).toEqual([]);
      expect(device.metrics.badRequests).toBe(1);
    });

    it('serves the whole PFNs of a buffer with a partial entry and counts the partial one', () => {
      const { send, mem, device } = setup();
      send(0, [{ data: [...pfnBytes([poolPfn(0)]), 1, 2] }]);
      expect(mem.discarded).toEqual([{ gpa: POOL, len: PAGE }]);
      expect(device.metrics.badRequests).toBe(1);
    });

    it(`serves only the first ${MAX_BALLOON_PFNS_PER_REQUEST} PFNs of an oversized buffer`, () => {
      const { send, mem, device } = setup({ layout: 256 * MIB });
      const pfns = Array.from({ length: MAX_BALLOON_PFNS_PER_REQUEST + 10 }, (_, i) => poolPfn(i));
      send(0, [{ data: pfnBytes(pfns) }]);
      expect(mem.discarded).toEqual([{ gpa: POOL, len: MAX_BALLOON_PFNS_PER_REQUEST * PAGE }]);
      expect(device.metrics.truncated).toBe(1);
    });

    it('drops a chain whose buffer lies outside RAM (the queue refuses it) and keeps serving', () => {
      const { queues, transport, mem } = setup();
      const q = queues[0]!;
      // A slot the mock's round-robin allocator will not reach in this test.
      q.writeDescriptor(15, { addr: 64 * MIB, len: 8 });
      q.publish(15);
      q.addChain([{ data: pfnBytes([poolPfn(0)]) }]);
      transport.queueNotify(0);
      expect(q.takeUsed()).toEqual([
        { id: 15, len: 0 },
        { id: 0, len: 0 },
      ]);
      expect(transport.queues[0]!.metrics.badChains).toBe(1);
      expect(mem.discarded).toEqual([{ gpa: POOL, len: PAGE }]);
    });

    it('counts a host discard failure and answers the buffer anyway', () => {
      const { send, device } = setup({ failDiscard: true });
      expect(send(0, [{ data: pfnBytes([poolPfn(0), poolPfn(5)]) }])).toEqual([{ id: 0, len: 0 }]);
      expect(device.metrics).toMatchObject({ hostErrors: 2, discardedBytes: 0, inflatedPages: 2 });
    });

    it('ignores a notification for a queue it does not have', () => {
      const { transport, device } = setup();
      transport.queueNotify(2);
      expect(transport.metrics.ignoredNotifications).toBe(1);
      device.queueNotify(7);
    });
  });

  describe('statistics queue', () => {
    it('keeps the first statistics buffer, reads it, and returns it every interval to ask for more', () => {
      vi.useFakeTimers();
      const { send, device, queues, transport, irq } = setup({ statsIntervalMs: 1000 });
      const used = send(2, [{ data: statBytes([[4, 100n * BigInt(MIB)], [5, 256n * BigInt(MIB)], [0, 7n], [99, 1n]]) }]);
      expect(used).toEqual([]);
      expect(device.stats).toEqual({ freeMemory: 100 * MIB, totalMemory: 256 * MIB, swapIn: 7 });
      expect(device.metrics).toMatchObject({ statsUpdates: 1, unknownStatTags: 1, statsRequests: 0 });
      irq.take();
      vi.advanceTimersByTime(1000);
      expect(queues[2]!.takeUsed()).toEqual([{ id: 0, len: 0 }]);
      expect(irq.take()).toBe(1);
      expect(device.metrics.statsRequests).toBe(1);
      // Nothing held: the next tick asks for nothing.
      vi.advanceTimersByTime(1000);
      expect(queues[2]!.takeUsed()).toEqual([]);
      // The driver refills; the newer values win.
      send(2, [{ data: statBytes([[4, 50n]]) }]);
      expect(device.stats['freeMemory']).toBe(50);
      expect(device.stats['totalMemory']).toBe(256 * MIB);
      mmioWrite32(transport, 0x70, 0);
      vi.advanceTimersByTime(5000);
      expect(device.metrics.statsRequests).toBe(1);
    });

    it('gives the older buffer back when the driver posts a second one', () => {
      const { send, device, queues } = setup({ statsIntervalMs: 60_000 });
      send(2, [{ data: statBytes([[4, 1n]]) }]);
      send(2, [{ data: statBytes([[4, 2n]]) }]);
      expect(queues[2]!.takeUsed()).toEqual([]);
      expect(device.stats['freeMemory']).toBe(2);
      expect(device.metrics.statsRequests).toBe(1);
    });

    it('parses a stats buffer with a trailing partial entry and clamps huge values', () => {
      const bytes = new Uint8Array([...statBytes([[6, 2n ** 63n]]), 1, 2, 3]);
      expect(parseBalloonStats(bytes)).toEqual({ stats: { availableMemory: Number.MAX_SAFE_INTEGER }, unknownTags: 0 });
    });

    it('puts the reporting queue at index 2 when the driver declines the stats queue', () => {
      const features = VIRTIO_F_VERSION_1 | VIRTIO_BALLOON_F_PAGE_REPORTING;
      const { send, mem, device } = setup({ statsIntervalMs: 1000, freePageReporting: true, features });
      send(2, [{ addr: POOL, len: 2 * PAGE }]);
      expect(mem.discarded).toEqual([{ gpa: POOL, len: 2 * PAGE }]);
      expect(device.metrics.statsUpdates).toBe(0);
    });
  });

  describe('free page reporting', () => {
    it('discards every reported range (queue 3 after the stats queue) and returns the buffer', () => {
      const { send, mem, device, fillPool } = setup({ statsIntervalMs: 1000, freePageReporting: true });
      fillPool(16);
      const used = send(3, [
        { addr: POOL, len: 4 * PAGE },
        { addr: POOL + 8 * PAGE, len: 8 * PAGE },
      ]);
      expect(used).toEqual([{ id: 0, len: 0 }]);
      expect(mem.discarded).toEqual([
        { gpa: POOL, len: 4 * PAGE },
        { gpa: POOL + 8 * PAGE, len: 8 * PAGE },
      ]);
      expect(mem.dump(POOL + 4 * PAGE, 4 * PAGE).every((b) => b === 0xcc)).toBe(true);
      expect(device.metrics).toMatchObject({ reportRequests: 1, reportedBytes: 12 * PAGE });
    });

    it('trims an unaligned report to the whole pages inside it and counts it', () => {
      const { send, mem, device } = setup({ freePageReporting: true });
      send(2, [{ addr: POOL + 100, len: 3 * PAGE }]);
      expect(mem.discarded).toEqual([{ gpa: POOL + PAGE, len: 2 * PAGE }]);
      expect(device.metrics.badRequests).toBe(1);
    });

    it('refuses a report with device-writable buffers', () => {
      const { send, mem, device } = setup({ freePageReporting: true });
      send(2, [{ addr: POOL, len: PAGE, writable: true }]);
      expect(mem.discarded).toEqual([]);
      expect(device.metrics.badRequests).toBe(1);
    });
  });

  describe('reset and snapshots', () => {
    it('forgets the driver state on reset but keeps the target', () => {
      const { transport, device } = setup({ targetBytes: 2 * MIB });
      mmioWrite32(transport, CONFIG + 4, 512);
      mmioWrite32(transport, 0x70, 0);
      expect(device.actual).toBe(0);
      expect(device.targetPages).toBe(512);
      mmioWrite32(transport, REG_INTERRUPT_ACK, 3);
    });

    it('saves and restores target, actual, statistics and the held statistics buffer', () => {
      const a = setup({ statsIntervalMs: 60_000, targetBytes: 3 * PAGE });
      mmioWrite32(a.transport, CONFIG + 4, 2);
      a.send(2, [{ data: statBytes([[5, 42n]]) }]);
      const state = JSON.parse(JSON.stringify(a.device.save()));
      expect(state).toEqual({ numPages: 3, actual: 2, stats: { totalMemory: 42 }, statsHead: 0 });
      const b = new VirtioBalloon({ discard: new FakeGuestMemory(PAGE), statsIntervalMs: 60_000 });
      b.restore(state);
      expect(b.save()).toEqual(state);
      expect(() => b.restore({ ...state, numPages: -1 })).toThrow(/numPages -1 is not a page count/);
      expect(() => b.restore({ ...state, statsHead: 1.5 })).toThrow(/statsHead/);
      expect(() => b.restore({ ...state, stats: { x: 'y' } } as never)).toThrow(/stats/);
      expect(() => b.restore(null as never)).toThrow(/must be an object/);
    });
  });
});

describe('coalescePfns', () => {
  it('merges runs, drops duplicates and sorts', () => {
    expect(coalescePfns(Uint32Array.of(5, 1, 2, 2, 3, 9, 8))).toEqual([
      { gpa: 1 * PAGE, len: 3 * PAGE },
      { gpa: 5 * PAGE, len: PAGE },
      { gpa: 8 * PAGE, len: 2 * PAGE },
    ]);
    expect(coalescePfns(new Uint32Array(0))).toEqual([]);
  });
});
