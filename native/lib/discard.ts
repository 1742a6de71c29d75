// Frees ranges of guest RAM while the VM runs (native/src/discard.cc: madvise(MADV_REMOVE) on the
// memfd mapping, a hole punched in the memfd): what the virtio-balloon does with inflated pages.
import { binding } from './binding.js';
import { wrap } from './errors.js';

/**
 * Gives bytes [offset, offset+length) of a guest RAM buffer from allocateGuestRam back to the host;
 * they read as zeros afterwards. Both must be multiples of pageSize() and the range inside the
 * buffer (a TypeError otherwise). Returns false when the buffer's RAM was already released.
 * A failed madvise throws KvmError('memory').
 */
export function discardGuestRam(mem: SharedArrayBuffer, offset: number, length: number): boolean {
  return wrap('memory', `discarding ${length} bytes of guest RAM at offset 0x${offset.toString(16)}`, () => binding().discardGuestRam(mem, offset, length));
}
