// virtio-net receiveq (virtio 1.2 section 5.1.6.3/5.1.6.4): frames from the tap are read straight
// into the guest's posted buffers (one readv over their guest-RAM views). With
// VIRTIO_NET_F_MRG_RXBUF a frame spreads over several chains and num_buffers says how many;
// without it each frame takes one chain. Chains popped but not yet filled are held for the next frame.
import type { GuestMemory } from '../../guest-memory.js';
import { le } from '@workervisor/base';
import type { RateLimitedLog } from '@workervisor/base';
import { writeSegments, type DescriptorChain, type Queue } from '../queue.js';
import { MAX_FRAME_SIZE, NET_HDR_NUM_BUFFERS, NET_HDR_SIZE, type NetBackend, type VirtioNetMetrics } from './header.js';
import { MAX_IOV } from './tx.js';

/** Why a receive pass stopped. */
export type RxStop =
  /** The tap has no frame waiting. */
  | 'idle'
  /** The guest has too few receive buffers posted for the largest frame. */
  | 'no-buffers'
  /** The tap failed or reached EOF (deleted). */
  | 'tap-error'
  /** The frame budget ran out; the tap may have more. */
  | 'budget';

interface HeldChain {
  readonly chain: DescriptorChain;
  readonly views: readonly Uint8Array[];
}

/** The receive side of one queue pair. */
export class NetRx {
  /** VIRTIO_NET_F_MRG_RXBUF negotiated. */
  mergeable = false;
  /** Popped, well-formed chains not yet used, in ring order, with their guest-RAM views (made once). */
  private held: HeldChain[] = [];

  constructor(
    private readonly name: string,
    private readonly backend: NetBackend,
    private readonly metrics: VirtioNetMetrics,
    private readonly warn: RateLimitedLog,
  ) {}

  /** Receive buffers held for the next frame (the guest gets them back as used, or on reset). */
  get heldChains(): number {
    return this.held.length;
  }

  /** Head indices of the held chains, in ring order (a snapshot's state). */
  heldHeads(): number[] {
    return this.held.map((h) => h.chain.head);
  }

  /**
   * Holds again the chains a snapshot's heldHeads() named, read back from guest RAM (they were
   * popped off the available ring, which the restored queue indices already account for). A chain
   * that no longer reads well is returned as used with length 0, as fill() does.
   */
  restoreHeld(mem: GuestMemory, queue: Queue, heads: readonly number[]): void {
    this.held = [];
    for (const head of heads) {
      const chain = queue.heldChain(mem, head);
      const problem = typeof chain === 'string' ? chain : this.check(chain);
      if (problem === undefined && typeof chain !== 'string') {
        const views: Uint8Array[] = [];
        for (const d of chain.writable) if (d.len > 0) views.push(mem.slice(d.addr, d.len));
        this.held.push({ chain, views });
        continue;
      }
      this.metrics.errors++;
      this.warn.warn(`${this.name}: restored receive chain ${head} ${problem}; returned unused`);
      if (head >= 0 && head < queue.size) queue.addUsed(mem, head, 0);
    }
  }

  /** Forgets held chains (device reset: the driver reclaims every buffer). */
  reset(): void {
    this.held = [];
  }

  /** Moves up to `budget` frames from the tap into the guest's buffers. */
  process(mem: GuestMemory, queue: Queue, budget: number): RxStop {
    for (let frames = 0; frames < budget; frames++) {
      const capacity = this.fill(mem, queue);
      if (capacity === 0) return 'no-buffers';
      const chains = this.mergeable ? this.included() : this.held.slice(0, 1);
      const views = chains.length === 1 ? (chains[0] as HeldChain).views : chains.flatMap((h) => h.views);
      let n: number;
      try {
        n = this.backend.read(views);
      } catch (err) {
        this.tapError(err instanceof Error ? err.message : String(err));
        return 'tap-error';
      }
      if (n < 0) return 'idle';
      if (n === 0) {
        this.tapError('end of file (was the tap deleted?)');
        return 'tap-error';
      }
      const room = chains.reduce((sum, h) => sum + h.chain.writableBytes, 0);
      if (n > room || n < NET_HDR_SIZE) {
        // The tap truncated the frame to the buffers: drop it and keep the buffers for the next.
        this.metrics.rxDropped++;
        this.warn.warn(`${this.name}: dropped a ${n}-byte frame from tap ${this.backend.name}; the guest's ${chains.length} receive buffer(s) hold ${room} bytes`);
        continue;
      }
      this.complete(mem, queue, n);
    }
    return 'budget';
  }

