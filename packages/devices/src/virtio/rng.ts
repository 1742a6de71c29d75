// virtio-rng, the entropy device (virtio 1.2 section 5.4): one request queue whose device-writable
// buffers are filled with bytes from the host's getrandom (node:crypto randomFillSync), straight
// into guest RAM. An optional token-bucket limit (Firecracker's entropy rate_limiter) makes a
// request over budget wait on a timer for the refill; nothing is dropped.
import { randomFillSync } from 'node:crypto';
import type { GuestMemory } from '../guest-memory.js';
import { createLogger, RateLimitedLog } from '@workervisor/base';
import { RateLimiter, RateLimiterError, type MillisecondClock, type RateLimiterConfig, type RateLimiterState } from '../rate-limiter.js';
import {
  INACTIVE,
  VIRTIO_F_RING_EVENT_IDX,
  VIRTIO_F_RING_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  VIRTIO_ID_RNG,
  VirtioError,
  type ActivateContext,
  type ActivationState,
  type VirtioDevice,
} from './device.js';
import { forEachSegment, type DescriptorChain, type Queue } from './queue.js';

/** Default QueueNumMax of the request queue (Firecracker's and Cloud Hypervisor's is 256). */
export const DEFAULT_RNG_QUEUE_SIZE = 256;
/**
 * The most bytes one request gets. Linux asks for 64 bytes at a time (virtio-rng.c's data[]);
 * a guest posting a huge buffer gets this many (5.4.6.2 lets the device fill part of it), so
 * one request cannot keep the core in getrandom for long.
 */
export const MAX_RNG_REQUEST_BYTES = 64 * 1024;

export interface VirtioRngOptions {
  /** Name for logs and counters; default `rng`. */
  readonly name?: string;
  /** QueueNumMax of the request queue, a power of two; default DEFAULT_RNG_QUEUE_SIZE. */
  readonly queueSize?: number;
  /** Limit on bytes (`bandwidth`) and requests (`ops`); none by default. */
  readonly rateLimiter?: RateLimiterConfig;
  /** Entropy source, filling `dst` completely; default randomFillSync (getrandom). For tests. */
  readonly fill?: (dst: Uint8Array) => void;
  /** Clock of the rate limiter, in ms; default performance.now. For tests. */
  readonly now?: MillisecondClock;
}

/** Counters, monotonically increasing. Descriptor-level problems are counted by the queue. */
export interface VirtioRngMetrics {
  /** Requests answered (filled or refused). */
  requests: number;
  /** Random bytes written into guest buffers. */
  bytes: number;
  /** Guest-caused failures: device-readable buffers, no device-writable bytes. Answered with length 0. */
  errors: number;
  /** Host entropy failures (answered with length 0). */
  hostErrors: number;
  /** Requests larger than MAX_RNG_REQUEST_BYTES or the bandwidth bucket, filled in part. */
  truncated: number;
  /** Times a request waited for the rate limiter's refill. */
  throttled: number;
  /** Configuration-space writes (the device has no configuration). */
  ignoredConfigWrites: number;
  /** Used-buffer notifications sent to the driver. */
  usedNotifications: number;
}

/** JSON-safe snapshot state: the rate limiter's buckets (the queue is the transport's). */
export interface VirtioRngState {
  limiter?: RateLimiterState;
}

const log = createLogger('virtio-rng');

/** The virtio entropy device. */
export class VirtioRng implements VirtioDevice {
  readonly type = VIRTIO_ID_RNG;
  readonly name: string;
  readonly features = VIRTIO_F_VERSION_1 | VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_F_RING_EVENT_IDX;
  readonly queueMaxSizes: readonly number[];
  readonly metrics: VirtioRngMetrics = { requests: 0, bytes: 0, errors: 0, hostErrors: 0, truncated: 0, throttled: 0, ignoredConfigWrites: 0, usedNotifications: 0 };
  readonly limiter: RateLimiter | undefined;
  private readonly fill: (dst: Uint8Array) => void;
  private readonly warn = new RateLimitedLog(log);
  private state: ActivationState = INACTIVE;
  /** Armed while a request waits for the rate limiter; the queue is served when it fires. */
  private refillTimer: ReturnType<typeof setTimeout> | undefined;
  private rescheduled = false;

  constructor(options: VirtioRngOptions = {}) {
    this.name = options.name ?? 'rng';
    this.queueMaxSizes = [options.queueSize ?? DEFAULT_RNG_QUEUE_SIZE];
    this.fill = options.fill ?? ((dst) => void randomFillSync(dst));
    try {
      this.limiter = options.rateLimiter === undefined ? undefined : new RateLimiter(options.rateLimiter, options.now);
    } catch (err) {
      throw new VirtioError('invalid-config', `${this.name}: invalid rate limiter`, { cause: err });
    }
  }

