// Initramfs placement: page-aligned, as high as the kernel allows, below the MMIO gap and above the
// kernel, as Firecracker does. Spec: boot.rst ("ramdisk_image", "initrd_addr_max"); PVH hvm_modlist_entry.
import type { GuestMemory } from '@workervisor/devices';
import { lowRamEnd } from '../arch/x86_64/memory-map.js';
import { LoaderError, hex } from './errors.js';

export const PAGE_SIZE = 0x1000;

/** Where an initramfs lies in guest memory. Bytes, guest-physical. */
export interface InitramfsPlacement {
  readonly addr: number;
  readonly size: number;
}

/** Limits from the loaded kernel (LoadedKernel carries both). */
export interface InitramfsLimits {
  /** First byte past the kernel; the initramfs must start at or above it. */
  readonly kernelEnd: number;
  /** Highest address the initramfs may occupy, inclusive (setup header initrd_addr_max). */
  readonly initrdAddrMax: number;
}

/**
 * The highest page-aligned address for size bytes that ends at or below
 * min(initrdAddrMax + 1, RAM end below the MMIO gap) and starts at or above kernelEnd.
 * Throws LoaderError 'initramfs-empty' or 'initramfs-too-large'.
 */
export function initramfsAddress(ramSize: number, size: number, limits: InitramfsLimits): number {
  if (size === 0) throw new LoaderError('initramfs-empty', 'initramfs is empty (0 bytes)');
  const top = Math.min(limits.initrdAddrMax + 1, lowRamEnd(ramSize));
  const addr = Math.floor((top - size) / PAGE_SIZE) * PAGE_SIZE;
  const floor = Math.ceil(limits.kernelEnd / PAGE_SIZE) * PAGE_SIZE;
  if (addr < floor) {
    throw new LoaderError(
      'initramfs-too-large',
      `initramfs of ${size} bytes does not fit between the kernel end ${hex(floor)} and ${hex(top)} ` +
        `(${Math.max(0, top - floor)} bytes free)`,
      { details: { size, free: Math.max(0, top - floor) } },
    );
  }
  return addr;
}

/** Places bytes with initramfsAddress and copies them into guest memory. */
export function loadInitramfs(mem: GuestMemory, bytes: Uint8Array, limits: InitramfsLimits): InitramfsPlacement {
  const addr = initramfsAddress(mem.size, bytes.length, limits);
  mem.write(addr, bytes);
  return { addr, size: bytes.length };
}
