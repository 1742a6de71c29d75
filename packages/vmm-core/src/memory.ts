// Guest RAM: one SharedArrayBuffer (mmap'ed by the addon) split into guest-physical regions around
// the 32-bit MMIO gap. Every access is bounds-checked against the regions (DESIGN.md "Guest memory").
import type { GuestMemory, MemoryDiscard } from '@workervisor/devices';
import { memoryFence, VmmError } from '@workervisor/base';
import { allocateGuestRam, discardGuestRam, mapGuestRamFile, pageSize, releaseGuestRam } from '@workervisor/native';
import { HIGH_RAM_START, MMIO_GAP_START } from './arch/x86_64/layout.js';

export class GuestMemoryError extends VmmError<'GUEST_MEMORY'> {
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

/**
 * Bytes per cached view. Node 20's typed arrays cannot span more than 4 GiB, so guest RAM is seen
 * through 1 GiB windows; the rare access that straddles two windows gets a view of its own.
 */
const WINDOW = 0x4000_0000;

export class GuestMemoryMmap implements GuestMemory, MemoryDiscard {
  readonly size: number;
  private readonly windows: Array<{ bytes: Uint8Array; view: DataView }> = [];

  constructor(
    /** The SharedArrayBuffer KVM maps; post it to workers to share guest RAM. */
    readonly buffer: SharedArrayBuffer,
    readonly regions: readonly MemoryRegion[],
  ) {
    this.size = regions.reduce((n, r) => n + r.size, 0);
    for (let start = 0; start < buffer.byteLength; start += WINDOW) {
      const len = Math.min(WINDOW, buffer.byteLength - start);
      this.windows.push({ bytes: new Uint8Array(buffer, start, len), view: new DataView(buffer, start, len) });
    }
  }

  /** The view holding buffer bytes [off, off+len) and the offset inside it. */
  private window(off: number, len: number): { bytes: Uint8Array; view: DataView; at: number } {
    const index = Math.floor(off / WINDOW);
    const at = off - index * WINDOW;
    const w = this.windows[index];
    if (w !== undefined && at + len <= w.bytes.length) return { bytes: w.bytes, view: w.view, at };
    return { bytes: new Uint8Array(this.buffer, off, len), view: new DataView(this.buffer, off, len), at: 0 };
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
   * Guest RAM mapped copy-on-write from a snapshot's memory file of exactly `size` bytes: the
   * guest's writes stay private to this VMM, unchanged pages are shared with every VMM restored
   * from the same file. `prefault` reads the whole file in up front.
   */
  static fromFile(path: string, size: number, prefault: boolean): GuestMemoryMmap {
    return new GuestMemoryMmap(mapGuestRamFile(path, size, prefault), x86Regions(size));
  }

  /**
   * Frees the RAM's pages now rather than when V8 collects the buffer (reboots and failed boots
   * would otherwise pile up memfds). Reads afterwards see zeros. Only after the VM fd is closed.
   */
  release(): void {
    // A file mapping (fromFile) has no memfd to punch: its private pages go when V8 unmaps it.
    releaseGuestRam(this.buffer);
  }

  /**
   * Gives the host pages inside [gpa, gpa+len) back now (a hole punched in the memfd; they read as
   * zeros and fault in fresh pages when touched). Partly covered host pages at either end stay.
   * Throws GuestMemoryError outside one region, KvmError when the kernel refuses.
   */
  discard(gpa: number, len: number): void {
    const off = this.at(gpa, len);
    const page = pageSize();
    const start = Math.ceil(off / page) * page;
    const end = Math.floor((off + len) / page) * page;
    if (end > start) discardGuestRam(this.buffer, start, end - start);
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
    const w = this.window(this.at(gpa, len), len);
    return w.bytes.subarray(w.at, w.at + len);
  }

  read(gpa: number, dst: Uint8Array): void {
    dst.set(this.slice(gpa, dst.length));
  }

  write(gpa: number, src: Uint8Array): void {
    this.slice(gpa, src.length).set(src);
  }

  private scalar(gpa: number, len: number): { view: DataView; at: number } {
    return this.window(this.at(gpa, len), len);
  }

  readU8(gpa: number): number {
    const w = this.scalar(gpa, 1);
    return w.view.getUint8(w.at);
  }
  readU16(gpa: number): number {
    const w = this.scalar(gpa, 2);
    return w.view.getUint16(w.at, true);
  }
  readU32(gpa: number): number {
    const w = this.scalar(gpa, 4);
    return w.view.getUint32(w.at, true);
  }
  readU64(gpa: number): bigint {
    const w = this.scalar(gpa, 8);
    return w.view.getBigUint64(w.at, true);
  }
  writeU8(gpa: number, v: number): void {
    const w = this.scalar(gpa, 1);
    w.view.setUint8(w.at, v);
  }
  writeU16(gpa: number, v: number): void {
    const w = this.scalar(gpa, 2);
    w.view.setUint16(w.at, v, true);
  }
  writeU32(gpa: number, v: number): void {
    const w = this.scalar(gpa, 4);
    w.view.setUint32(w.at, v, true);
  }
  writeU64(gpa: number, v: bigint): void {
    const w = this.scalar(gpa, 8);
    w.view.setBigUint64(w.at, v, true);
  }
  fence(): void {
    memoryFence();
  }
}
