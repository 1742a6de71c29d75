// Split virtqueue, device side (virtio 1.2 section 2.7): descriptor table, available and used
// rings, descriptor chains with optional indirect tables (2.7.5.3) and VIRTIO_F_EVENT_IDX (2.7.7).
// Every guest address goes through GuestMemory; malformed chains are logged (rate-limited),
// counted and returned to the driver as used with length 0, so a bad guest can neither reach
// host memory outside its RAM nor make the device loop or throw.
import type { GuestMemory } from '../guest-memory.js';
import { createLogger, RateLimitedLog } from '@workervisor/base';

/** Descriptor flags (2.7.5). */
export const DESC_F_NEXT = 1;
export const DESC_F_WRITE = 2;
export const DESC_F_INDIRECT = 4;
/** Available ring flag: the driver does not want used-buffer notifications (2.7.7, no EVENT_IDX). */
export const AVAIL_F_NO_INTERRUPT = 1;
/** Largest split queue (2.7: Queue Size is a power of 2, at most 32768). */
export const MAX_QUEUE_SIZE = 32768;
/** Bytes per descriptor: le64 addr, le32 len, le16 flags, le16 next. */
export const DESCRIPTOR_SIZE = 16;

const log = createLogger('virtq');

/** One buffer of a chain: guest-physical address and length in bytes, already checked to lie in RAM. */
export interface Descriptor {
  readonly addr: number;
  readonly len: number;
}

/** A well-formed chain: device-readable buffers first, then device-writable ones (2.7.4.2). */
export interface DescriptorChain {
  /** Head index: what goes back in the used ring. */
  readonly head: number;
  readonly readable: readonly Descriptor[];
  readonly writable: readonly Descriptor[];
  /** Total bytes of the readable / writable buffers. */
  readonly readableBytes: number;
  readonly writableBytes: number;
}

/** Counters, monotonically increasing. */
export interface QueueMetrics {
  /** Chains handed to the device. */
  chains: number;
  /** Chains refused (loop, out-of-range index or buffer, bad indirect table, readable after writable). */
  badChains: number;
  /** Times the available index ran more than Queue Size ahead of the device. */
  badAvailIndex: number;
  /** Used-buffer notifications the driver suppressed (flags or used_event). */
  suppressedNotifications: number;
}

/** JSON-safe queue state for snapshots. */
export interface QueueState {
  size: number;
  ready: boolean;
  descTable: number;
  availRing: number;
  usedRing: number;
  nextAvail: number;
  nextUsed: number;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/**
 * One split virtqueue. The transport writes `size`, the three ring addresses and `ready` from
 * the driver's register writes, and sets `eventIdx`/`indirect` from the negotiated features;
 * the device pops chains and adds used elements. Indices are free-running u16 (2.7.6).
 */
export class Queue {
  size: number;
  ready = false;
  /** Guest-physical addresses of the descriptor table, driver (avail) area and device (used) area. */
  descTable = 0;
  availRing = 0;
  usedRing = 0;
  /** VIRTIO_F_EVENT_IDX negotiated. */
  eventIdx = false;
  /** VIRTIO_F_INDIRECT_DESC negotiated. */
  indirect = false;
  readonly metrics: QueueMetrics = { chains: 0, badChains: 0, badAvailIndex: 0, suppressedNotifications: 0 };
  private nextAvail = 0;
  private nextUsed = 0;
  /** Heads taken off the available ring since creation, malformed ones included (for work budgets). */
  headsTaken = 0;
  private signalledUsed = 0;
  private readonly warn = new RateLimitedLog(log);

  constructor(
    /** QueueNumMax: a power of two, 1..MAX_QUEUE_SIZE. */
    readonly maxSize: number,
    /** Name for log lines (`blk0.q0`). */
    readonly name = 'virtq',
  ) {
    if (!isPowerOfTwo(maxSize) || maxSize > MAX_QUEUE_SIZE) throw new RangeError(`queue size ${maxSize} must be a power of two up to ${MAX_QUEUE_SIZE}`);
    this.size = maxSize;
  }

  /** Back to the power-on state (device reset, 2.4): not ready, size = maxSize, addresses 0. */
  reset(): void {
    this.size = this.maxSize;
    this.ready = false;
    this.descTable = this.availRing = this.usedRing = 0;
    this.eventIdx = this.indirect = false;
    this.nextAvail = this.nextUsed = this.signalledUsed = 0;
  }

  /** Why this queue cannot be used with `mem`, or undefined when it can (size, alignment, rings inside RAM). */
  problem(mem: GuestMemory): string | undefined {
    const n = this.size;
    if (!isPowerOfTwo(n) || n > this.maxSize) return `size ${n} is not a power of two up to ${this.maxSize}`;
    // Alignment and sizes: 2.7 table "Virtqueue Part" (desc 16, avail 2, used 4).
    if (this.descTable % 16 !== 0 || !mem.checkRange(this.descTable, DESCRIPTOR_SIZE * n)) return `descriptor table at 0x${this.descTable.toString(16)} is misaligned or outside RAM`;
    if (this.availRing % 2 !== 0 || !mem.checkRange(this.availRing, 6 + 2 * n)) return `driver area at 0x${this.availRing.toString(16)} is misaligned or outside RAM`;
    if (this.usedRing % 4 !== 0 || !mem.checkRange(this.usedRing, 6 + 8 * n)) return `device area at 0x${this.usedRing.toString(16)} is misaligned or outside RAM`;
    return undefined;
  }

