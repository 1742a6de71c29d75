// The zero page (struct boot_params) for the Linux 64-bit entry: setup header, command line,
// ramdisk, RSDP and e820 map. Spec: Documentation/arch/x86/zero-page.rst and boot.rst;
// arch/x86/include/uapi/asm/bootparam.h.
import { type GuestMemory } from '@workervisor/devices';
import { le } from '@workervisor/base';
import { ZERO_PAGE_START } from './layout.js';
import { X86Error, checkAddress } from './errors.js';
import type { MemoryMapEntry } from './memory-map.js';

/** sizeof(struct boot_params), bytes. */
export const BOOT_PARAMS_SIZE = 0x1000;

/** Byte offsets inside struct boot_params (zero-page.rst). */
export const BOOT_PARAMS = {
  ACPI_RSDP_ADDR: 0x070, // u64
  EXT_RAMDISK_IMAGE: 0x0c0, // u32: high 32 bits of ramdisk_image
  EXT_RAMDISK_SIZE: 0x0c4, // u32
  EXT_CMD_LINE_PTR: 0x0c8, // u32
  E820_ENTRIES: 0x1e8, // u8
  SENTINEL: 0x1ef, // u8: must stay 0 or the kernel zeroes "uninitialized" fields
  HDR: 0x1f1, // struct setup_header
  SETUP_SECTS: 0x1f1,
  BOOT_FLAG: 0x1fe, // u16
  HEADER: 0x202, // u32 "HdrS"
  VERSION: 0x206, // u16
  TYPE_OF_LOADER: 0x210, // u8
  RAMDISK_IMAGE: 0x218, // u32
  RAMDISK_SIZE: 0x21c, // u32
  CMD_LINE_PTR: 0x228, // u32
  KERNEL_ALIGNMENT: 0x230, // u32
  CMDLINE_SIZE: 0x238, // u32
  /** End of the setup_header area: edd_mbr_sig_buffer begins here. */
  HDR_LIMIT: 0x290,
  E820_TABLE: 0x2d0, // struct boot_e820_entry[128]
} as const;

/** E820_MAX_ENTRIES_ZEROPAGE. */
export const E820_MAX_ENTRIES = 128;
/** sizeof(struct boot_e820_entry): u64 addr, u64 size, u32 type (packed). */
export const E820_ENTRY_SIZE = 20;
/** type_of_loader 0xff: "undefined" boot loader, as Firecracker and Cloud Hypervisor report. */
export const LOADER_TYPE_UNDEFINED = 0xff;
const BOOT_FLAG_MAGIC = 0xaa55;
const HDRS_MAGIC = 0x5372_6448;
/** Protocol version claimed by a synthesized header (2.15, as current kernels). */
export const SYNTHESIZED_PROTOCOL_VERSION = 0x020f;
/** kernel_alignment of a synthesized header: 16 MiB, Firecracker's KERNEL_MIN_ALIGNMENT_BYTES. */
export const SYNTHESIZED_KERNEL_ALIGNMENT = 0x100_0000;
const U32_MAX = 0xffff_ffff;

/** What goes into the zero page. Addresses and sizes in bytes (guest-physical). */
export interface BootParamsConfig {
  /** A bzImage's setup header bytes (from 0x1f1); absent for an ELF entered at e_entry. */
  readonly setupHeader?: Uint8Array;
  /** Command line address and length without the NUL. */
  readonly cmdline: { readonly addr: number; readonly length: number };
  readonly initramfs?: { readonly addr: number; readonly size: number };
  /** Address of the ACPI RSDP (acpi_rsdp_addr, protocol 2.14+); absent = the kernel scans for it. */
  readonly rsdpAddr?: number;
  /** The guest memory map (guestMemoryMap). */
  readonly memoryMap: readonly MemoryMapEntry[];
}

/** Low and high 32 bits of a guest-physical address (ext_* fields carry the high half). */
function split32(addr: number): [number, number] {
  return [addr % 0x1_0000_0000, Math.floor(addr / 0x1_0000_0000)];
}

