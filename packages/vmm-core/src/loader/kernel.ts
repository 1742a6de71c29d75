// Kernel loading entry point: detects ELF vs bzImage from the bytes and picks the boot protocol
// (PVH when the ELF has the Xen PHYS32_ENTRY note, else the Linux 64-bit entry). DESIGN.md "x86_64 platform".
import type { GuestMemory } from '@workervisor/devices';
import { CMDLINE_MAX_SIZE, MMIO_GAP_START } from '../arch/x86_64/layout.js';
import { isBzImage, loadBzImage } from './bzimage.js';
import { isElf, isInSegments, loadElf } from './elf.js';
import { LoaderError, hex } from './errors.js';

/** Which entry protocol to use: 'auto' prefers PVH for an ELF that has the note. */
export type BootProtocolChoice = 'auto' | 'pvh' | 'linux64';

export interface LoadKernelOptions {
  /** 'pvh' fails with 'no-pvh-entry' when the ELF has no note; 'linux64' ignores the note. Default 'auto'. */
  readonly protocol?: BootProtocolChoice;
}

interface LoadedKernelCommon {
  /** Guest-physical entry point (bytes). */
  readonly entry: number;
  /** First byte past the kernel (including bzImage init_size): an initramfs goes above it. */
  readonly kernelEnd: number;
  /** Longest command line the kernel accepts, without the NUL (also capped by CMDLINE_MAX_SIZE - 1). */
  readonly cmdlineMaxLength: number;
  /** Highest address an initramfs may occupy (inclusive). */
  readonly initrdAddrMax: number;
}

/** An ELF entered through PVH: 32-bit protected mode, rbx = hvm_start_info (start-info.ts). */
export interface PvhKernel extends LoadedKernelCommon {
  readonly kind: 'pvh';
}

/** An ELF entered at e_entry in 64-bit mode, rsi = zero page with a synthesized setup header. */
export interface Elf64Kernel extends LoadedKernelCommon {
  readonly kind: 'elf64';
}

/** A bzImage entered at load address + 0x200 in 64-bit mode, rsi = zero page with its setup header. */
export interface BzImageKernel extends LoadedKernelCommon {
  readonly kind: 'bzimage';
  /** The image's setup header (boot_params offset 0x1f1 on), code32_start set to loadAddress. */
  readonly setupHeader: Uint8Array;
  readonly loadAddress: number;
  /** Boot protocol version of the image, e.g. 0x020f. */
  readonly protocolVersion: number;
}

export type LoadedKernel = PvhKernel | Elf64Kernel | BzImageKernel;

/** The zero page's cmdline_size is a u32 but our command-line area is CMDLINE_MAX_SIZE bytes with its NUL. */
const AREA_CMDLINE_MAX_LENGTH = CMDLINE_MAX_SIZE - 1;
/** Without a setup header (ELF), an initramfs may sit anywhere in RAM below the MMIO gap. */
const ELF_INITRD_ADDR_MAX = MMIO_GAP_START - 1;

/** What format bytes hold, from their magic numbers. */
export function detectKernelFormat(bytes: Uint8Array): 'elf' | 'bzimage' | 'unknown' {
  if (isElf(bytes)) return 'elf';
  if (isBzImage(bytes)) return 'bzimage';
  return 'unknown';
}

/**
 * Loads an ELF vmlinux / test guest or a bzImage into guest memory and says how to enter it.
 * Throws LoaderError: 'unknown-format' for anything else, plus the kinds of loadElf / loadBzImage,
 * 'no-pvh-entry' when PVH is required but absent, 'invalid-entry' when the entry is not in a segment.
 */
export function loadKernel(mem: GuestMemory, bytes: Uint8Array, options: LoadKernelOptions = {}): LoadedKernel {
  const protocol = options.protocol ?? 'auto';
  const format = detectKernelFormat(bytes);
  if (format === 'bzimage') {
    if (protocol === 'pvh') throw new LoaderError('no-pvh-entry', 'a bzImage has no PVH entry; boot its vmlinux instead');
    const bz = loadBzImage(mem, bytes);
    return {
      kind: 'bzimage',
      entry: bz.entry,
      kernelEnd: bz.kernelEnd,
      cmdlineMaxLength: Math.min(bz.fields.cmdlineSize, AREA_CMDLINE_MAX_LENGTH),
      initrdAddrMax: bz.fields.initrdAddrMax,
      setupHeader: bz.setupHeader,
      loadAddress: bz.loadAddress,
      protocolVersion: bz.fields.version,
    };
  }
  if (format === 'unknown') {
    throw new LoaderError('unknown-format', 'kernel image is neither an ELF file nor a bzImage (no ELF magic, no "HdrS")');
  }
  const elf = loadElf(mem, bytes);
  const common = { kernelEnd: elf.kernelEnd, cmdlineMaxLength: AREA_CMDLINE_MAX_LENGTH, initrdAddrMax: ELF_INITRD_ADDR_MAX };
  const usePvh = protocol === 'pvh' || (protocol === 'auto' && elf.pvhEntry !== undefined);
  if (usePvh) {
    if (elf.pvhEntry === undefined) {
      throw new LoaderError('no-pvh-entry', 'ELF has no XEN_ELFNOTE_PHYS32_ENTRY (18) note in a PT_NOTE segment');
    }
    if (!isInSegments(elf, elf.pvhEntry)) {
      throw new LoaderError('invalid-entry', `PVH entry ${hex(elf.pvhEntry)} is not inside a PT_LOAD segment`);
    }
    return { kind: 'pvh', entry: elf.pvhEntry, ...common };
  }
  if (!isInSegments(elf, elf.entry)) {
    throw new LoaderError('invalid-entry', `ELF entry ${hex(elf.entry)} is not inside a PT_LOAD segment`);
  }
  return { kind: 'elf64', entry: elf.entry, ...common };
}
