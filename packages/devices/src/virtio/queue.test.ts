import { describe, expect, it } from 'vitest';
import { FakeGuestMemory, MockVirtqueue } from '../testing/index.js';
import { DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE, Queue, forEachSegment, readSegments, writeSegments } from './queue.js';

function setup(options: { size?: number; eventIdx?: boolean; indirect?: boolean } = {}) {
  const mem = new FakeGuestMemory(0x4_0000);
  const driver = new MockVirtqueue(mem, { size: options.size ?? 8 });
  const queue = new Queue(options.size ?? 8, 'test.q0');
  Object.assign(queue, driver.addresses);
  queue.eventIdx = options.eventIdx ?? false;
  queue.indirect = options.indirect ?? false;
  return { mem, driver, queue };
}

/** Logs mem's 16-bit accesses and fences (`w16 GPA`, `r16 GPA`, `fence`) from now on. */
function recordAccesses(mem: FakeGuestMemory): string[] {
  const log: string[] = [];
  const { readU16, writeU16, fence } = mem;
  Object.assign(mem, {
    readU16: (gpa: number) => (log.push(`r16 ${gpa}`), readU16.call(mem, gpa)),
    writeU16: (gpa: number, v: number) => (log.push(`w16 ${gpa}`), writeU16.call(mem, gpa, v)),
    fence: () => (log.push('fence'), fence.call(mem)),
  });
  return log;
}

