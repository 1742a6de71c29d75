// bzImage loader for the Linux/x86 boot protocol 2.12+ with the 64-bit entry: parses the setup
// header, loads the protected-mode kernel and checks init_size. Spec: Documentation/arch/x86/boot.rst
// ("The real-mode kernel header", "Details of header fields", "64-bit boot protocol").
import { type GuestMemory } from '@workervisor/devices';
import { le } from '@workervisor/base';
import { HIGH_MEMORY_START } from '../arch/x86_64/layout.js';
import { lowRamEnd } from '../arch/x86_64/memory-map.js';
import { LoaderError, hex } from './errors.js';

/** Offsets of setup header fields in the image file and in struct boot_params (boot.rst). */
export const SETUP_HEADER = {
  START: 0x1f1,
  SETUP_SECTS: 0x1f1,
  SYSSIZE: 0x1f4,
  BOOT_FLAG: 0x1fe,
  JUMP: 0x200,
  HEADER: 0x202,
  VERSION: 0x206,
  TYPE_OF_LOADER: 0x210,
  LOADFLAGS: 0x211,
  CODE32_START: 0x214,
  RAMDISK_IMAGE: 0x218,
  RAMDISK_SIZE: 0x21c,
  CMD_LINE_PTR: 0x228,
  INITRD_ADDR_MAX: 0x22c,
  KERNEL_ALIGNMENT: 0x230,
  RELOCATABLE_KERNEL: 0x234,
  MIN_ALIGNMENT: 0x235,
  XLOADFLAGS: 0x236,
  CMDLINE_SIZE: 0x238,
  PAYLOAD_OFFSET: 0x248,
  PAYLOAD_LENGTH: 0x24c,
  PREF_ADDRESS: 0x258,
  INIT_SIZE: 0x260,
  /** First byte after handover_offset: the 2.12 header ends here. */
  END_V2_12: 0x268,
  /** boot_params.edd_mbr_sig_buffer starts here; the header copy never reaches it. */
  LIMIT: 0x290,
} as const;

/** boot_flag value: the legacy boot-sector signature. */
export const BOOT_FLAG_MAGIC = 0xaa55;
/** "HdrS" read as a little-endian u32. */
export const HDRS_MAGIC = 0x5372_6448;
/** Protocol 2.12: first with xloadflags (XLF_KERNEL_64). */
export const MIN_BOOT_PROTOCOL = 0x020c;
/** loadflags LOADED_HIGH: protected-mode code loads at 0x100000 (a bzImage, not a zImage). */
export const LOADED_HIGH = 1 << 0;
/** xloadflags XLF_KERNEL_64: the kernel has the legacy 64-bit entry at load address + 0x200. */
export const XLF_KERNEL_64 = 1 << 0;
/** Offset of the 64-bit entry from the protected-mode load address (boot.rst "64-bit boot protocol"). */
export const ENTRY_64_OFFSET = 0x200;
const SECTOR_SIZE = 512;
/** syssize unit, bytes. */
const PARAGRAPH = 16;
/** "If this field is 0, the real value is 4" (setup_sects). */
const DEFAULT_SETUP_SECTS = 4;

/** The setup header fields this loader uses. Addresses and sizes in bytes. */
export interface SetupHeaderFields {
  readonly setupSects: number;
  /** Boot protocol version, e.g. 0x020f for 2.15. */
  readonly version: number;
  readonly loadflags: number;
  readonly xloadflags: number;
  readonly code32Start: number;
  /** Highest address the initrd may occupy (inclusive). */
  readonly initrdAddrMax: number;
  readonly kernelAlignment: number;
  readonly relocatable: boolean;
  /** Longest command line the kernel accepts, without the terminating NUL. */
  readonly cmdlineSize: number;
  readonly payloadOffset: number;
  readonly payloadLength: number;
  readonly prefAddress: number;
  /** Bytes of linear memory the kernel needs from its runtime start before it reads the memory map. */
  readonly initSize: number;
}

/** A validated bzImage (nothing loaded yet). */
export interface BzImage {
  readonly fields: SetupHeaderFields;
  /** Copy of the image's bytes [0x1f1, end of header): goes into boot_params at the same offset. */
  readonly setupHeader: Uint8Array;
  /** File offset of the protected-mode kernel: (setup_sects + 1) * 512. */
  readonly kernelOffset: number;
  /** Bytes of protected-mode kernel (the rest of the file). */
  readonly kernelSize: number;
}

