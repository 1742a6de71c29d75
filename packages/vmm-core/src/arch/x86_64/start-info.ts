// PVH boot information: struct hvm_start_info (version 1), its module list and memory map.
// Spec: Xen xen/include/public/arch-x86/hvm/start_info.h; docs/misc/pvh.pandoc.
import { type GuestMemory } from '@workervisor/devices';
import { le } from '@workervisor/base';
import { PVH_INFO_START, PVH_MEMMAP_START, PVH_MODLIST_START } from './layout.js';
import { X86Error, checkAddress } from './errors.js';
import type { MemoryMapEntry } from './memory-map.js';

/** XEN_HVM_START_MAGIC_VALUE. */
export const HVM_START_MAGIC = 0x336e_c578;
/** Version 1 adds memmap_paddr / memmap_entries. */
export const HVM_START_VERSION = 1;

/** Byte offsets inside struct hvm_start_info (56 bytes). */
export const START_INFO = {
  MAGIC: 0, // u32
  VERSION: 4, // u32
  FLAGS: 8, // u32
  NR_MODULES: 12, // u32
  MODLIST_PADDR: 16, // u64
  CMDLINE_PADDR: 24, // u64
  RSDP_PADDR: 32, // u64
  MEMMAP_PADDR: 40, // u64
  MEMMAP_ENTRIES: 48, // u32
  SIZE: 56,
} as const;

/** sizeof(struct hvm_modlist_entry): u64 paddr, size, cmdline_paddr, reserved. */
export const MODLIST_ENTRY_SIZE = 32;
/** sizeof(struct hvm_memmap_table_entry): u64 addr, u64 size, u32 type, u32 reserved. */
export const MEMMAP_ENTRY_SIZE = 24;
/** The memmap may fill the page at PVH_MEMMAP_START. */
export const MEMMAP_MAX_ENTRIES = Math.floor(0x1000 / MEMMAP_ENTRY_SIZE);

/** What goes into hvm_start_info. Addresses and sizes in bytes (guest-physical). */
export interface StartInfoConfig {
  /** Address of the NUL-terminated command line. */
  readonly cmdlineAddr: number;
  /** The initramfs, passed as the single module. */
  readonly initramfs?: { readonly addr: number; readonly size: number };
  /** Address of the ACPI RSDP; absent = 0 ("the guest finds it itself"). */
  readonly rsdpAddr?: number;
  readonly memoryMap: readonly MemoryMapEntry[];
}

/** The three structures and where each goes. */
export interface StartInfoBlobs {
  readonly info: Uint8Array;
  readonly modlist: Uint8Array | undefined;
  readonly memmap: Uint8Array;
}

/** Builds hvm_start_info for PVH_INFO_START, the module list for PVH_MODLIST_START and the memmap for PVH_MEMMAP_START. */
export function buildStartInfo(config: StartInfoConfig): StartInfoBlobs {
  const { cmdlineAddr, initramfs, rsdpAddr, memoryMap } = config;
  checkAddress('command line address', cmdlineAddr);
  if (memoryMap.length > MEMMAP_MAX_ENTRIES) {
    throw new X86Error('memory-map-too-large', `${memoryMap.length} memory ranges exceed the PVH memmap's ${MEMMAP_MAX_ENTRIES} entries`);
  }
  const info = new Uint8Array(START_INFO.SIZE);
  le.putU32(info, START_INFO.MAGIC, HVM_START_MAGIC);
  le.putU32(info, START_INFO.VERSION, HVM_START_VERSION);
  le.writeU64(info, START_INFO.CMDLINE_PADDR, BigInt(cmdlineAddr));
  if (rsdpAddr !== undefined) {
    checkAddress('RSDP address', rsdpAddr);
    le.writeU64(info, START_INFO.RSDP_PADDR, BigInt(rsdpAddr));
  }
  le.writeU64(info, START_INFO.MEMMAP_PADDR, BigInt(PVH_MEMMAP_START));
  le.putU32(info, START_INFO.MEMMAP_ENTRIES, memoryMap.length);

  let modlist: Uint8Array | undefined;
  if (initramfs !== undefined) {
    checkAddress('initramfs address', initramfs.addr);
    checkAddress('initramfs size', initramfs.size);
    modlist = new Uint8Array(MODLIST_ENTRY_SIZE);
    le.writeU64(modlist, 0, BigInt(initramfs.addr));
    le.writeU64(modlist, 8, BigInt(initramfs.size));
    le.putU32(info, START_INFO.NR_MODULES, 1);
    le.writeU64(info, START_INFO.MODLIST_PADDR, BigInt(PVH_MODLIST_START));
  }

  const memmap = new Uint8Array(memoryMap.length * MEMMAP_ENTRY_SIZE);
  memoryMap.forEach((e, i) => {
    checkAddress(`memmap entry ${i} address`, e.addr);
    checkAddress(`memmap entry ${i} size`, e.size);
    const off = i * MEMMAP_ENTRY_SIZE;
    le.writeU64(memmap, off, BigInt(e.addr));
    le.writeU64(memmap, off + 8, BigInt(e.size));
    le.putU32(memmap, off + 16, e.type);
  });
  return { info, modlist, memmap };
}

/** Writes the PVH structures; returns PVH_INFO_START (for rbx). */
export function writeStartInfo(mem: GuestMemory, config: StartInfoConfig): number {
  const { info, modlist, memmap } = buildStartInfo(config);
  if (!mem.checkRange(PVH_INFO_START, PVH_MEMMAP_START + 0x1000 - PVH_INFO_START)) {
    throw new X86Error('memory-too-small', 'PVH start info area is outside guest RAM');
  }
  mem.write(PVH_INFO_START, info);
  if (modlist !== undefined) mem.write(PVH_MODLIST_START, modlist);
  mem.write(PVH_MEMMAP_START, memmap);
  return PVH_INFO_START;
}
