// The driver side of a split virtqueue (virtio 1.2 section 2.7) laid out in test guest memory,
// plus a minimal virtio-mmio driver: device tests build descriptor chains with these and check
// what the device put in the used ring, the way a guest driver would.
import type { BusDevice } from '../bus-device.js';
import type { GuestMemory } from '../guest-memory.js';
import { le } from '@workervisor/base';

const DESC_F_NEXT = 1;
const DESC_F_WRITE = 2;
const DESC_F_INDIRECT = 4;

/** One buffer of a chain: either existing guest bytes (`addr`) or fresh ones allocated by the mock. */
export interface MockBuffer {
  /** Bytes; with `data` the buffer is allocated and filled, else allocated zeroed. */
  readonly len?: number;
  readonly data?: Uint8Array | readonly number[];
  /** Use this guest address instead of allocating. */
  readonly addr?: number;
  /** Device-writable (VIRTQ_DESC_F_WRITE). */
  readonly writable?: boolean;
}

/** A raw descriptor, for building malformed chains. */
export interface RawDescriptor {
  readonly addr: number | bigint;
  readonly len: number;
  readonly flags?: number;
  readonly next?: number;
}

export interface UsedElement {
  readonly id: number;
  readonly len: number;
}

/** What the mock placed for one buffer: where it lives, so a test can read back what the device wrote. */
export interface PlacedBuffer {
  readonly addr: number;
  readonly len: number;
}

export interface MockVirtqueueOptions {
  /** Queue Size (power of two). Default 16. */
  readonly size?: number;
  /** Where the rings go (16-byte aligned). Default 0x1000. */
  readonly ringBase?: number;
  /** Start of the bump allocator for buffers and indirect tables. Default ringBase + 0x10000. */
  readonly dataBase?: number;
}

/** The addresses a transport must be told (QueueDesc/Driver/Device) and the size (QueueNum). */
export interface QueueAddresses {
  size: number;
  descTable: number;
  availRing: number;
  usedRing: number;
  ready: boolean;
}

/**
 * A driver-side split virtqueue in `mem`: descriptor table, avail ring (with used_event) and
 * used ring (with avail_event), and a bump allocator for buffers. Descriptors are handed out
 * round-robin, so keep fewer than `size` of them in flight.
 */
export class MockVirtqueue {
  readonly size: number;
  readonly descTable: number;
  readonly availRing: number;
  readonly usedRing: number;
  private nextDesc = 0;
  private availIdx = 0;
  private lastUsed = 0;
  private nextData: number;

  constructor(
    readonly mem: GuestMemory,
    options: MockVirtqueueOptions = {},
  ) {
    this.size = options.size ?? 16;
    this.descTable = options.ringBase ?? 0x1000;
    this.availRing = this.descTable + 16 * this.size;
    this.usedRing = align(this.availRing + 6 + 2 * this.size, 4);
    this.nextData = options.dataBase ?? this.descTable + 0x1_0000;
  }

  /** The values to program into a Queue (or the transport's queue registers). */
  get addresses(): QueueAddresses {
    return { size: this.size, descTable: this.descTable, availRing: this.availRing, usedRing: this.usedRing, ready: true };
  }

  /** Reserves `len` bytes of guest memory (aligned) and optionally fills them. */
  alloc(len: number, data?: Uint8Array | readonly number[], alignment = 16): number {
    const addr = align(this.nextData, alignment);
    this.nextData = addr + Math.max(len, 1);
    if (data !== undefined) this.mem.write(addr, Uint8Array.from(data));
    return addr;
  }

  /** Writes descriptor `index` verbatim. */
  writeDescriptor(index: number, d: RawDescriptor, table = this.descTable): void {
    const at = table + 16 * index;
    this.mem.writeU64(at, BigInt(d.addr));
    this.mem.writeU32(at + 8, d.len);
    this.mem.writeU16(at + 12, d.flags ?? 0);
    this.mem.writeU16(at + 14, d.next ?? 0);
  }

  /** Places `buffers` as a chain of direct descriptors and makes it available. Returns the head and the buffers' addresses. */
  addChain(buffers: readonly MockBuffer[]): { head: number; buffers: PlacedBuffer[] } {
    const placed = buffers.map((b) => this.place(b));
    const indices = buffers.map(() => this.takeDescriptor());
    buffers.forEach((b, i) => {
      const last = i === buffers.length - 1;
      const p = placed[i] as PlacedBuffer;
      this.writeDescriptor(indices[i] as number, { addr: p.addr, len: p.len, flags: (b.writable === true ? DESC_F_WRITE : 0) | (last ? 0 : DESC_F_NEXT), next: last ? 0 : (indices[i + 1] as number) });
    });
    const head = indices[0] as number;
    this.publish(head);
    return { head, buffers: placed };
  }

  /** Places `buffers` in an indirect table behind one descriptor and makes it available. */
  addIndirectChain(buffers: readonly MockBuffer[]): { head: number; buffers: PlacedBuffer[] } {
    const placed = buffers.map((b) => this.place(b));
    const table = this.alloc(16 * buffers.length);
    buffers.forEach((b, i) => {
      const last = i === buffers.length - 1;
      const p = placed[i] as PlacedBuffer;
      this.writeDescriptor(i, { addr: p.addr, len: p.len, flags: (b.writable === true ? DESC_F_WRITE : 0) | (last ? 0 : DESC_F_NEXT), next: last ? 0 : i + 1 }, table);
    });
    const head = this.takeDescriptor();
    this.writeDescriptor(head, { addr: table, len: 16 * buffers.length, flags: DESC_F_INDIRECT });
    this.publish(head);
    return { head, buffers: placed };
  }

