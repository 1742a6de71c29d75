import { describe, expect, it } from 'vitest';
import type { BusDevice } from './bus-device.js';
import { Bus, BusError } from './bus.js';

/** Records every access it sees; reads fill each byte with `fill`. */
class RecordingDevice implements BusDevice {
  readonly accesses: Array<{ op: 'read' | 'write'; offset: number; bytes: number[] }> = [];
  constructor(private readonly fill = 0xab) {}
  read(offset: number, data: Uint8Array): void {
    data.fill(this.fill);
    this.accesses.push({ op: 'read', offset, bytes: [...data] });
  }
  write(offset: number, data: Uint8Array): void {
    this.accesses.push({ op: 'write', offset, bytes: [...data] });
  }
}

describe('Bus', () => {
  it('hands a device the offset from its base, not the bus address', () => {
    const bus = new Bus('pio');
    const dev = new RecordingDevice();
    bus.insert(dev, 0x3f8, 8, 'com1');
    expect(bus.write(0x3fb, Uint8Array.of(0x80))).toBe(true);
    const data = new Uint8Array(1);
    expect(bus.read(0x3f8, data)).toBe(true);
    expect(data[0]).toBe(0xab);
    expect(dev.accesses).toEqual([
      { op: 'write', offset: 3, bytes: [0x80] },
      { op: 'read', offset: 0, bytes: [0xab] },
    ]);
  });

  it('claims the first and last byte of a range and neither neighbour', () => {
    const bus = new Bus('mmio');
    const dev = new RecordingDevice();
    bus.insert(dev, 0x1000, 0x100, 'dev');
    expect(bus.read(0x1000, new Uint8Array(1))).toBe(true);
    expect(bus.read(0x10ff, new Uint8Array(1))).toBe(true);
    expect(bus.read(0x0fff, new Uint8Array(1))).toBe(false);
    expect(bus.read(0x1100, new Uint8Array(1))).toBe(false);
    expect(dev.accesses.map((a) => a.offset)).toEqual([0, 0xff]);
  });

  it('takes a wide access that ends on the last byte and refuses one that crosses the end', () => {
    const bus = new Bus('mmio');
    const dev = new RecordingDevice();
    bus.insert(dev, 0x1000, 8, 'dev');
    expect(bus.read(0x1004, new Uint8Array(4))).toBe(true);
    const across = new Uint8Array(4).fill(0x55);
    expect(bus.read(0x1006, across)).toBe(false);
    expect([...across]).toEqual([0, 0, 0, 0]);
    expect(bus.write(0x1006, new Uint8Array(4))).toBe(false);
    expect(dev.accesses).toHaveLength(1);
    expect(bus.metrics).toEqual({ missedReads: 1, missedWrites: 1 });
  });

  it('zero-fills and counts a read of unmapped space, and counts an unmapped write', () => {
    const bus = new Bus('pio');
    const data = Uint8Array.of(1, 2);
    expect(bus.read(0x70, data)).toBe(false);
    expect([...data]).toEqual([0, 0]);
    expect(bus.write(0x70, Uint8Array.of(9))).toBe(false);
    expect(bus.write(0x71, Uint8Array.of(9))).toBe(false);
    expect(bus.metrics).toEqual({ missedReads: 1, missedWrites: 2 });
  });

  it.each([
    ['starts inside it', 0x1004, 8],
    ['ends inside it', 0x0ffc, 8],
    ['contains it', 0x0f00, 0x200],
    ['lies inside it', 0x1002, 2],
    ['is the same range', 0x1000, 8],
  ])('refuses a range that %s', (_what, base, len) => {
    const bus = new Bus('mmio');
    bus.insert(new RecordingDevice(), 0x1000, 8, 'first');
    const insert = (): void => bus.insert(new RecordingDevice(), base, len, 'second');
    expect(insert).toThrow(BusError);
    expect(insert).toThrow(expect.objectContaining({ code: 'ERR_VMM_BUS_OVERLAP', kind: 'overlap' }));
    expect(insert).toThrow(/second .* overlaps first at 0x1000\+0x8/);
    expect(bus.ranges()).toEqual([{ base: 0x1000, len: 8, name: 'first' }]);
  });

  it('accepts ranges that touch end to start', () => {
    const bus = new Bus('pio');
    const low = new RecordingDevice(1);
    const high = new RecordingDevice(2);
    bus.insert(high, 0x68, 8, 'high');
    bus.insert(low, 0x60, 8, 'low');
    const a = new Uint8Array(1);
    const b = new Uint8Array(1);
    bus.read(0x67, a);
    bus.read(0x68, b);
    expect([a[0], b[0]]).toEqual([1, 2]);
    expect(bus.ranges().map((r) => r.name)).toEqual(['low', 'high']);
  });

  it.each([
    ['an empty range', 0x10, 0],
    ['a negative base', -1, 4],
    ['a fractional base', 0.5, 4],
    ['an unsafe length', 0, 2 ** 60],
  ])('refuses %s as invalid', (_what, base, len) => {
    expect(() => new Bus('pio').insert(new RecordingDevice(), base, len, 'bad')).toThrow(expect.objectContaining({ code: 'ERR_VMM_BUS_INVALID_RANGE' }));
  });

  it('finds the right device among many (binary search over sorted ranges)', () => {
    const bus = new Bus('mmio');
    const devs = Array.from({ length: 16 }, (_, i) => new RecordingDevice(i));
    // Inserted out of order: the bus keeps them sorted.
    for (const i of [7, 3, 15, 0, 11, 1, 9, 5, 13, 2, 14, 6, 10, 4, 12, 8]) bus.insert(devs[i]!, 0xd000_0000 + i * 0x1000, 0x1000, `slot${i}`);
    for (let i = 0; i < 16; i++) {
      const data = new Uint8Array(4);
      expect(bus.read(0xd000_0000 + i * 0x1000 + 0x70, data)).toBe(true);
      expect(data[0]).toBe(i);
    }
    expect(devs.every((d) => d.accesses.length === 1 && d.accesses[0]!.offset === 0x70)).toBe(true);
  });

  it('forgets a removed device and reports whether one was mapped', () => {
    const bus = new Bus('pio');
    bus.insert(new RecordingDevice(), 0x80, 1, 'debug-port');
    expect(bus.remove(0x81)).toBe(false);
    expect(bus.remove(0x80)).toBe(true);
    expect(bus.write(0x80, Uint8Array.of(1))).toBe(false);
    // The range is free again.
    bus.insert(new RecordingDevice(), 0x80, 1, 'again');
    expect(bus.ranges()).toEqual([{ base: 0x80, len: 1, name: 'again' }]);
  });
});
