// Reads a running VMM's guest RAM from outside the process: guest RAM is a memfd named
// "workervisor-guest-ram" (native/src/memory.cc), visible at /proc/<pid>/fd/<n>. Offsets equal
// guest-physical addresses below the 32-bit MMIO gap.
import { closeSync, openSync, readdirSync, readlinkSync, readSync, statSync } from 'node:fs';

function guestRamFd(pid: number): string | undefined {
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('/memfd:workervisor-guest-ram')) return `/proc/${pid}/fd/${fd}`;
    } catch {
      // fds come and go while we look
    }
  }
  return undefined;
}

/** The u32 at guest-physical `gpa` (< 3 GiB) of the VMM process `pid`, or undefined if it has no guest RAM. */
export function readGuestU32(pid: number, gpa: number): number | undefined {
  const path = guestRamFd(pid);
  if (path === undefined) return undefined;
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4);
    readSync(fd, buf, 0, 4, gpa);
    return buf.readUInt32LE(0);
  } finally {
    closeSync(fd);
  }
}

/**
 * Bytes of guest RAM the VMM process `pid` has in memory now: the memfd's allocated blocks
 * (st_blocks, 512-byte units), which drop when the balloon punches holes. Undefined without guest RAM.
 */
export function guestRamAllocatedBytes(pid: number): number | undefined {
  const path = guestRamFd(pid);
  return path === undefined ? undefined : statSync(path).blocks * 512;
}
