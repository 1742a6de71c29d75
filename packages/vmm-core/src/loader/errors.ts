// Errors of the kernel, initramfs and command-line loaders (one class, one kind per failure).
import { VmmError } from '@workervisor/base';

/** Every way loading a kernel, an initramfs or a command line can fail. */
export type LoaderErrorKind =
  /** Neither an ELF file nor a bzImage. */
  | 'unknown-format'
  /** The file ends before a header, table or segment it describes. */
  | 'truncated'
  /** ELF identification or header fields that are not ELF64 / little-endian / x86_64 / executable. */
  | 'invalid-elf'
  /** A malformed note in a PT_NOTE segment, or a PVH entry note that is not a 32-bit address. */
  | 'invalid-note'
  /** The PVH protocol was requested but the ELF has no XEN_ELFNOTE_PHYS32_ENTRY note. */
  | 'no-pvh-entry'
  /** A PT_LOAD segment outside guest RAM, below 1 MiB or with p_filesz > p_memsz. */
  | 'segment-out-of-range'
  /** The entry point is not inside a loaded segment. */
  | 'invalid-entry'
  /** No 0xAA55 boot flag or no "HdrS" magic: not a bzImage. */
  | 'invalid-bzimage'
  /** A bzImage this loader cannot boot: protocol < 2.12, not loaded high, or no 64-bit entry. */
  | 'unsupported-protocol'
  /** The kernel (with its init_size) does not fit in RAM below the MMIO gap. */
  | 'kernel-too-large'
  /** The initramfs does not fit between the kernel's end and its highest allowed address. */
  | 'initramfs-too-large'
  /** A zero-byte initramfs. */
  | 'initramfs-empty'
  /** The command line is longer than the kernel (or CMDLINE_MAX_SIZE) accepts. */
  | 'cmdline-too-long'
  /** A command-line key or value the kernel cannot parse (NUL, spaces in keys, ...). */
  | 'cmdline-invalid';

/** `new LoaderError('truncated', ...)` has code `ERR_VMM_LOADER_TRUNCATED`. */
export class LoaderError extends VmmError<LoaderErrorKind> {
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