/**
 * Builds struct boot_params. With a setupHeader, it is copied in as is (so the kernel's read-only
 * fields, like cmdline_size, keep the kernel's values); without one, a minimal header is
 * synthesized like Firecracker's (boot_flag, "HdrS", version, kernel_alignment, cmdline_size).
 * Then type_of_loader, cmd_line_ptr, ramdisk_* (+ ext_*), acpi_rsdp_addr and the e820 table are set.
 */
export function buildBootParams(config: BootParamsConfig): Uint8Array {
  const zp = new Uint8Array(BOOT_PARAMS_SIZE);
  const { setupHeader, cmdline, initramfs, rsdpAddr, memoryMap } = config;
  if (setupHeader !== undefined) {
    if (setupHeader.length === 0 || BOOT_PARAMS.HDR + setupHeader.length > BOOT_PARAMS.HDR_LIMIT) {
      throw new X86Error('invalid-state', `setup header of ${setupHeader.length} bytes does not fit 0x1f1..0x290`);
    }
    zp.set(setupHeader, BOOT_PARAMS.HDR);
  } else {
    le.putU16(zp, BOOT_PARAMS.BOOT_FLAG, BOOT_FLAG_MAGIC);
    le.putU32(zp, BOOT_PARAMS.HEADER, HDRS_MAGIC);
    le.putU16(zp, BOOT_PARAMS.VERSION, SYNTHESIZED_PROTOCOL_VERSION);
    le.putU32(zp, BOOT_PARAMS.KERNEL_ALIGNMENT, SYNTHESIZED_KERNEL_ALIGNMENT);
    le.putU32(zp, BOOT_PARAMS.CMDLINE_SIZE, cmdline.length);
  }
  zp[BOOT_PARAMS.TYPE_OF_LOADER] = LOADER_TYPE_UNDEFINED;

  checkAddress('command line address', cmdline.addr, U32_MAX);
  checkAddress('command line length', cmdline.length, U32_MAX);
  le.putU32(zp, BOOT_PARAMS.CMD_LINE_PTR, cmdline.addr);

  if (initramfs !== undefined) {
    checkAddress('initramfs address', initramfs.addr);
    checkAddress('initramfs size', initramfs.size);
    const [imageLo, imageHi] = split32(initramfs.addr);
    const [sizeLo, sizeHi] = split32(initramfs.size);
    le.putU32(zp, BOOT_PARAMS.RAMDISK_IMAGE, imageLo);
    le.putU32(zp, BOOT_PARAMS.RAMDISK_SIZE, sizeLo);
    le.putU32(zp, BOOT_PARAMS.EXT_RAMDISK_IMAGE, imageHi);
    le.putU32(zp, BOOT_PARAMS.EXT_RAMDISK_SIZE, sizeHi);
  }
  if (rsdpAddr !== undefined) {
    checkAddress('RSDP address', rsdpAddr);
    le.writeU64(zp, BOOT_PARAMS.ACPI_RSDP_ADDR, BigInt(rsdpAddr));
  }

  if (memoryMap.length > E820_MAX_ENTRIES) {
    throw new X86Error('memory-map-too-large', `${memoryMap.length} memory ranges exceed the zero page's ${E820_MAX_ENTRIES} e820 entries`);
  }
  zp[BOOT_PARAMS.E820_ENTRIES] = memoryMap.length;
  memoryMap.forEach((e, i) => {
    checkAddress(`e820 entry ${i} address`, e.addr);
    checkAddress(`e820 entry ${i} size`, e.size);
    const off = BOOT_PARAMS.E820_TABLE + i * E820_ENTRY_SIZE;
    le.writeU64(zp, off, BigInt(e.addr));
    le.writeU64(zp, off + 8, BigInt(e.size));
    le.putU32(zp, off + 16, e.type);
  });
  return zp;
}

/** Builds the zero page and writes it at ZERO_PAGE_START; returns that address (for rsi). */
export function writeBootParams(mem: GuestMemory, config: BootParamsConfig): number {
  const zp = buildBootParams(config);
  if (!mem.checkRange(ZERO_PAGE_START, zp.length)) {
    throw new X86Error('memory-too-small', `zero page at 0x${ZERO_PAGE_START.toString(16)} is outside guest RAM`);
  }
  mem.write(ZERO_PAGE_START, zp);
  return ZERO_PAGE_START;
}
