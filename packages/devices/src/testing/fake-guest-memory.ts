// An in-process GuestMemory for unit tests: RAM regions over plain ArrayBuffers with the same
// bounds rules as the real one (guest-memory.ts): every access must lie inside one region.
import type { GuestMemory, MemoryDiscard } from '../guest-memory.js';
import { memoryFence, VmmError } from '@workervisor/base';

/**
 * Thrown by FakeGuestMemory when an access falls outside guest RAM. Mirrors the real
 * GuestMemoryError of vmm-core (code `ERR_VMM_GUEST_MEMORY_OUT_OF_RANGE`), which devices must
 * not import; tests should match on `code`/`kind`, not on the class.
 */
export class GuestMemoryError extends VmmError<'GUEST_MEMORY'> {
  constructor(gpa: number, len: number) {
    super('GUEST_MEMORY', 'out-of-range', `guest range 0x${hex(gpa)}+0x${hex(len)} is outside guest RAM`, {
      details: { gpa, len },
    });
  }
}

/** One RAM region: guest-physical start and length in bytes. */
export interface FakeRegion {
  readonly gpa: number;
  readonly size: number;
}

interface Region {
  readonly gpa: number;
  readonly size: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
}

function hex(v: number): string {
  return Number.isFinite(v) ? Math.trunc(v).toString(16) : String(v);
}

/**
 * Guest RAM for tests. `new FakeGuestMemory(0x10000)` is 64 KiB at GPA 0;
 * `new FakeGuestMemory([{ gpa: 0, size: 0x1000 }, { gpa: 0x1_0000_0000, size: 0x1000 }])`
 * models a hole between regions. Each region gets its own zeroed buffer (SharedArrayBuffer when
 * `shared` is set, like the real RAM posted to vCPU workers).
 */
export class FakeGuestMemory implements GuestMemory, MemoryDiscard {
  readonly size: number;
  /** Every discard() call, in order (what a balloon gave back). */
  readonly discarded: Array<{ gpa: number; len: number }> = [];
  /** fence() calls so far. */
  fences = 0;
  private readonly regions: readonly Region[];

  constructor(layout: number | readonly FakeRegion[], options: { shared?: boolean } = {}) {
    const wanted = typeof layout === 'number' ? [{ gpa: 0, size: layout }] : layout;
    const sorted = [...wanted].sort((a, b) => a.gpa - b.gpa);
    let end = 0;
    const regions: Region[] = [];
    for (const r of sorted) {
      if (!Number.isSafeInteger(r.gpa) || !Number.isSafeInteger(r.size) || r.gpa < 0 || r.size <= 0) {
        throw new RangeError(`fake RAM region 0x${hex(r.gpa)}+0x${hex(r.size)} is invalid`);
      }
      if (r.gpa < end) throw new RangeError(`fake RAM region at 0x${hex(r.gpa)} overlaps the previous one`);
      end = r.gpa + r.size;
      const buffer = options.shared === true ? new SharedArrayBuffer(r.size) : new ArrayBuffer(r.size);
      regions.push({ gpa: r.gpa, size: r.size, bytes: new Uint8Array(buffer), view: new DataView(buffer) });
    }
    if (regions.length === 0) throw new RangeError('fake RAM needs at least one region');
    this.regions = regions;
    this.size = regions.reduce((n, r) => n + r.size, 0);
  }

  /** The region holding all of [gpa, gpa+len), or undefined. A zero-length range may sit at a region's end. */
  private find(gpa: number, len: number): Region | undefined {
    if (!Number.isSafeInteger(gpa) || !Number.isSafeInteger(len) || gpa < 0 || len < 0) return undefined;
    for (const r of this.regions) {
      if (gpa >= r.gpa && gpa + len <= r.gpa + r.size) return r;
    }
    return undefined;
  }

  private locate(gpa: number, len: number): { region: Region; offset: number } {
    const region = this.find(gpa, len);
    if (region === undefined) throw new GuestMemoryError(gpa, len);
    return { region, offset: gpa - region.gpa };
  }

  checkRange(gpa: number, len: number): boolean {
    return this.find(gpa, len) !== undefined;
  }

  slice(gpa: number, len: number): Uint8Array {
    const { region, offset } = this.locate(gpa, len);
    return region.bytes.subarray(offset, offset + len);
  }

  read(gpa: number, dst: Uint8Array): void {
    dst.set(this.slice(gpa, dst.length));
  }

  write(gpa: number, src: Uint8Array): void {
    this.slice(gpa, src.length).set(src);
  }

  readU8(gpa: number): number {
    const { region, offset } = this.locate(gpa, 1);
    return region.view.getUint8(offset);
  }

  readU16(gpa: number): number {
    const { region, offset } = this.locate(gpa, 2);
    return region.view.getUint16(offset, true);
  }

  readU32(gpa: number): number {
    const { region, offset } = this.locate(gpa, 4);
    return region.view.getUint32(offset, true);
  }

  readU64(gpa: number): bigint {
    const { region, offset } = this.locate(gpa, 8);
    return region.view.getBigUint64(offset, true);
  }

  writeU8(gpa: number, v: number): void {
    const { region, offset } = this.locate(gpa, 1);
    region.view.setUint8(offset, v);
  }

  writeU16(gpa: number, v: number): void {
    const { region, offset } = this.locate(gpa, 2);
    region.view.setUint16(offset, v, true);
  }

  writeU32(gpa: number, v: number): void {
    const { region, offset } = this.locate(gpa, 4);
    region.view.setUint32(offset, v, true);
  }

  writeU64(gpa: number, v: bigint): void {
    const { region, offset } = this.locate(gpa, 8);
    region.view.setBigUint64(offset, BigInt.asUintN(64, v), true);
  }

  /** A real barrier (tests may share this memory with worker threads); counted in `fences`. */
  fence(): void {
    this.fences++;
    memoryFence();
  }

  /** Test convenience: writes bytes (or a Latin-1 string) at gpa. */
  load(gpa: number, data: Uint8Array | readonly number[] | string): void {
    const bytes = typeof data === 'string' ? Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff) : Uint8Array.from(data);
    this.write(gpa, bytes);
  }

  /** Records the range and zero-fills it, as a hole punched in the real RAM's memfd reads. */
  discard(gpa: number, len: number): void {
    this.slice(gpa, len).fill(0);
    this.discarded.push({ gpa, len });
  }

  /** Test convenience: a copy of [gpa, gpa+len). */
  dump(gpa: number, len: number): Uint8Array {
    return this.slice(gpa, len).slice();
  }
}
