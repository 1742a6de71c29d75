// Guest RAM allocation: one anonymous mmap exposed as a SharedArrayBuffer every worker can see.
import { binding } from './binding.js';
import { wrap } from './errors.js';

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

export function pageSize(): number {
  return binding().pageSize();
}

/** Stops every vCPU of the process: what 'exit' handlers call so no thread stays in KVM_RUN. */
export function stopAllVcpus(): void {
  binding().stopAllVcpus();
}
