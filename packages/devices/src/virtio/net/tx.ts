// virtio-net transmitq (virtio 1.2 section 5.1.6.2): each chain is a vnet header and a frame in
// device-readable buffers; their guest-RAM views are gathered straight into one writev on the tap.
import type { GuestMemory } from '../../guest-memory.js';
import type { RateLimitedLog } from '@workervisor/base';
import type { DescriptorChain, Queue } from '../queue.js';
import { MAX_FRAME_SIZE, NET_HDR_SIZE, type NetBackend, type VirtioNetMetrics } from './header.js';

/** The most pieces one writev takes (Linux's IOV_MAX); a chain in more pieces is dropped. */
export const MAX_IOV = 1024;

/** Drains transmitq into the backend; one queue's worth of heads per call. */
export class NetTx {
  constructor(
    private readonly name: string,
    private readonly backend: NetBackend,
    private readonly metrics: VirtioNetMetrics,
    private readonly warn: RateLimitedLog,
  ) {}

  /** Sends every available chain, up to queue.size heads. Returns true when it stopped at the budget (more may wait). */
  process(mem: GuestMemory, queue: Queue): boolean {
    const start = queue.headsTaken;
    const taken = () => queue.headsTaken - start;
    let chain: DescriptorChain | undefined;
    while (taken() < queue.size && (chain = queue.pop(mem, queue.size - taken())) !== undefined) {
      this.send(mem, chain);
      // 5.1.6.2: the device writes nothing into transmit buffers.
      queue.addUsed(mem, chain.head, 0);
    }
    return taken() >= queue.size;
  }

  private send(mem: GuestMemory, chain: DescriptorChain): void {
    if (chain.writable.length > 0) return this.drop(chain, `has ${chain.writable.length} device-writable buffers`, true);
    if (chain.readableBytes < NET_HDR_SIZE) return this.drop(chain, `has ${chain.readableBytes} bytes, less than the ${NET_HDR_SIZE}-byte header`, true);
    if (chain.readableBytes > MAX_FRAME_SIZE) return this.drop(chain, `has ${chain.readableBytes} bytes, more than a ${MAX_FRAME_SIZE}-byte frame`, false);
    const views: Uint8Array[] = [];
    for (const d of chain.readable) if (d.len > 0) views.push(mem.slice(d.addr, d.len));
    if (views.length > MAX_IOV) return this.drop(chain, `is in ${views.length} pieces, more than ${MAX_IOV}`, false);
    let n: number;
    try {
      n = this.backend.write(views);
    } catch (err) {
      this.metrics.txTapErrors++;
      this.metrics.txDropped++;
      this.warn.warn(`${this.name}: writing a frame to tap ${this.backend.name} failed; dropped`, { error: err instanceof Error ? err.message : String(err) });
      return;
    }
    if (n < 0) {
      // The tap's queue is full: drop, as a NIC with a full ring does; TCP retransmits.
      this.metrics.txDropped++;
      return;
    }
    this.metrics.txFrames++;
    this.metrics.txBytes += chain.readableBytes - NET_HDR_SIZE;
  }

  private drop(chain: DescriptorChain, what: string, guestError: boolean): void {
    this.metrics.txDropped++;
    if (guestError) this.metrics.errors++;
    this.warn.warn(`${this.name}: transmit chain ${chain.head} ${what}; dropped`);
  }
}
