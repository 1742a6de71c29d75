// The counter test guest (e2e/guests/src/counter.c) as the snapshot tests read it: where its
// counters sit in guest RAM, the COUNT lines it prints with print-every=PRINT_EVERY, and the
// u32s of a snapshot's memory file (offset = guest-physical address below the MMIO gap).
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';

/** The BSP's counter. */
export const COUNTER_ADDR = 0x20_0004;
/** AP k's counter (counter guest with cpus=N): COUNTER_AP_BASE + 4*k. */
export const apCounterAddr = (k: number): number => 0x20_0010 + 4 * k;
/** The print-every= the snapshot tests boot the counter guest with. */
export const PRINT_EVERY = 20_000_000;
/** One COUNT line (`COUNT n[ ap1=a ...]`). */
export const COUNT_LINE = /COUNT (\d+)[^\n]*\n/;

/** The first multiple of PRINT_EVERY above `n`: the guest's next COUNT line after a counter of n. */
export const nextMultiple = (n: number): number => (Math.floor(n / PRINT_EVERY) + 1) * PRINT_EVERY;

/** The u32 at guest-physical `gpa` of the snapshot in `dir` (its memory.bin). */
export function memoryFileU32(dir: string, gpa: number): number {
  const fd = openSync(join(dir, 'memory.bin'), 'r');
  try {
    const buf = Buffer.alloc(4);
    readSync(fd, buf, 0, 4, gpa);
    return buf.readUInt32LE(0);
  } finally {
    closeSync(fd);
  }
}

/** The BSP counter a snapshot in `dir` saved. */
export const savedCounter = (dir: string): number => memoryFileU32(dir, COUNTER_ADDR);