  /** Puts `head` in the next avail ring slot and bumps avail.idx. */
  publish(head: number): void {
    this.mem.writeU16(this.availRing + 4 + 2 * (this.availIdx % this.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.mem.writeU16(this.availRing + 2, this.availIdx);
  }

  /** Starts both rings' free-running indices at `idx` (to test u16 wrap-around); pair with Queue.restore(). */
  startAt(idx: number): void {
    this.availIdx = this.lastUsed = idx & 0xffff;
    this.mem.writeU16(this.availRing + 2, this.availIdx);
    this.mem.writeU16(this.usedRing + 2, this.lastUsed);
  }

  /** Overwrites avail.idx (to fake a driver bug). */
  setAvailIndex(idx: number): void {
    this.availIdx = idx & 0xffff;
    this.mem.writeU16(this.availRing + 2, this.availIdx);
  }

  /** avail.flags (VRING_AVAIL_F_NO_INTERRUPT = 1). */
  setAvailFlags(flags: number): void {
    this.mem.writeU16(this.availRing, flags);
  }

  /** used_event, read by a device that negotiated EVENT_IDX. */
  setUsedEvent(idx: number): void {
    this.mem.writeU16(this.availRing + 4 + 2 * this.size, idx);
  }

  /** avail_event, written by a device that negotiated EVENT_IDX. */
  get availEvent(): number {
    return this.mem.readU16(this.usedRing + 4 + 8 * this.size);
  }

  get usedIndex(): number {
    return this.mem.readU16(this.usedRing + 2);
  }

  /** Used elements added since the previous call. */
  takeUsed(): UsedElement[] {
    const out: UsedElement[] = [];
    const idx = this.usedIndex;
    while (this.lastUsed !== idx) {
      const at = this.usedRing + 4 + 8 * (this.lastUsed % this.size);
      out.push({ id: this.mem.readU32(at), len: this.mem.readU32(at + 4) });
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
    }
    return out;
  }

  private place(b: MockBuffer): PlacedBuffer {
    const len = b.len ?? b.data?.length ?? 0;
    if (b.addr !== undefined) {
      if (b.data !== undefined) this.mem.write(b.addr, Uint8Array.from(b.data));
      return { addr: b.addr, len };
    }
    return { addr: this.alloc(len, b.data), len };
  }

  private takeDescriptor(): number {
    const i = this.nextDesc;
    this.nextDesc = (this.nextDesc + 1) % this.size;
    return i;
  }
}

function align(v: number, a: number): number {
  return Math.ceil(v / a) * a;
}

/** 32-bit register access on a BusDevice, the only width virtio-mmio registers take. */
export function mmioRead32(dev: BusDevice, offset: number): number {
  const data = new Uint8Array(4);
  dev.read(offset, data);
  return le.u32(data, 0);
}

export function mmioWrite32(dev: BusDevice, offset: number, value: number): void {
  const data = new Uint8Array(4);
  le.putU32(data, 0, value >>> 0);
  dev.write(offset, data);
}

/**
 * Drives a virtio-mmio transport through the init sequence of virtio 1.2 section 3.1.1 and
 * 4.2.3: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queue setup, DRIVER_OK. Returns
 * the final Status register value. `features` defaults to everything the device offers.
 */
export function mmioInitialize(dev: BusDevice, queues: readonly MockVirtqueue[], features?: bigint): number {
  mmioWrite32(dev, 0x70, 0);
  mmioWrite32(dev, 0x70, 1);
  mmioWrite32(dev, 0x70, 1 | 2);
  let offered = 0n;
  for (const sel of [0, 1]) {
    mmioWrite32(dev, 0x14, sel);
    offered |= BigInt(mmioRead32(dev, 0x10)) << BigInt(32 * sel);
  }
  const accepted = features ?? offered;
  for (const sel of [0, 1]) {
    mmioWrite32(dev, 0x24, sel);
    mmioWrite32(dev, 0x20, Number((accepted >> BigInt(32 * sel)) & 0xffff_ffffn));
  }
  mmioWrite32(dev, 0x70, 1 | 2 | 8);
  if ((mmioRead32(dev, 0x70) & 8) === 0) return mmioRead32(dev, 0x70);
  queues.forEach((q, i) => {
    mmioWrite32(dev, 0x30, i);
    mmioWrite32(dev, 0x38, q.size);
    const regs: Array<[number, number]> = [
      [0x80, q.descTable],
      [0x90, q.availRing],
      [0xa0, q.usedRing],
    ];
    for (const [reg, addr] of regs) {
      mmioWrite32(dev, reg, addr % 0x1_0000_0000);
      mmioWrite32(dev, reg + 4, Math.floor(addr / 0x1_0000_0000));
    }
    mmioWrite32(dev, 0x44, 1);
  });
  mmioWrite32(dev, 0x70, 1 | 2 | 8 | 4);
  return mmioRead32(dev, 0x70);
}
