import { describe, expect, it } from 'vitest';
import { E820_RAM, E820_RESERVED, guestMemoryMap, lowRamEnd } from './memory-map.js';
import { errorKindOf } from '../../loader/test-support.js';

const MiB = 0x10_0000;
const GiB = 0x4000_0000;

describe('guestMemoryMap', () => {
  it('maps RAM below the EBDA, reserves the legacy window and maps RAM from 1 MiB to the end', () => {
    expect(guestMemoryMap(256 * MiB)).toEqual([
      { addr: 0, size: 0x9_fc00, type: E820_RAM },
      { addr: 0x9_fc00, size: MiB - 0x9_fc00, type: E820_RESERVED },
      { addr: MiB, size: 255 * MiB, type: E820_RAM },
    ]);
  });

  it('stops low RAM at the MMIO gap and puts the rest above 4 GiB', () => {
    const map = guestMemoryMap(8 * GiB);
    expect(map.at(-2)).toEqual({ addr: MiB, size: 0xc000_0000 - MiB, type: E820_RAM });
    expect(map.at(-1)).toEqual({ addr: 4 * GiB, size: 8 * GiB - 0xc000_0000, type: E820_RAM });
    expect(lowRamEnd(8 * GiB)).toBe(0xc000_0000);
  });

  it('has no high range when RAM exactly fills the space below the gap', () => {
    expect(guestMemoryMap(0xc000_0000)).toHaveLength(3);
  });

  it('fails with memory-too-small for RAM that does not pass 1 MiB', () => {
    expect(errorKindOf(() => guestMemoryMap(MiB))).toBe('X86Error:memory-too-small');
    expect(errorKindOf(() => guestMemoryMap(-1))).toBe('X86Error:invalid-address');
  });
});