  /**
   * Pops chains until the held ones can take the largest frame (with MRG_RXBUF; one chain without)
   * or the guest has no more posted. Malformed chains go back as used with length 0. Returns the
   * bytes the held chains take, or 0 when a frame must wait for more buffers.
   */
  private fill(mem: GuestMemory, queue: Queue): number {
    const start = queue.headsTaken;
    for (;;) {
      const have = this.mergeable ? this.included().reduce((sum, h) => sum + h.chain.writableBytes, 0) : (this.held[0]?.chain.writableBytes ?? 0);
      if (this.mergeable ? have >= MAX_FRAME_SIZE : this.held.length > 0) return have;
      const taken = queue.headsTaken - start;
      const chain = taken < queue.size ? queue.pop(mem, queue.size - taken) : undefined;
      if (chain === undefined) {
        // The whole ring is posted and still smaller than a 64 KiB frame (a small queue_size):
        // take what there is; a larger frame is dropped. Otherwise wait for the guest to post more.
        return this.mergeable && this.held.length >= queue.size ? have : 0;
      }
      const problem = this.check(chain);
      if (problem === undefined) {
        const views: Uint8Array[] = [];
        for (const d of chain.writable) if (d.len > 0) views.push(mem.slice(d.addr, d.len));
        this.held.push({ chain, views });
        continue;
      }
      this.metrics.errors++;
      this.warn.warn(`${this.name}: receive chain ${chain.head} ${problem}; returned unused`);
      queue.addUsed(mem, chain.head, 0);
    }
  }

  private check(chain: DescriptorChain): string | undefined {
    // 5.1.6.3.1: receive buffers are device-writable, each at least as large as the header.
    if (chain.readable.length > 0) return `has ${chain.readable.length} device-readable buffers`;
    if (chain.writableBytes < NET_HDR_SIZE) return `has ${chain.writableBytes} bytes, less than the ${NET_HDR_SIZE}-byte header`;
    if (chain.writable.length > MAX_IOV) return `is in ${chain.writable.length} pieces, more than ${MAX_IOV}`;
    return undefined;
  }

  /**
   * The held chains one readv covers: whole chains, at most MAX_IOV pieces in all, and no more
   * than the largest frame needs (a full ring of small buffers would otherwise cost a view each).
   */
  private included(): HeldChain[] {
    const out: HeldChain[] = [];
    let pieces = 0;
    let bytes = 0;
    for (const h of this.held) {
      if (bytes >= MAX_FRAME_SIZE || pieces + h.views.length > MAX_IOV) break;
      pieces += h.views.length;
      bytes += h.chain.writableBytes;
      out.push(h);
    }
    return out;
  }

  /** Hands the first chains holding the `n`-byte frame back as used and sets num_buffers. */
  private complete(mem: GuestMemory, queue: Queue, n: number): void {
    const lengths: number[] = [];
    let left = n;
    for (const { chain: c } of this.held) {
      if (left === 0) break;
      const len = Math.min(left, c.writableBytes);
      lengths.push(len);
      left -= len;
    }
    const first = (this.held[0] as HeldChain).chain;
    // 5.1.6.4: num_buffers is the number of chains the frame took (1 without MRG_RXBUF). The tap
    // leaves these two bytes of its 12-byte header untouched.
    const numBuffers = new Uint8Array(2);
    le.putU16(numBuffers, 0, lengths.length);
    writeSegments(mem, first.writable, NET_HDR_NUM_BUFFERS, numBuffers);
    const used = this.held.splice(0, lengths.length);
    used.forEach((h, i) => queue.addUsed(mem, h.chain.head, lengths[i] ?? 0));
    this.metrics.rxFrames++;
    this.metrics.rxBytes += n - NET_HDR_SIZE;
  }

  private tapError(what: string): void {
    this.metrics.rxTapErrors++;
    this.warn.warn(`${this.name}: reading tap ${this.backend.name} failed: ${what}; receive paused, retrying in 1 s`);
  }
}
