import { describe, expect, it } from 'vitest';
import { FakeGuestMemory, GuestMemoryError } from './fake-guest-memory.js';

describe('FakeGuestMemory', () => {
  it('reads back little-endian integers of every width', () => {
    const mem = new FakeGuestMemory(0x1000);
    mem.writeU8(0x10, 0xab);
    mem.writeU16(0x11, 0x1234);
    mem.writeU32(0x13, 0xdeadbeef);
    mem.writeU64(0x17, 0x0102030405060708n);
    expect(mem.readU8(0x10)).toBe(0xab);
    expect(mem.readU16(0x11)).toBe(0x1234);
    expect(mem.readU32(0x13)).toBe(0xdeadbeef);
    expect(mem.readU64(0x17)).toBe(0x0102030405060708n);
    expect([...mem.dump(0x11, 2)]).toEqual([0x34, 0x12]);
  });

  it('returns live views from slice()', () => {
    const mem = new FakeGuestMemory(0x100);
    const view = mem.slice(0x20, 4);
    view[1] = 7;
    expect(mem.readU8(0x21)).toBe(7);
    mem.writeU8(0x22, 9);
    expect(view[2]).toBe(9);
  });

  it('copies with read() and write()', () => {
    const mem = new FakeGuestMemory(0x100);
    mem.write(0xf0, Uint8Array.of(1, 2, 3));
    const dst = new Uint8Array(3);
    mem.read(0xf0, dst);
    expect([...dst]).toEqual([1, 2, 3]);
    mem.load(0x10, 'hi');
    expect([...mem.dump(0x10, 2)]).toEqual([0x68, 0x69]);
  });

  it('throws GuestMemoryError out-of-range for any access crossing the end of RAM', () => {
    const mem = new FakeGuestMemory(0x100);
    expect(() => mem.readU32(0xfd)).toThrow(GuestMemoryError);
    expect(() => mem.writeU64(0xf9, 0n)).toThrow(GuestMemoryError);
    expect(() => mem.slice(0x100, 1)).toThrow(GuestMemoryError);
    expect(() => mem.write(0xff, Uint8Array.of(1, 2))).toThrow(GuestMemoryError);
    try {
      mem.readU8(0x1000);
    } catch (err) {
      expect((err as GuestMemoryError).code).toBe('ERR_VMM_GUEST_MEMORY_OUT_OF_RANGE');
      expect((err as GuestMemoryError).kind).toBe('out-of-range');
      expect((err as GuestMemoryError).details).toEqual({ gpa: 0x1000, len: 1 });
    }
    expect(mem.readU32(0xfc)).toBe(0);
  });

  it('rejects negative, fractional and unsafe addresses and lengths', () => {
    const mem = new FakeGuestMemory(0x100);
    expect(mem.checkRange(-1, 1)).toBe(false);
    expect(mem.checkRange(0.5, 1)).toBe(false);
    expect(mem.checkRange(0, -1)).toBe(false);
    expect(mem.checkRange(Number.MAX_SAFE_INTEGER, 2)).toBe(false);
    expect(() => mem.slice(Number.NaN, 1)).toThrow(GuestMemoryError);
  });

  it('does not let a range span the hole between two regions', () => {
    const mem = new FakeGuestMemory([
      { gpa: 0x1_0000_0000, size: 0x1000 },
      { gpa: 0, size: 0x1000 },
    ]);
    expect(mem.size).toBe(0x2000);
    expect(mem.checkRange(0xff0, 0x10)).toBe(true);
    expect(mem.checkRange(0xff0, 0x20)).toBe(false);
    expect(mem.checkRange(0x1000, 1)).toBe(false);
    expect(mem.checkRange(0x1_0000_0ffc, 4)).toBe(true);
    mem.writeU32(0x1_0000_0000, 5);
    expect(mem.readU32(0x1_0000_0000)).toBe(5);
    expect(mem.readU32(0)).toBe(0);
  });

  it('accepts an empty range at the end of a region', () => {
    const mem = new FakeGuestMemory(0x100);
    expect(mem.checkRange(0x100, 0)).toBe(true);
    expect(mem.slice(0x100, 0).length).toBe(0);
  });

  it('can back RAM with a SharedArrayBuffer', () => {
    const mem = new FakeGuestMemory(0x100, { shared: true });
    expect(mem.slice(0, 1).buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('refuses overlapping or empty region layouts', () => {
    expect(() => new FakeGuestMemory([{ gpa: 0, size: 0x1000 }, { gpa: 0x800, size: 0x1000 }])).toThrow(RangeError);
    expect(() => new FakeGuestMemory(0)).toThrow(RangeError);
    expect(() => new FakeGuestMemory([])).toThrow(RangeError);
  });
});