  /** Whether the driver has made buffers available that pop() has not taken. Call only on a queue whose problem() is undefined. */
  hasAvailable(mem: GuestMemory): boolean {
    return mem.readU16(this.availRing + 2) !== this.nextAvail;
  }

  /**
   * The next available chain, or undefined when the driver has none or `budget` heads (good or
   * malformed) were taken without finding a good one. Malformed chains are completed with length 0
   * and skipped. Every head taken counts in `headsTaken`, so callers can bound their work even
   * against a guest that keeps refilling the ring with bad entries from another vCPU.
   * Call only on a queue whose problem() is undefined.
   */
  pop(mem: GuestMemory, budget: number = this.size): DescriptorChain | undefined {
    for (let taken = 0; taken < budget; taken++) {
      let availIdx = mem.readU16(this.availRing + 2);
      if (availIdx === this.nextAvail && this.eventIdx) {
        // Ask for a kick when the driver adds entry nextAvail, then look again so an entry
        // added meanwhile is not missed (the avail_event protocol, 2.7.10). The fence keeps the
        // second read behind the write: the driver writes avail idx, fences (virtio_mb) and reads
        // avail_event; if both reads passed their writes, neither side would see the other's
        // and the driver would wait for a completion of a request the device never saw.
        mem.writeU16(this.usedRing + 4 + 8 * this.size, this.nextAvail);
        mem.fence();
        availIdx = mem.readU16(this.availRing + 2);
      }
      const pending = (availIdx - this.nextAvail) & 0xffff;
      if (pending === 0) return undefined;
      if (pending > this.size) {
        this.metrics.badAvailIndex++;
        this.warn.warn(`${this.name}: available index ${availIdx} is ${pending} entries ahead of ${this.nextAvail}, more than the queue size ${this.size}; ignoring the notification`);
        return undefined;
      }
      const head = mem.readU16(this.availRing + 4 + 2 * (this.nextAvail % this.size));
      this.nextAvail = (this.nextAvail + 1) & 0xffff;
      this.headsTaken++;
      const chain = this.readChain(mem, head);
      if (typeof chain !== 'string') {
        this.metrics.chains++;
        return chain;
      }
      this.metrics.badChains++;
      this.warn.warn(`${this.name}: dropped descriptor chain ${head}: ${chain}`);
      // Give the buffers back so the driver does not wait forever; an out-of-range head cannot be.
      if (head < this.size) this.addUsed(mem, head, 0);
    }
    return undefined;
  }

  /**
   * Puts the chain the last pop() returned back on the available ring, as if it had not been
   * taken (virtio-queue's go_to_previous_position): for a device that must wait before serving
   * it (a rate limit). Call only right after a pop() that returned a chain.
   */
  undoPop(): void {
    this.nextAvail = (this.nextAvail - 1) & 0xffff;
    this.headsTaken--;
    this.metrics.chains--;
  }

  /** Puts chain `head` on the used ring with `len` bytes written by the device (2.7.8). */
  addUsed(mem: GuestMemory, head: number, len: number): void {
    const element = this.usedRing + 4 + 8 * (this.nextUsed % this.size);
    mem.writeU32(element, head);
    mem.writeU32(element + 4, len);
    this.nextUsed = (this.nextUsed + 1) & 0xffff;
    // The index is written after the element: x86 keeps stores in order (TSO).
    mem.writeU16(this.usedRing + 2, this.nextUsed);
  }

  /**
   * Whether the driver wants a used-buffer notification for the elements added since the
   * previous call (used_event with EVENT_IDX, else the NO_INTERRUPT flag; 2.7.7.2).
   */
  needsNotification(mem: GuestMemory): boolean {
    const now = this.nextUsed;
    const before = this.signalledUsed;
    this.signalledUsed = now;
    if (now === before) return false;
    // The used index written by addUsed must be visible before used_event (or flags) is read:
    // the driver writes used_event, fences and reads the used index (virtqueue_enable_cb), so
    // without the fence both could read the other's old value and the interrupt is lost.
    mem.fence();
    let wanted: boolean;
    if (this.eventIdx) {
      const usedEvent = mem.readU16(this.availRing + 4 + 2 * this.size);
      // vring_need_event(): notify when used_event lies in [before, now).
      wanted = ((now - usedEvent - 1) & 0xffff) < ((now - before) & 0xffff);
    } else {
      wanted = (mem.readU16(this.availRing) & AVAIL_F_NO_INTERRUPT) === 0;
    }
    if (!wanted) this.metrics.suppressedNotifications++;
    return wanted;
  }

