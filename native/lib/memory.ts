// Guest RAM allocation: one anonymous mmap exposed as a SharedArrayBuffer every worker can see.
import { binding } from './binding.js';
import { wrap } from './errors.js';
import type { ByteRange } from './types.js';

/** mmaps `size` bytes (page multiple, MAP_NORESERVE) and returns them as a SharedArrayBuffer. */
export function allocateGuestRam(size: number, hugepages = false): SharedArrayBuffer {
  return wrap('memory', `mmap of ${size} bytes of guest RAM`, () => binding().allocateGuestRam(size, hugepages));
}

/**
 * Gives guest RAM back to the host now (its pages are freed; the buffer stays readable as zeros
 * until V8 collects it). Only once nothing can run the guest: after the VM fd is closed.
 * Returns false when it was already released.
 */
export function releaseGuestRam(mem: SharedArrayBuffer): boolean {
  return wrap('memory', 'releasing guest RAM', () => binding().releaseGuestRam(mem));
}

/**
 * The ranges of guest RAM that hold data (SEEK_DATA/SEEK_HOLE on its memfd), in order; bytes outside
 * them were never touched and read as zeros. Undefined when the RAM has no memfd (mapGuestRamFile).
 */
export function guestRamDataRanges(mem: SharedArrayBuffer): ByteRange[] | undefined {
  return wrap('memory', 'finding the data ranges of guest RAM', () => binding().guestRamDataRanges(mem) ?? undefined);
}

/**
 * Guest RAM as a private, copy-on-write mapping of a snapshot's memory file (exactly `size`
 * bytes): guest writes stay in this process, unchanged pages are shared with every other mapping
 * of the file. `prefault` reads the whole file in now (MAP_POPULATE).
 */
export function mapGuestRamFile(path: string, size: number, prefault = false): SharedArrayBuffer {
  return wrap('memory', `mapping ${path} as guest RAM`, () => binding().mapGuestRamFile(path, size, prefault));
}

export function pageSize(): number {
  return binding().pageSize();
}

/** Stops every vCPU of the process: what 'exit' handlers call so no thread stays in KVM_RUN. */
export function stopAllVcpus(): void {
  binding().stopAllVcpus();
}
