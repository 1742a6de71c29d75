// discardGuestRam really frees the pages: the memfd behind guest RAM (found in /proc/self/fd by
// its unique size) has fewer allocated blocks afterwards. Needs the built addon, not /dev/kvm.
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { discardGuestRam } from './discard.js';
import { allocateGuestRam, pageSize, releaseGuestRam } from './memory.js';

const MIB = 1024 * 1024;

/** Bytes the memfd of `size` bytes has allocated (st_blocks is in 512-byte units whatever the fs). */
function memfdAllocatedBytes(size: number): number {
  const matches: number[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the directory's own fd, gone by now
    }
    if (!target.startsWith('/memfd:workervisor-guest-ram')) continue;
    const st = statSync(`/proc/self/fd/${fd}`);
    if (st.size === size) matches.push(st.blocks * 512);
  }
  if (matches.length !== 1) throw new Error(`expected one guest RAM memfd of ${size} bytes, found ${matches.length}`);
  return matches[0]!;
}

describe('discardGuestRam', () => {
  it('frees the pages of the range: the memfd shrinks by that much and the range reads zeros', () => {
    // A size no other allocation in this file has, so its memfd can be told apart.
    const size = 8 * MIB + 3 * pageSize();
    const ram = allocateGuestRam(size);
    const bytes = new Uint8Array(ram);
    bytes.fill(0xa5);
    const before = memfdAllocatedBytes(size);
    expect(before).toBeGreaterThanOrEqual(size);

    expect(discardGuestRam(ram, 2 * MIB, 4 * MIB)).toBe(true);
    const after = memfdAllocatedBytes(size);
    expect(before - after).toBe(4 * MIB);
    expect(bytes[2 * MIB]).toBe(0);
    expect(bytes[6 * MIB - 1]).toBe(0);
    // Outside the range nothing changed.
    expect(bytes[2 * MIB - 1]).toBe(0xa5);
    expect(bytes[6 * MIB]).toBe(0xa5);
    // Touching a discarded page again gives a fresh page, not a fault. A shmem hole gets a page on
    // a read fault too (no shared zero page), so the two reads above count with this write.
    bytes[3 * MIB] = 7;
    expect(bytes[3 * MIB]).toBe(7);
    expect(memfdAllocatedBytes(size)).toBe(after + 3 * pageSize());
    releaseGuestRam(ram);
  });

  it('refuses a range that is not page-aligned or leaves the buffer, without touching memory', () => {
    const ram = allocateGuestRam(4 * pageSize());
    const bytes = new Uint8Array(ram);
    bytes.fill(1);
    expect(() => discardGuestRam(ram, 1, pageSize())).toThrow(TypeError);
    expect(() => discardGuestRam(ram, 0, pageSize() + 1)).toThrow(TypeError);
    expect(() => discardGuestRam(ram, 4 * pageSize(), pageSize())).toThrow(new TypeError('the range must lie inside the buffer'));
    expect(() => discardGuestRam(ram, 2 * pageSize(), 2 ** 52)).toThrow(TypeError);
    expect(bytes.every((b) => b === 1)).toBe(true);
  });

  it('does nothing for a buffer it did not allocate or one already released', () => {
    expect(discardGuestRam(new SharedArrayBuffer(4 * pageSize()), 0, pageSize())).toBe(false);
    const ram = allocateGuestRam(pageSize());
    releaseGuestRam(ram);
    expect(discardGuestRam(ram, 0, pageSize())).toBe(false);
  });
});
