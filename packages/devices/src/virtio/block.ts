// virtio-blk (virtio 1.2 section 5.2): one request queue, IN/OUT/FLUSH/GET_ID, read-only disks.
// I/O is synchronous on the core thread: requests are served in queue order the moment the
// notification arrives, the data moves between the backend and guest RAM views with no copy,
// and completion is a used-ring write + one irqfd edge. A page-cache pread is a few us, less
// than one exit here; a slow disk stalls the core (and other devices' exits) for that long,
// which is the price of this first version. Async I/O can replace the backend call in
// `execute` without changing the request parsing or completion code.
import type { GuestMemory } from '../guest-memory.js';
import { le } from '@workervisor/base';
import { createLogger, RateLimitedLog } from '@workervisor/base';
import type { BlockBackend } from './block-backend.js';
import {
  INACTIVE,
  VIRTIO_F_RING_EVENT_IDX,
  VIRTIO_F_RING_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  VIRTIO_ID_BLOCK,
  type ActivateContext,
  VirtioError,
  type ActivationState,
  type VirtioDevice,
} from './device.js';
import { forEachSegment, readSegments, writeSegments, type DescriptorChain, type Queue } from './queue.js';

/** Feature bits (5.2.3), as masks. */
export const VIRTIO_BLK_F_SIZE_MAX = 1n << 1n;
export const VIRTIO_BLK_F_SEG_MAX = 1n << 2n;
export const VIRTIO_BLK_F_RO = 1n << 5n;
export const VIRTIO_BLK_F_BLK_SIZE = 1n << 6n;
export const VIRTIO_BLK_F_FLUSH = 1n << 9n;

/** Request types and status values (5.2.6). */
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

/** Sector size of capacity and request offsets, whatever the backend's block size. */
export const SECTOR_SIZE = 512;
/** GET_ID writes this many bytes (a NUL-padded string, not terminated when full). */
export const VIRTIO_BLK_ID_BYTES = 20;
/** le32 type, le32 reserved, le64 sector. */
export const BLK_REQUEST_HEADER_SIZE = 16;
/** Default QueueNumMax of the request queue. */
export const DEFAULT_BLOCK_QUEUE_SIZE = 256;

// Configuration layout (struct virtio_blk_config, 5.2.4) up to num_queues; later fields read 0.
const CONFIG_CAPACITY = 0;
const CONFIG_SEG_MAX = 12;
const CONFIG_SIZE = 36;

export interface VirtioBlockOptions {
  readonly backend: BlockBackend;
  /** Name for logs and counters; default `blk`. */
  readonly name?: string;
  /** The GET_ID string (truncated to 20 bytes); default empty. */
  readonly serial?: string;
  /** QueueNumMax of the request queue, a power of two; default DEFAULT_BLOCK_QUEUE_SIZE. */
  readonly queueSize?: number;
}

/** Counters, monotonically increasing. Descriptor-level problems are counted by the queue. */
export interface VirtioBlockMetrics {
  requests: number;
  reads: number;
  writes: number;
  flushes: number;
  getIds: number;
  bytesRead: number;
  bytesWritten: number;
  /** Requests answered VIRTIO_BLK_S_UNSUPP. */
  unsupported: number;
  /** Guest-caused failures: short header, no status byte, odd length, sectors past the end, write to a read-only disk. */
  badRequests: number;
  /** Host-side I/O failures (answered VIRTIO_BLK_S_IOERR). */
  ioErrors: number;
  /** Configuration-space writes (nothing in it is writable). */
  ignoredConfigWrites: number;
  /** Used-buffer notifications sent to the driver. */
  usedNotifications: number;
}

const log = createLogger('virtio-blk');

/** The result of one request: status byte and bytes written into the guest's buffers before it. */
interface Outcome {
  readonly status: number;
  readonly written: number;
}

/** A virtio-blk device model on top of a BlockBackend. */
export class VirtioBlock implements VirtioDevice {
  readonly type = VIRTIO_ID_BLOCK;
  readonly name: string;
  readonly features: bigint;
  readonly queueMaxSizes: readonly number[];
  readonly metrics: VirtioBlockMetrics = {
    requests: 0,
    reads: 0,
    writes: 0,
    flushes: 0,
    getIds: 0,
    bytesRead: 0,
    bytesWritten: 0,
    unsupported: 0,
    badRequests: 0,
    ioErrors: 0,
    ignoredConfigWrites: 0,
    usedNotifications: 0,
  };
  /** Sectors exposed to the guest. */
  readonly capacity: number;
  readonly backend: BlockBackend;
  private readonly config = new Uint8Array(CONFIG_SIZE);
  private readonly id = new Uint8Array(VIRTIO_BLK_ID_BYTES);
  private readonly warn = new RateLimitedLog(log);
  private state: ActivationState = INACTIVE;
  private rescheduled = false;