/** Where a bzImage landed. Addresses in bytes (guest-physical). */
export interface BzImageLoadResult extends BzImage {
  /** Where the protected-mode kernel was copied. */
  readonly loadAddress: number;
  /** The 64-bit entry: loadAddress + 0x200. */
  readonly entry: number;
  /** Where the kernel decompresses and runs (boot.rst init_size algorithm). */
  readonly runtimeStart: number;
  /** max(load end, runtimeStart + init_size): nothing else may be placed below this. */
  readonly kernelEnd: number;
}

/** True when bytes carry the boot-sector flag and the "HdrS" magic. */
export function isBzImage(bytes: Uint8Array): boolean {
  return (
    bytes.length >= SETUP_HEADER.VERSION &&
    le.u16(bytes, SETUP_HEADER.BOOT_FLAG) === BOOT_FLAG_MAGIC &&
    le.u32(bytes, SETUP_HEADER.HEADER) === HDRS_MAGIC
  );
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && Number.isSafeInteger(n) && (n & (n - 1)) === 0;
}

/**
 * Parses and validates a bzImage's setup header. Throws LoaderError: 'truncated',
 * 'invalid-bzimage' (no 0xAA55 / "HdrS"), 'unsupported-protocol' (< 2.12, not LOADED_HIGH, no
 * XLF_KERNEL_64).
 */
export function parseBzImage(bytes: Uint8Array): BzImage {
  if (bytes.length < SETUP_HEADER.VERSION + 2) {
    throw new LoaderError('truncated', `${bytes.length}-byte file ends before the setup header version at 0x206`);
  }
  const bootFlag = le.u16(bytes, SETUP_HEADER.BOOT_FLAG);
  if (bootFlag !== BOOT_FLAG_MAGIC) throw new LoaderError('invalid-bzimage', `boot_flag ${hex(bootFlag)} is not 0xaa55`);
  if (le.u32(bytes, SETUP_HEADER.HEADER) !== HDRS_MAGIC) throw new LoaderError('invalid-bzimage', 'no "HdrS" magic at 0x202');
  const version = le.u16(bytes, SETUP_HEADER.VERSION);
  if (version < MIN_BOOT_PROTOCOL) {
    throw new LoaderError(
      'unsupported-protocol',
      `boot protocol ${version >> 8}.${(version & 0xff).toString().padStart(2, '0')} is older than 2.12 (no 64-bit entry flag)`,
    );
  }
  // "The end of setup header can be calculated as follows: 0x0202 + byte value at offset 0x0201".
  const headerEnd = Math.min(SETUP_HEADER.HEADER + (bytes[SETUP_HEADER.JUMP + 1] ?? 0), SETUP_HEADER.LIMIT);
  if (headerEnd < SETUP_HEADER.END_V2_12) {
    throw new LoaderError('invalid-bzimage', `setup header ends at ${hex(headerEnd)}, before the 2.12 fields end at 0x268`);
  }
  if (bytes.length < headerEnd) {
    throw new LoaderError('truncated', `${bytes.length}-byte file ends before the setup header end at ${hex(headerEnd)}`);
  }
  const setupSects = bytes[SETUP_HEADER.SETUP_SECTS] || DEFAULT_SETUP_SECTS;
  const fields: SetupHeaderFields = {
    setupSects,
    version,
    loadflags: bytes[SETUP_HEADER.LOADFLAGS] ?? 0,
    xloadflags: le.u16(bytes, SETUP_HEADER.XLOADFLAGS),
    code32Start: le.u32(bytes, SETUP_HEADER.CODE32_START),
    initrdAddrMax: le.u32(bytes, SETUP_HEADER.INITRD_ADDR_MAX),
    kernelAlignment: le.u32(bytes, SETUP_HEADER.KERNEL_ALIGNMENT),
    relocatable: (bytes[SETUP_HEADER.RELOCATABLE_KERNEL] ?? 0) !== 0,
    cmdlineSize: le.u32(bytes, SETUP_HEADER.CMDLINE_SIZE),
    payloadOffset: le.u32(bytes, SETUP_HEADER.PAYLOAD_OFFSET),
    payloadLength: le.u32(bytes, SETUP_HEADER.PAYLOAD_LENGTH),
    prefAddress: Number(le.readU64(bytes, SETUP_HEADER.PREF_ADDRESS)),
    initSize: le.u32(bytes, SETUP_HEADER.INIT_SIZE),
  };
  if ((fields.loadflags & LOADED_HIGH) === 0) {
    throw new LoaderError('unsupported-protocol', 'loadflags LOADED_HIGH is clear: a zImage, not a bzImage');
  }
  if ((fields.xloadflags & XLF_KERNEL_64) === 0) {
    throw new LoaderError('unsupported-protocol', 'xloadflags XLF_KERNEL_64 is clear: the kernel has no 64-bit entry');
  }
  if (fields.relocatable && !isPowerOfTwo(fields.kernelAlignment)) {
    throw new LoaderError('invalid-bzimage', `kernel_alignment ${hex(fields.kernelAlignment)} is not a power of two`);
  }
  if (!fields.relocatable && fields.code32Start < HIGH_MEMORY_START) {
    throw new LoaderError('invalid-bzimage', `code32_start ${hex(fields.code32Start)} of a non-relocatable kernel is below 1 MiB`);
  }
  const kernelOffset = (setupSects + 1) * SECTOR_SIZE;
  // syssize counts 16-byte paragraphs of protected-mode code, rounded up (arch/x86/boot/tools/build.c),
  // so the file may be up to 15 bytes short of syssize * 16; any shorter lost part of the kernel.
  const sysBytes = le.u32(bytes, SETUP_HEADER.SYSSIZE) * PARAGRAPH;
  if (bytes.length <= kernelOffset || bytes.length < kernelOffset + sysBytes - (PARAGRAPH - 1)) {
    throw new LoaderError(
      'truncated',
      `${bytes.length}-byte file is shorter than its setup (${hex(kernelOffset)}) plus syssize (${hex(sysBytes)}) bytes`,
    );
  }
  if (fields.payloadOffset + fields.payloadLength > bytes.length - kernelOffset) {
    throw new LoaderError('truncated', `compressed payload at ${hex(fields.payloadOffset)}+${hex(fields.payloadLength)} runs past the file`);
  }
  return { fields, setupHeader: bytes.slice(SETUP_HEADER.START, headerEnd), kernelOffset, kernelSize: bytes.length - kernelOffset };
}

