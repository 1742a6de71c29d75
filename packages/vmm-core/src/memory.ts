// Guest RAM: one SharedArrayBuffer (mmap'ed by the addon) split into guest-physical regions around
// the 32-bit MMIO gap. Every access is bounds-checked against the regions (DESIGN.md "Guest memory").
import type { GuestMemory } from '@workervisor/devices';
import { VmmError } from '@workervisor/devices';
import { allocateGuestRam, pageSize, releaseGuestRam } from '@workervisor/native';
import { HIGH_RAM_START, MMIO_GAP_START } from './arch/x86_64/layout.js';

export class GuestMemoryError extends VmmError<'out-of-range' | 'invalid-size'> {
  constructor(kind: 'out-of-range' | 'invalid-size', message: string) {
    super('GUEST_MEMORY', kind, message);
  }
}

/** One contiguous piece of guest RAM: [gpa, gpa+size) is bytes [offset, offset+size) of the buffer. */
export interface MemoryRegion {
  readonly gpa: number;
  readonly offset: number;
  readonly size: number;
}

/** The x86_64 split: RAM below the MMIO gap first, the rest from 4 GiB. */
export function x86Regions(size: number): MemoryRegion[] {
  const low = Math.min(size, MMIO_GAP_START);
  const regions: MemoryRegion[] = [{ gpa: 0, offset: 0, size: low }];
  if (size > low) regions.push({ gpa: HIGH_RAM_START, offset: low, size: size - low });
  return regions;
}

export class GuestMemoryMmap implements GuestMemory {
  readonly size: number;
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(
    /** The SharedArrayBuffer KVM maps; post it to workers to share guest RAM. */
    readonly buffer: SharedArrayBuffer,
    readonly regions: readonly MemoryRegion[],
  ) {
    this.size = regions.reduce((n, r) => n + r.size, 0);
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
  }

  /** Allocates `size` bytes (a page multiple) laid out for x86_64. */
  static allocate(size: number): GuestMemoryMmap {
    const page = pageSize();
    if (!Number.isSafeInteger(size) || size <= 0 || size % page !== 0) {
      throw new GuestMemoryError('invalid-size', `guest memory size ${size} is not a positive multiple of ${page} bytes`);
    }
    return new GuestMemoryMmap(allocateGuestRam(size), x86Regions(size));
  }

  /**
   * Frees the RAM's pages now rather than when V8 collects the buffer (reboots and failed boots
   * would otherwise pile up memfds). Reads afterwards see zeros. Only after the VM fd is closed.
   */
  release(): void {
    releaseGuestRam(this.buffer);
  }

  /** Buffer offset of [gpa, gpa+len), or -1 when it is not inside one region. */
  private offsetOf(gpa: number, len: number): number {
    if (!Number.isSafeInteger(gpa) || !Number.isSafeInteger(len) || gpa < 0 || len < 0) return -1;
    for (const r of this.regions) {
      if (gpa >= r.gpa && gpa + len <= r.gpa + r.size) return r.offset + (gpa - r.gpa);
    }
    return -1;
  }

  private at(gpa: number, len: number): number {
    const off = this.offsetOf(gpa, len);
    if (off < 0) throw new GuestMemoryError('out-of-range', `guest address 0x${gpa.toString(16)}+0x${len.toString(16)} is outside guest RAM`);
    return off;
  }

  checkRange(gpa: number, len: number): boolean {
    return this.offsetOf(gpa, len) >= 0;
  }

  slice(gpa: number, len: number): Uint8Array {
    const off = this.at(gpa, len);
    return this.bytes.subarray(off, off + len);
  }

  read(gpa: number, dst: Uint8Array): void {
    const off = this.at(gpa, dst.length);
    dst.set(this.bytes.subarray(off, off + dst.length));
  }

  write(gpa: number, src: Uint8Array): void {
    this.bytes.set(src, this.at(gpa, src.length));
  }

  readU8(gpa: number): number {
    return this.view.getUint8(this.at(gpa, 1));
  }
  readU16(gpa: number): number {
    return this.view.getUint16(this.at(gpa, 2), true);
  }
  readU32(gpa: number): number {
    return this.view.getUint32(this.at(gpa, 4), true);
  }
  readU64(gpa: number): bigint {
    return this.view.getBigUint64(this.at(gpa, 8), true);
  }
  writeU8(gpa: number, v: number): void {
    this.view.setUint8(this.at(gpa, 1), v);
  }
  writeU16(gpa: number, v: number): void {
    this.view.setUint16(this.at(gpa, 2), v, true);
  }
  writeU32(gpa: number, v: number): void {
    this.view.setUint32(this.at(gpa, 4), v, true);
  }
  writeU64(gpa: number, v: bigint): void {
    this.view.setBigUint64(this.at(gpa, 8), v, true);
  }
}