  constructor(options: VirtioBlockOptions) {
    this.backend = options.backend;
    this.name = options.name ?? 'blk';
    const queueSize = options.queueSize ?? DEFAULT_BLOCK_QUEUE_SIZE;
    this.queueMaxSizes = [queueSize];
    this.capacity = Math.floor(this.backend.size / SECTOR_SIZE);
    if (this.backend.size % SECTOR_SIZE !== 0) log.warn(`${this.name}: image size ${this.backend.size} is not a multiple of ${SECTOR_SIZE}; the last ${this.backend.size % SECTOR_SIZE} bytes are not visible`);
    // SEG_MAX lets Linux put queueSize - 2 data segments in one request (header and status
    // take the other two); without it Linux sends one segment per request.
    this.features =
      VIRTIO_F_VERSION_1 | VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_F_RING_EVENT_IDX | VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_SEG_MAX | (this.backend.readonly ? VIRTIO_BLK_F_RO : 0n);
    le.writeU64(this.config, CONFIG_CAPACITY, BigInt(this.capacity));
    le.putU32(this.config, CONFIG_SEG_MAX, Math.max(1, queueSize - 2));
    this.id.set(new TextEncoder().encode(options.serial ?? '').subarray(0, VIRTIO_BLK_ID_BYTES));
  }

  readConfig(offset: number, data: Uint8Array): void {
    if (offset < CONFIG_SIZE) data.set(this.config.subarray(offset, Math.min(CONFIG_SIZE, offset + data.length)));
  }

  writeConfig(offset: number, data: Uint8Array): void {
    // writeback (offset 32) is writable only with VIRTIO_BLK_F_CONFIG_WCE, which we do not offer.
    this.metrics.ignoredConfigWrites++;
    this.warn.warn(`${this.name}: ignored ${data.length}-byte config write at offset ${offset}`);
  }

  activate(ctx: ActivateContext): void {
    this.state = { kind: 'active', ...ctx };
  }

  reset(): void {
    this.state = INACTIVE;
  }

  /**
   * Snapshot state: none beyond the transport's. Requests complete synchronously inside
   * queueNotify, so a paused VM has none in flight; the image is reopened by path on restore.
   */
  save(): Record<string, never> {
    return {};
  }

  /** Accepts the empty state of save(). Throws VirtioError('invalid-config') on anything else. */
  restore(state: unknown): void {
    if (typeof state !== 'object' || state === null || Object.keys(state).length !== 0) throw new VirtioError('invalid-config', `${this.name}: a block device's snapshot state is empty`);
  }

  queueNotify(index: number): void {
    const s = this.state;
    const queue = s.kind === 'active' ? s.queues[index] : undefined;
    if (s.kind !== 'active' || queue === undefined || !queue.ready) return;
    // A guest adding requests (good or malformed) as fast as they complete must not keep the core
    // here forever: take at most one queue's worth of heads, then yield to the event loop.
    const start = queue.headsTaken;
    const taken = () => queue.headsTaken - start;
    let chain: DescriptorChain | undefined;
    while (taken() < queue.size && (chain = queue.pop(s.mem, queue.size - taken())) !== undefined) {
      queue.addUsed(s.mem, chain.head, this.process(s.mem, chain));
    }
    if (queue.needsNotification(s.mem)) {
      this.metrics.usedNotifications++;
      s.interrupt.signalUsedQueue(index);
    }
    if (taken() >= queue.size && !this.rescheduled) {
      this.rescheduled = true;
      setImmediate(() => {
        this.rescheduled = false;
        this.queueNotify(index);
      });
    }
  }

  /** Serves one request; returns the used length (bytes written into the chain, status included). */
  private process(mem: GuestMemory, chain: DescriptorChain): number {
    this.metrics.requests++;
    if (chain.writableBytes < 1) {
      this.bad(chain, 'has no device-writable status byte');
      return 0;
    }
    const { status, written } = this.execute(mem, chain);
    writeSegments(mem, chain.writable, chain.writableBytes - 1, Uint8Array.of(status));
    return written + 1;
  }