function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

/**
 * Where to copy the protected-mode kernel and where it will run. A relocatable kernel goes to
 * pref_address ("a relocating bootloader should attempt to load at this address") when that is
 * above 1 MiB and aligned, else to 1 MiB rounded up to kernel_alignment; a fixed kernel goes to
 * code32_start (its default load address, 1 MiB for Linux), as linux-loader does, and moves itself
 * to pref_address. runtime_start follows boot.rst's init_size
 * algorithm: relocatable -> align_up(max(load, pref_address), kernel_alignment), else pref_address.
 */
export function bzImageLoadAddress(fields: SetupHeaderFields): { loadAddress: number; runtimeStart: number } {
  if (fields.relocatable) {
    const align = fields.kernelAlignment;
    const pref = fields.prefAddress;
    const loadAddress = pref >= HIGH_MEMORY_START && pref % align === 0 ? pref : alignUp(HIGH_MEMORY_START, align);
    return { loadAddress, runtimeStart: alignUp(Math.max(loadAddress, pref), align) };
  }
  return { loadAddress: fields.code32Start, runtimeStart: fields.prefAddress || fields.code32Start };
}

/**
 * Parses a bzImage, copies its protected-mode kernel into guest RAM (see bzImageLoadAddress) and
 * checks that [runtime start, + init_size) fits in RAM below the MMIO gap. The returned setupHeader
 * has code32_start set to the load address. Throws LoaderError, 'kernel-too-large' when RAM is short.
 */
export function loadBzImage(mem: GuestMemory, bytes: Uint8Array): BzImageLoadResult {
  const image = parseBzImage(bytes);
  const { loadAddress, runtimeStart } = bzImageLoadAddress(image.fields);
  const kernelEnd = Math.max(loadAddress + image.kernelSize, runtimeStart + image.fields.initSize);
  const ramEnd = lowRamEnd(mem.size);
  if (kernelEnd > ramEnd || !mem.checkRange(loadAddress, image.kernelSize)) {
    throw new LoaderError(
      'kernel-too-large',
      `kernel needs guest RAM up to ${hex(kernelEnd)} (load at ${hex(loadAddress)}, init_size ${hex(image.fields.initSize)} ` +
        `from ${hex(runtimeStart)}) but RAM below the MMIO gap ends at ${hex(ramEnd)}`,
    );
  }
  mem.write(loadAddress, bytes.subarray(image.kernelOffset));
  const setupHeader = image.setupHeader.slice();
  le.putU32(setupHeader, SETUP_HEADER.CODE32_START - SETUP_HEADER.START, loadAddress);
  return { ...image, setupHeader, loadAddress, entry: loadAddress + ENTRY_64_OFFSET, runtimeStart, kernelEnd };
}