describe('Queue', () => {
  it('pops a chain with its readable buffers before its writable ones', () => {
    const { mem, driver, queue } = setup();
    const { head, buffers } = driver.addChain([{ data: [1, 2, 3] }, { len: 5 }, { len: 8, writable: true }, { len: 1, writable: true }]);
    const chain = queue.pop(mem);
    expect(chain?.head).toBe(head);
    expect(chain?.readable).toEqual([buffers[0], buffers[1]]);
    expect(chain?.writable).toEqual([buffers[2], buffers[3]]);
    expect([chain?.readableBytes, chain?.writableBytes]).toEqual([8, 9]);
    expect(queue.pop(mem)).toBeUndefined();
    expect(queue.metrics.chains).toBe(1);
  });

  it('stops after its budget of heads even when every one is malformed and more keep coming', () => {
    const { mem, driver, queue } = setup({ size: 8 });
    for (let i = 0; i < 8; i++) driver.writeDescriptor(i, { addr: 0x3_fffc, len: 8 });
    // A guest vCPU refilling the ring behind our back: publish far more than the budget.
    for (let i = 0; i < 6; i++) driver.publish(i);
    expect(queue.pop(mem, 3)).toBeUndefined();
    expect(queue.headsTaken).toBe(3);
    expect(queue.metrics.badChains).toBe(3);
    expect(queue.pop(mem, 3)).toBeUndefined();
    expect(queue.headsTaken).toBe(6);
  });

  it('gives the last chain back with undoPop, so the next pop returns it again', () => {
    const { mem, driver, queue } = setup();
    const { head } = driver.addChain([{ len: 4, writable: true }]);
    expect(queue.pop(mem)?.head).toBe(head);
    queue.undoPop();
    expect([queue.headsTaken, queue.metrics.chains]).toEqual([0, 0]);
    expect(queue.pop(mem)?.head).toBe(head);
    expect(queue.pop(mem)).toBeUndefined();
  });

  it('returns nothing when the driver made nothing available', () => {
    const { mem, queue } = setup();
    expect(queue.pop(mem)).toBeUndefined();
  });

  it('puts used elements in order and publishes the used index', () => {
    const { mem, driver, queue } = setup();
    const a = driver.addChain([{ len: 4, writable: true }]).head;
    const b = driver.addChain([{ len: 4, writable: true }]).head;
    queue.addUsed(mem, (queue.pop(mem) ?? { head: -1 }).head, 4);
    queue.addUsed(mem, (queue.pop(mem) ?? { head: -1 }).head, 2);
    expect(driver.takeUsed()).toEqual([
      { id: a, len: 4 },
      { id: b, len: 2 },
    ]);
    expect(driver.usedIndex).toBe(2);
  });

  it('keeps working across the u16 wrap of the free-running indices', () => {
    const { mem, driver, queue } = setup({ size: 4 });
    queue.restore({ ...queue.save(), nextAvail: 0xfffd, nextUsed: 0xfffd });
    driver.startAt(0xfffd);
    const heads: number[] = [];
    for (let i = 0; i < 6; i++) {
      heads.push(driver.addChain([{ len: 1, writable: true }]).head);
      const chain = queue.pop(mem);
      expect(chain?.head).toBe(heads[i]);
      queue.addUsed(mem, chain?.head ?? 0, 1);
    }
    expect(driver.usedIndex).toBe(3);
    expect(driver.takeUsed().map((u) => u.id)).toEqual(heads);
  });

  it('follows an indirect table when VIRTIO_F_INDIRECT_DESC was negotiated', () => {
    const { mem, driver, queue } = setup({ indirect: true });
    const { head, buffers } = driver.addIndirectChain([{ data: [9] }, { len: 16, writable: true }]);
    const chain = queue.pop(mem);
    expect(chain?.head).toBe(head);
    expect(chain?.readable).toEqual([buffers[0]]);
    expect(chain?.writable).toEqual([buffers[1]]);
  });

  it('drops an indirect chain when the feature was not negotiated, returning it with length 0', () => {
    const { mem, driver, queue } = setup();
    const { head } = driver.addIndirectChain([{ len: 16, writable: true }]);
    const ok = driver.addChain([{ len: 1, writable: true }]).head;
    expect(queue.pop(mem)?.head).toBe(ok);
    expect(driver.takeUsed()).toEqual([{ id: head, len: 0 }]);
    expect(queue.metrics.badChains).toBe(1);
  });

  it('detects a descriptor loop instead of spinning', () => {
    const { mem, driver, queue } = setup();
    const buf = driver.alloc(8);
    driver.writeDescriptor(0, { addr: buf, len: 8, flags: DESC_F_NEXT, next: 1 });
    driver.writeDescriptor(1, { addr: buf, len: 8, flags: DESC_F_NEXT, next: 0 });
    driver.publish(0);
    expect(queue.pop(mem)).toBeUndefined();
    expect(queue.metrics.badChains).toBe(1);
    expect(driver.takeUsed()).toEqual([{ id: 0, len: 0 }]);
  });

  it('detects a loop inside an indirect table', () => {
    const { mem, driver, queue } = setup({ indirect: true });
    const table = driver.alloc(32);
    const buf = driver.alloc(8);
    driver.writeDescriptor(0, { addr: buf, len: 8, flags: DESC_F_NEXT, next: 1 }, table);
    driver.writeDescriptor(1, { addr: buf, len: 8, flags: DESC_F_NEXT, next: 0 }, table);
    driver.writeDescriptor(3, { addr: table, len: 32, flags: DESC_F_INDIRECT });
    driver.publish(3);
    expect(queue.pop(mem)).toBeUndefined();
    expect(queue.metrics.badChains).toBe(1);
  });

  it.each([
    ['a next index past the table', { addr: 0x2_0000, len: 8, flags: DESC_F_NEXT, next: 8 }],
    ['a buffer outside guest RAM', { addr: 0x3_fffc, len: 8 }],
    ['a buffer address above 2^53', { addr: 1n << 60n, len: 8 }],
    ['an indirect descriptor with NEXT', { addr: 0x2_0000, len: 16, flags: DESC_F_INDIRECT | DESC_F_NEXT, next: 1 }],
    ['an indirect table of a partial descriptor', { addr: 0x2_0000, len: 12, flags: DESC_F_INDIRECT }],
    ['an indirect table outside guest RAM', { addr: 0x3_fff0, len: 32, flags: DESC_F_INDIRECT }],
  ])('drops a chain with %s', (_what, desc) => {
    const { mem, driver, queue } = setup({ indirect: true });
    driver.writeDescriptor(2, desc);
    driver.publish(2);
    expect(queue.pop(mem)).toBeUndefined();
    expect(queue.metrics.badChains).toBe(1);
    expect(driver.takeUsed()).toEqual([{ id: 2, len: 0 }]);
  });

  it('drops a chain with a nested indirect table', () => {
    const { mem, driver, queue } = setup({ indirect: true });
    const inner = driver.alloc(16);
    const outer = driver.alloc(16);
    driver.writeDescriptor(0, { addr: inner, len: 16, flags: DESC_F_INDIRECT }, outer);
    driver.writeDescriptor(0, { addr: outer, len: 16, flags: DESC_F_INDIRECT });
    driver.publish(0);
    expect(queue.pop(mem)).toBeUndefined();
    expect(queue.metrics.badChains).toBe(1);
  });

  it('drops a chain with a device-readable buffer after a device-writable one', () => {
    const { mem, driver, queue } = setup();
    driver.addChain([{ len: 4, writable: true }, { len: 4 }]);
    expect(queue.pop(mem)).toBeUndefined();
    expect(queue.metrics.badChains).toBe(1);
  });

  it('cannot be handed back a head index outside the ring', () => {
    const { mem, driver, queue } = setup();
    driver.publish(100);
    expect(queue.pop(mem)).toBeUndefined();
    expect(queue.metrics.badChains).toBe(1);
    expect(driver.usedIndex).toBe(0);
  });

  it('ignores an available index that runs more than a queue ahead', () => {
    const { mem, driver, queue } = setup();
    driver.setAvailIndex(9);
    expect(queue.pop(mem)).toBeUndefined();
    expect(queue.metrics.badAvailIndex).toBe(1);
    expect(driver.usedIndex).toBe(0);
  });

  it('reports misplaced rings and bad sizes as problems', () => {
    const { mem, queue } = setup();
    expect(queue.problem(mem)).toBeUndefined();
    queue.size = 6;
    expect(queue.problem(mem)).toMatch(/power of two/);
    queue.size = 16;
    expect(queue.problem(mem)).toMatch(/power of two up to 8/);
    queue.size = 8;
    queue.descTable = 0x1008;
    expect(queue.problem(mem)).toMatch(/descriptor table/);
    queue.descTable = 0x1000;
    queue.availRing = 0x3_fff0;
    expect(queue.problem(mem)).toMatch(/driver area/);
    queue.availRing = 0x1081;
    expect(queue.problem(mem)).toMatch(/driver area/);
    queue.availRing = 0x1080;
    queue.usedRing = 0x10a2;
    expect(queue.problem(mem)).toMatch(/device area/);
  });

  it('honours VRING_AVAIL_F_NO_INTERRUPT without EVENT_IDX', () => {
    const { mem, driver, queue } = setup();
    expect(queue.needsNotification(mem)).toBe(false);
    queue.addUsed(mem, 0, 0);
    expect(queue.needsNotification(mem)).toBe(true);
    driver.setAvailFlags(1);
    queue.addUsed(mem, 0, 0);
    expect(queue.needsNotification(mem)).toBe(false);
    expect(queue.metrics.suppressedNotifications).toBe(1);
  });

  it('notifies with EVENT_IDX only when the used index passes used_event', () => {
    const { mem, driver, queue } = setup({ eventIdx: true });
    driver.setAvailFlags(1); // ignored with EVENT_IDX
    driver.setUsedEvent(2);
    queue.addUsed(mem, 0, 0); // used 1
    expect(queue.needsNotification(mem)).toBe(false);
    queue.addUsed(mem, 0, 0); // used 2
    expect(queue.needsNotification(mem)).toBe(false);
    queue.addUsed(mem, 0, 0); // used 3: entry 2 was added
    expect(queue.needsNotification(mem)).toBe(true);
  });

  it('asks for the next kick through avail_event with EVENT_IDX', () => {
    const { mem, driver, queue } = setup({ eventIdx: true });
    driver.addChain([{ len: 1, writable: true }]);
    driver.addChain([{ len: 1, writable: true }]);
    queue.pop(mem);
    queue.pop(mem);
    expect(queue.pop(mem)).toBeUndefined();
    expect(driver.availEvent).toBe(2);
  });

  // The two store-then-load steps of notification suppression need a full barrier between them
  // (see @workervisor/base's fence.ts for the litmus test showing x86 reorders them in V8): a
  // missing one lost a kick or an interrupt and hung a Linux guest's dd on virtio-blk in CI.
  it('fences between writing avail_event and reading the available index again', () => {
    const { mem, driver, queue } = setup({ eventIdx: true });
    const log = recordAccesses(mem);
    expect(queue.pop(mem)).toBeUndefined();
    const write = log.indexOf(`w16 ${driver.addresses.usedRing + 4 + 8 * 8}`);
    const fence = log.indexOf('fence', write);
    expect(write, log.join(', ')).toBeGreaterThanOrEqual(0);
    expect(fence, log.join(', ')).toBeGreaterThan(write);
    expect(log.indexOf(`r16 ${driver.addresses.availRing + 2}`, fence), log.join(', ')).toBeGreaterThan(fence);
  });

  it('fences between publishing the used index and reading used_event or the flags', () => {
    for (const eventIdx of [true, false]) {
      const { mem, driver, queue } = setup({ eventIdx });
      const log = recordAccesses(mem);
      queue.addUsed(mem, 0, 0);
      queue.needsNotification(mem);
      const write = log.indexOf(`w16 ${driver.addresses.usedRing + 2}`);
      const fence = log.indexOf('fence', write);
      const read = eventIdx ? `r16 ${driver.addresses.availRing + 4 + 2 * 8}` : `r16 ${driver.addresses.availRing}`;
      expect(fence, log.join(', ')).toBeGreaterThan(write);
      expect(log.indexOf(read, fence), log.join(', ')).toBeGreaterThan(fence);
    }
  });

  it('resets to its power-on state', () => {
    const { mem, driver, queue } = setup({ eventIdx: true });
    driver.addChain([{ len: 1, writable: true }]);
    queue.pop(mem);
    queue.reset();
    expect(queue.save()).toEqual({ size: 8, ready: false, descTable: 0, availRing: 0, usedRing: 0, nextAvail: 0, nextUsed: 0 });
    expect(queue.eventIdx).toBe(false);
  });

  it('rejects a maximum size that is not a power of two', () => {
    expect(() => new Queue(12)).toThrow(RangeError);
    expect(() => new Queue(65536)).toThrow(RangeError);
  });
});

describe('scatter-gather helpers', () => {
  const segments = [
    { addr: 0x100, len: 4 },
    { addr: 0x200, len: 2 },
    { addr: 0x300, len: 8 },
  ];

  it('walks a byte range across segment boundaries', () => {
    const pieces: Array<[number, number, number]> = [];
    const n = forEachSegment(segments, 3, 5, (gpa, len, pos) => pieces.push([gpa, len, pos]));
    expect(n).toBe(5);
    expect(pieces).toEqual([
      [0x103, 1, 0],
      [0x200, 2, 1],
      [0x300, 2, 3],
    ]);
  });

  it('copies in and out and stops at the end of the segments', () => {
    const mem = new FakeGuestMemory(0x1000);
    expect(writeSegments(mem, segments, 2, Uint8Array.of(1, 2, 3, 4, 5))).toBe(5);
    expect([...mem.dump(0x102, 2), ...mem.dump(0x200, 2), ...mem.dump(0x300, 1)]).toEqual([1, 2, 3, 4, 5]);
    const dst = new Uint8Array(20);
    expect(readSegments(mem, segments, 0, dst)).toBe(14);
  });
});