  private execute(mem: GuestMemory, chain: DescriptorChain): Outcome {
    if (chain.readableBytes < BLK_REQUEST_HEADER_SIZE) return this.bad(chain, `header is ${chain.readableBytes} bytes, not ${BLK_REQUEST_HEADER_SIZE}`);
    const header = new Uint8Array(BLK_REQUEST_HEADER_SIZE);
    readSegments(mem, chain.readable, 0, header);
    const type = le.u32(header, 0);
    const sector = le.readU64(header, 8);
    switch (type) {
      case VIRTIO_BLK_T_IN: {
        this.metrics.reads++;
        const len = chain.writableBytes - 1;
        const offset = this.dataOffset(chain, sector, len);
        if (offset === undefined) return { status: VIRTIO_BLK_S_IOERR, written: 0 };
        if (!this.io(chain, () => forEachSegment(chain.writable, 0, len, (gpa, n, pos) => this.backend.read(offset + pos, mem.slice(gpa, n))))) {
          return { status: VIRTIO_BLK_S_IOERR, written: 0 };
        }
        this.metrics.bytesRead += len;
        return { status: VIRTIO_BLK_S_OK, written: len };
      }
      case VIRTIO_BLK_T_OUT: {
        this.metrics.writes++;
        // 5.2.6.2: a device offering VIRTIO_BLK_F_RO fails writes with IOERR.
        if (this.backend.readonly) return this.bad(chain, 'writes to a read-only disk');
        const len = chain.readableBytes - BLK_REQUEST_HEADER_SIZE;
        const offset = this.dataOffset(chain, sector, len);
        if (offset === undefined) return { status: VIRTIO_BLK_S_IOERR, written: 0 };
        if (!this.io(chain, () => forEachSegment(chain.readable, BLK_REQUEST_HEADER_SIZE, len, (gpa, n, pos) => this.backend.write(offset + pos, mem.slice(gpa, n))))) {
          return { status: VIRTIO_BLK_S_IOERR, written: 0 };
        }
        this.metrics.bytesWritten += len;
        return { status: VIRTIO_BLK_S_OK, written: 0 };
      }
      case VIRTIO_BLK_T_FLUSH:
        this.metrics.flushes++;
        return { status: this.io(chain, () => this.backend.flush()) ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR, written: 0 };
      case VIRTIO_BLK_T_GET_ID:
        this.metrics.getIds++;
        if (chain.writableBytes - 1 < VIRTIO_BLK_ID_BYTES) return this.bad(chain, `GET_ID buffer is ${chain.writableBytes - 1} bytes, not ${VIRTIO_BLK_ID_BYTES}`);
        writeSegments(mem, chain.writable, 0, this.id);
        return { status: VIRTIO_BLK_S_OK, written: VIRTIO_BLK_ID_BYTES };
      default:
        this.metrics.unsupported++;
        return { status: VIRTIO_BLK_S_UNSUPP, written: 0 };
    }
  }

  /** Byte offset of a `len`-byte transfer at `sector`, or undefined (counted) when it is not whole sectors inside the disk. */
  private dataOffset(chain: DescriptorChain, sector: bigint, len: number): number | undefined {
    if (len % SECTOR_SIZE !== 0) {
      this.bad(chain, `data length ${len} is not a multiple of ${SECTOR_SIZE}`);
      return undefined;
    }
    if (sector + BigInt(len / SECTOR_SIZE) > BigInt(this.capacity)) {
      this.bad(chain, `sectors ${sector}+${len / SECTOR_SIZE} are past the end of the disk (${this.capacity} sectors)`);
      return undefined;
    }
    return Number(sector) * SECTOR_SIZE;
  }

  /** Runs a backend call; a host failure is logged, counted and reported as false. */
  private io(chain: DescriptorChain, fn: () => unknown): boolean {
    try {
      fn();
      return true;
    } catch (err) {
      this.metrics.ioErrors++;
      this.warn.warn(`${this.name}: request ${chain.head} failed on the host`, { error: err instanceof Error ? err.message : String(err) });
      return false;
    }
  }

  private bad(chain: DescriptorChain, what: string): Outcome {
    this.metrics.badRequests++;
    this.warn.warn(`${this.name}: request ${chain.head} ${what}`);
    return { status: VIRTIO_BLK_S_IOERR, written: 0 };
  }
}