  /**
   * Chain `head` read again from the descriptor table: for a device restoring the chains it had
   * popped and held when a snapshot was taken (guest RAM holds their descriptors unchanged).
   * A reason string when `head` is out of range or the chain is malformed.
   */
  heldChain(mem: GuestMemory, head: number): DescriptorChain | string {
    if (!Number.isInteger(head) || head < 0 || head >= this.size) return `head ${head} is outside a queue of ${this.size}`;
    return this.readChain(mem, head);
  }

  /** Reads chain `head`; returns a reason string when it is malformed. */
  private readChain(mem: GuestMemory, head: number): DescriptorChain | string {
    const readable: Descriptor[] = [];
    const writable: Descriptor[] = [];
    let readableBytes = 0;
    let writableBytes = 0;
    let table = this.descTable;
    let tableSize = this.size;
    let index = head;
    let inIndirect = false;
    // Each table is walked at most tableSize steps: a longer walk means a loop (2.7.5.3.1:
    // a chain is never longer than the Queue Size; an indirect table bounds its own chain).
    let steps = 0;
    for (;;) {
      if (index >= tableSize) return `descriptor index ${index} is outside a table of ${tableSize}`;
      if (++steps > tableSize) return `chain is longer than ${tableSize} descriptors (a loop?)`;
      const at = table + DESCRIPTOR_SIZE * index;
      const addr = mem.readU64(at);
      const len = mem.readU32(at + 8);
      const flags = mem.readU16(at + 12);
      const next = mem.readU16(at + 14);
      if ((flags & DESC_F_INDIRECT) !== 0) {
        if (!this.indirect) return 'indirect descriptor without VIRTIO_F_INDIRECT_DESC';
        if (inIndirect) return 'indirect descriptor inside an indirect table';
        if ((flags & DESC_F_NEXT) !== 0) return 'indirect descriptor with NEXT set';
        if (len === 0 || len % DESCRIPTOR_SIZE !== 0 || len / DESCRIPTOR_SIZE > MAX_QUEUE_SIZE) return `indirect table length ${len} is invalid`;
        if (addr > BigInt(Number.MAX_SAFE_INTEGER) || !mem.checkRange(Number(addr), len)) return `indirect table 0x${addr.toString(16)}+${len} is outside RAM`;
        table = Number(addr);
        tableSize = len / DESCRIPTOR_SIZE;
        index = 0;
        steps = 0;
        inIndirect = true;
        continue;
      }
      if (addr > BigInt(Number.MAX_SAFE_INTEGER) || !mem.checkRange(Number(addr), len)) return `buffer 0x${addr.toString(16)}+${len} is outside RAM`;
      const d: Descriptor = { addr: Number(addr), len };
      if ((flags & DESC_F_WRITE) !== 0) {
        writable.push(d);
        writableBytes += len;
      } else {
        if (writable.length > 0) return 'device-readable buffer after a device-writable one';
        readable.push(d);
        readableBytes += len;
      }
      if ((flags & DESC_F_NEXT) === 0) break;
      index = next;
    }
    return { head, readable, writable, readableBytes, writableBytes };
  }

  save(): QueueState {
    return { size: this.size, ready: this.ready, descTable: this.descTable, availRing: this.availRing, usedRing: this.usedRing, nextAvail: this.nextAvail, nextUsed: this.nextUsed };
  }

  restore(state: QueueState): void {
    this.size = state.size;
    this.ready = state.ready;
    this.descTable = state.descTable;
    this.availRing = state.availRing;
    this.usedRing = state.usedRing;
    this.nextAvail = state.nextAvail & 0xffff;
    this.nextUsed = this.signalledUsed = state.nextUsed & 0xffff;
  }
}

/**
 * Calls `fn(gpa, len, pos)` for each piece of the byte range [offset, offset+length) of the
 * concatenation of `segments`; `pos` is the piece's position inside that range. Returns the
 * bytes covered (less than `length` when the segments end first).
 */
export function forEachSegment(segments: readonly Descriptor[], offset: number, length: number, fn: (gpa: number, len: number, pos: number) => void): number {
  let skip = offset;
  let done = 0;
  for (const s of segments) {
    if (done >= length) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const n = Math.min(s.len - skip, length - done);
    fn(s.addr + skip, n, done);
    done += n;
    skip = 0;
  }
  return done;
}

/** Copies bytes [offset, offset+dst.length) of the segments into dst; returns the bytes copied. */
export function readSegments(mem: GuestMemory, segments: readonly Descriptor[], offset: number, dst: Uint8Array): number {
  return forEachSegment(segments, offset, dst.length, (gpa, len, pos) => mem.read(gpa, dst.subarray(pos, pos + len)));
}

/** Copies src into the segments from byte `offset`; returns the bytes copied. */
export function writeSegments(mem: GuestMemory, segments: readonly Descriptor[], offset: number, src: Uint8Array): number {
  return forEachSegment(segments, offset, src.length, (gpa, len, pos) => mem.write(gpa, src.subarray(pos, pos + len)));
}