  /** True while a request is held back by the rate limiter. */
  get throttledNow(): boolean {
    return this.refillTimer !== undefined;
  }

  readConfig(): void {
    // 5.4.4: no device configuration; the transport pre-zeroes the data.
  }

  writeConfig(offset: number, data: Uint8Array): void {
    this.metrics.ignoredConfigWrites++;
    this.warn.warn(`${this.name}: ignored ${data.length}-byte config write at offset ${offset}; the device has no configuration`);
  }

  activate(ctx: ActivateContext): void {
    this.state = { kind: 'active', ...ctx };
  }

  reset(): void {
    this.state = INACTIVE;
    if (this.refillTimer !== undefined) clearTimeout(this.refillTimer);
    this.refillTimer = undefined;
  }

  queueNotify(index: number): void {
    // A kick while a request waits for the limiter changes nothing: the timer serves the queue.
    if (index !== 0 || this.refillTimer !== undefined) return;
    this.serve();
  }

  save(): VirtioRngState {
    return this.limiter === undefined ? {} : { limiter: this.limiter.save() };
  }

  /** Restores a save() of a device with the same rate limit. Throws VirtioError('invalid-config'). */
  restore(state: VirtioRngState): void {
    if (typeof state !== 'object' || state === null) throw new VirtioError('invalid-config', `${this.name}: rng state must be an object`);
    if (this.limiter === undefined) {
      if (state.limiter !== undefined) throw new VirtioError('invalid-config', `${this.name}: the state has a rate limiter and this device has none`);
      return;
    }
    if (state.limiter === undefined) throw new VirtioError('invalid-config', `${this.name}: the state lacks the rate limiter this device has`);
    try {
      this.limiter.restore(state.limiter);
    } catch (err) {
      if (err instanceof RateLimiterError) throw new VirtioError('invalid-config', `${this.name}: invalid rate limiter state`, { cause: err });
      throw err;
    }
  }

  private serve(): void {
    const s = this.state;
    const queue: Queue | undefined = s.kind === 'active' ? s.queues[0] : undefined;
    if (s.kind !== 'active' || queue === undefined || !queue.ready) return;
    // As virtio-blk: at most one queue's worth of heads per turn, then yield to the event loop.
    const start = queue.headsTaken;
    const taken = () => queue.headsTaken - start;
    let chain: DescriptorChain | undefined;
    while (taken() < queue.size && (chain = queue.pop(s.mem, queue.size - taken())) !== undefined) {
      const len = this.process(s.mem, chain);
      if (len === undefined) {
        queue.undoPop();
        break;
      }
      queue.addUsed(s.mem, chain.head, len);
    }
    if (queue.needsNotification(s.mem)) {
      this.metrics.usedNotifications++;
      s.interrupt.signalUsedQueue(0);
    }
    if (taken() >= queue.size && this.refillTimer === undefined && !this.rescheduled) {
      this.rescheduled = true;
      setImmediate(() => {
        this.rescheduled = false;
        if (this.refillTimer === undefined) this.serve();
      });
    }
  }

  /** Fills one request; returns the used length, or undefined when it must wait for the limiter. */
  private process(mem: GuestMemory, chain: DescriptorChain): number | undefined {
    // 5.4.6.1: the driver places device-writable buffers only.
    if (chain.readable.length > 0) return this.bad(chain, `has ${chain.readable.length} device-readable buffers`);
    if (chain.writableBytes === 0) return this.bad(chain, 'has no device-writable bytes');
    let len = Math.min(chain.writableBytes, MAX_RNG_REQUEST_BYTES);
    if (this.limiter !== undefined) {
      len = Math.min(len, this.limiter.maxBytes);
      if (!this.limiter.consume(len)) {
        this.waitForRefill(this.limiter.delayFor(len));
        return undefined;
      }
    }
    this.metrics.requests++;
    if (len < chain.writableBytes) this.metrics.truncated++;
    try {
      forEachSegment(chain.writable, 0, len, (gpa, n) => this.fill(mem.slice(gpa, n)));
    } catch (err) {
      this.metrics.hostErrors++;
      this.warn.warn(`${this.name}: the host entropy source failed`, { error: err instanceof Error ? err.message : String(err) });
      return 0;
    }
    this.metrics.bytes += len;
    return len;
  }

  private waitForRefill(delayMs: number): void {
    this.metrics.throttled++;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.serve();
    }, Math.max(1, delayMs));
    // The VMM's other handles keep the process alive; a pending refill must not.
    this.refillTimer.unref();
  }

  private bad(chain: DescriptorChain, what: string): number {
    this.metrics.requests++;
    this.metrics.errors++;
    this.warn.warn(`${this.name}: request ${chain.head} ${what}; answered with 0 bytes`);
    return 0;
  }
}
