// The guest's physical memory map, shared by the e820 table (zero page) and the PVH memmap so both
// boot paths describe the same machine. Layout: layout.ts; e820 types: ACPI 6.5 section 15.
import { EBDA_START, HIGH_MEMORY_START, HIGH_RAM_START, MMIO_GAP_START } from './layout.js';
import { X86Error, checkAddress } from './errors.js';

/** E820 / hvm_memmap_table_entry type: usable RAM. */
export const E820_RAM = 1;
/** E820 type: reserved (EBDA, legacy ROM window with the ACPI RSDP). */
export const E820_RESERVED = 2;

/** One memory-map range. addr and size in bytes (guest-physical). */
export interface MemoryMapEntry {
  readonly addr: number;
  readonly size: number;
  readonly type: number;
}

/**
 * End (exclusive, bytes) of the RAM below the 32-bit MMIO gap for a guest of ramSize bytes:
 * RAM fills [0, MMIO_GAP_START) first and the rest goes above 4 GiB (DESIGN.md "Guest memory").
 */
export function lowRamEnd(ramSize: number): number {
  checkAddress('RAM size', ramSize);
  return Math.min(ramSize, MMIO_GAP_START);
}

/**
 * The memory map for ramSize bytes of RAM, as Firecracker builds it plus the reserved legacy window
 * layout.ts promises: RAM [0, EBDA_START), reserved [EBDA_START, 1 MiB), RAM [1 MiB, low end),
 * and RAM [4 GiB, 4 GiB + rest) when RAM exceeds the gap. Sorted by address.
 */
export function guestMemoryMap(ramSize: number): MemoryMapEntry[] {
  const low = lowRamEnd(ramSize);
  if (low <= HIGH_MEMORY_START) {
    throw new X86Error('memory-too-small', `guest RAM of ${ramSize} bytes does not reach past 1 MiB`);
  }
  const map: MemoryMapEntry[] = [
    { addr: 0, size: EBDA_START, type: E820_RAM },
    { addr: EBDA_START, size: HIGH_MEMORY_START - EBDA_START, type: E820_RESERVED },
    { addr: HIGH_MEMORY_START, size: low - HIGH_MEMORY_START, type: E820_RAM },
  ];
  if (ramSize > MMIO_GAP_START) {
    map.push({ addr: HIGH_RAM_START, size: ramSize - MMIO_GAP_START, type: E820_RAM });
  }
  return map;
}
