// Errors of the kernel, initramfs and command-line loaders (one class, one kind per failure).
import { VmmError } from '@workervisor/base';
import type { ErrorKind } from '@workervisor/base';

/**
 * LoaderError kinds (ERROR_CODES.LOADER in @workervisor/base):
 * - `unknown-format`: Neither an ELF file nor a bzImage.
 * - `truncated`: The file ends before a header, table or segment it describes.
 * - `invalid-elf`: ELF identification or header fields that are not ELF64 / little-endian / x86_64 / executable.
 * - `invalid-note`: A malformed note in a PT_NOTE segment, or a PVH entry note that is not a 32-bit address.
 * - `no-pvh-entry`: The PVH protocol was requested but the ELF has no XEN_ELFNOTE_PHYS32_ENTRY note.
 * - `segment-out-of-range`: A PT_LOAD segment outside guest RAM, below 1 MiB or with p_filesz > p_memsz.
 * - `invalid-entry`: The entry point is not inside a loaded segment.
 * - `invalid-bzimage`: No 0xAA55 boot flag or no "HdrS" magic: not a bzImage.
 * - `unsupported-protocol`: A bzImage this loader cannot boot: protocol < 2.12, not loaded high, or no 64-bit entry.
 * - `kernel-too-large`: The kernel (with its init_size) does not fit in RAM below the MMIO gap.
 * - `initramfs-too-large`: The initramfs does not fit between the kernel's end and its highest allowed address.
 * - `initramfs-empty`: A zero-byte initramfs.
 * - `cmdline-too-long`: The command line is longer than the kernel (or CMDLINE_MAX_SIZE) accepts.
 * - `cmdline-invalid`: A command-line key or value the kernel cannot parse (NUL, spaces in keys, ...).
 */
export type LoaderErrorKind = ErrorKind<'LOADER'>;

/** `new LoaderError('truncated', ...)` has code `ERR_VMM_LOADER_TRUNCATED`. */
export class LoaderError extends VmmError<'LOADER'> {
  constructor(
    kind: LoaderErrorKind,
    message: string,
    options?: { cause?: unknown; details?: Record<string, string | number | boolean> },
  ) {
    super('LOADER', kind, message, options);
  }
}

/** `0x1f1` style hex for messages. */
export function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}
