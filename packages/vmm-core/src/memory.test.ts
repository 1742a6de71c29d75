import { describe, expect, it } from 'vitest';
import { GuestMemoryMmap, x86Regions } from './memory.js';

const GIB = 1024 * 1024 * 1024;

describe('GuestMemoryMmap', () => {
  it('splits RAM around the 32-bit MMIO gap', () => {
    expect(x86Regions(64 << 20)).toEqual([{ gpa: 0, offset: 0, size: 64 << 20 }]);
    expect(x86Regions(5 * GIB)).toEqual([
      { gpa: 0, offset: 0, size: 3 * GIB },
      { gpa: 4 * GIB, offset: 3 * GIB, size: 2 * GIB },
    ]);
  });

  it('refuses every access that is not entirely inside one RAM region', () => {
    const mem = GuestMemoryMmap.allocate(5 * GIB);
    try {
      expect(() => mem.readU32(3 * GIB)).toThrow(/outside guest RAM/); // the MMIO gap
      expect(() => mem.readU32(3 * GIB - 2)).toThrow(/outside guest RAM/); // straddles into the gap
      expect(() => mem.readU8(6 * GIB)).toThrow(/outside guest RAM/); // past the end
      expect(() => mem.readU8(-1)).toThrow(/outside guest RAM/);
      expect(() => mem.readU8(0.5)).toThrow(/outside guest RAM/);
      expect(mem.checkRange(4 * GIB, 2 * GIB)).toBe(true);
      expect(mem.checkRange(4 * GIB, 2 * GIB + 1)).toBe(false);
    } finally {
      mem.release();
    }
  });

  it('reads and writes guest RAM above 4 GiB, including across its internal 1 GiB windows', () => {
    const mem = GuestMemoryMmap.allocate(5 * GIB);
    try {
      mem.writeU64(4 * GIB + 8, 0x1122_3344_5566_7788n);
      expect(mem.readU64(4 * GIB + 8)).toBe(0x1122_3344_5566_7788n);
      // gpa 5 GiB - 2 is buffer offset 4 GiB - 2: a u32 there straddles two windows.
      mem.writeU32(5 * GIB - 2, 0xdead_beef);
      expect(mem.readU32(5 * GIB - 2)).toBe(0xdead_beef);
      expect(Array.from(mem.slice(5 * GIB - 2, 4))).toEqual([0xef, 0xbe, 0xad, 0xde]);
      const out = new Uint8Array(4);
      mem.read(GIB - 2, out);
      mem.write(GIB - 2, Uint8Array.of(1, 2, 3, 4));
      mem.read(GIB - 2, out);
      expect(Array.from(out)).toEqual([1, 2, 3, 4]);
    } finally {
      mem.release();
    }
  });

  it('discards by guest-physical address: the high region maps past the gap, partial pages stay, outside RAM throws', () => {
    const mem = GuestMemoryMmap.allocate(3 * GIB + 16 * 4096);
    try {
      mem.write(4 * GIB, new Uint8Array(4 * 4096).fill(7));
      mem.discard(4 * GIB + 100, 2 * 4096);
      // Page 0 is partly covered (kept), page 1 fully (zeroed), page 2 partly (kept).
      expect(mem.readU8(4 * GIB)).toBe(7);
      expect(mem.readU8(4 * GIB + 4096)).toBe(0);
      expect(mem.readU8(4 * GIB + 2 * 4096 + 50)).toBe(7);
      mem.write(0x1000, new Uint8Array(4096).fill(9));
      mem.discard(0x1000, 4096);
      expect(mem.readU8(0x1000)).toBe(0);
      expect(() => mem.discard(3 * GIB, 4096)).toThrow(/outside guest RAM/);
      expect(() => mem.discard(3 * GIB - 4096, 8192)).toThrow(/outside guest RAM/);
    } finally {
      mem.release();
    }
  });
});
