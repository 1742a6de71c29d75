// virtio-net (virtio 1.2 section 5.1) with one queue pair on a host tap: receiveq 0 is filled from
// the tap when its fd is readable, transmitq 1 is written to the tap on each kick. Offloads
// (checksum, TSO, UFO) pass through the shared vnet header; MRG_RXBUF spreads a 64 KiB frame over
// the guest's receive buffers. The configuration is the MAC and LINK_UP.
import { createLogger, RateLimitedLog } from '@workervisor/base';
import { le } from '@workervisor/base';
import {
  INACTIVE,
  VIRTIO_F_RING_EVENT_IDX,
  VIRTIO_F_RING_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  VIRTIO_ID_NET,
  VirtioError,
  type ActivateContext,
  type ActivationState,
  type VirtioDevice,
} from '../device.js';
import type { Queue } from '../queue.js';
import {
  NET_CONFIG_SIZE,
  NET_CONFIG_STATUS,
  NET_RX_QUEUE,
  NET_TX_QUEUE,
  VIRTIO_NET_F_GUEST_ECN,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_GUEST_UFO,
  VIRTIO_NET_F_HOST_ECN,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
  VIRTIO_NET_F_HOST_UFO,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_STATUS,
  VIRTIO_NET_S_LINK_UP,
  formatMac,
  guestOffloadFeatures,
  hostOffloadFeatures,
  parseMac,
  tapOffloadFor,
  type NetBackend,
  type VirtioNetMetrics,
} from './header.js';
import { NetRx } from './rx.js';
import { NetTx } from './tx.js';

/** Default QueueNumMax of each queue (Cloud Hypervisor's NetConfig.queue_size). */
export const DEFAULT_NET_QUEUE_SIZE = 256;
/** How long receive stays paused after a tap read error before trying again (ms). */
export const RX_RETRY_MS = 1000;

export interface VirtioNetOptions {
  readonly backend: NetBackend;
  /** The guest's MAC (6 bytes), offered with VIRTIO_NET_F_MAC. */
  readonly mac: Uint8Array;
  /** Name for logs and counters; default `net`. */
  readonly name?: string;
  /** QueueNumMax of both queues, a power of two; default DEFAULT_NET_QUEUE_SIZE. */
  readonly queueSize?: number;
  /**
   * Offloads the device may offer at all, both directions (Cloud Hypervisor's offload_csum,
   * offload_tso, offload_ufo); default all. Without csum there is no TSO or UFO (5.1.3.1).
   */
  readonly offloads?: { readonly csum: boolean; readonly tso: boolean; readonly ufo: boolean };
}

const TSO_FEATURES = VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6 | VIRTIO_NET_F_HOST_ECN | VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6 | VIRTIO_NET_F_GUEST_ECN;
const UFO_FEATURES = VIRTIO_NET_F_HOST_UFO | VIRTIO_NET_F_GUEST_UFO;

/** The offload features for a tap accepting `tapOffloads`, less what `allow` switches off. */
function offloadFeatures(tapOffloads: number, allow: NonNullable<VirtioNetOptions['offloads']>): bigint {
  if (!allow.csum) return 0n;
  let f = hostOffloadFeatures(tapOffloads) | guestOffloadFeatures(tapOffloads);
  if (!allow.tso) f &= ~TSO_FEATURES;
  if (!allow.ufo) f &= ~UFO_FEATURES;
  return f;
}

const log = createLogger('virtio-net');

/**
 * JSON-safe snapshot state. The queues are the transport's; the tap is reopened by name from the
 * config. What is the device's own: the MAC the guest read (a random one is not made twice) and
 * the receive buffers it had popped and held for the next frame (their heads; the chains are
 * read back from guest RAM). Nothing else is in flight: receive and transmit complete a frame
 * within one event-loop turn, and a paused VM gets no turn between a pop and its used entry.
 */
export interface VirtioNetState {
  mac: string;
  heldRx: number[];
}

/** The virtio network device. */
export class VirtioNet implements VirtioDevice {
  readonly type = VIRTIO_ID_NET;
  readonly name: string;
  readonly features: bigint;
  readonly queueMaxSizes: readonly number[];
  readonly mac: Uint8Array;
  readonly metrics: VirtioNetMetrics = {
    rxFrames: 0,
    rxBytes: 0,
    txFrames: 0,
    txBytes: 0,
    rxDropped: 0,
    txDropped: 0,
    errors: 0,
    rxTapErrors: 0,
    txTapErrors: 0,
    rxNoBuffers: 0,
    usedNotifications: 0,
    ignoredConfigWrites: 0,
  };
  private readonly backend: NetBackend;
  private readonly warn = new RateLimitedLog(log);
  private readonly rx: NetRx;
  private readonly tx: NetTx;
  private state: ActivationState = INACTIVE;
  private readonly config = new Uint8Array(NET_CONFIG_SIZE);
  /** Receive is waiting: for guest buffers (resumed by a receiveq kick) or after a tap error (timer). */
  private rxWait: 'none' | 'buffers' | 'retry' = 'none';
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private txRescheduled = false;
  /** Between quiesce() and unquiesce(): no tap reads, no transmits (a snapshot is being taken). */
  private quiesced = false;
  private txDeferred = false;
  private readonly onTapReadable = (): void => this.receive();

  constructor(options: VirtioNetOptions) {
    this.name = options.name ?? 'net';
    if (options.mac.length !== 6) throw new VirtioError('invalid-config', `${this.name}: a MAC has 6 bytes, not ${options.mac.length}`);
    this.mac = Uint8Array.from(options.mac);
    this.backend = options.backend;
    const size = options.queueSize ?? DEFAULT_NET_QUEUE_SIZE;
    this.queueMaxSizes = [size, size];
    this.features =
      VIRTIO_F_VERSION_1 |
      VIRTIO_F_RING_INDIRECT_DESC |
      VIRTIO_F_RING_EVENT_IDX |
      VIRTIO_NET_F_MAC |
      VIRTIO_NET_F_STATUS |
      VIRTIO_NET_F_MRG_RXBUF |
      offloadFeatures(this.backend.offloads, options.offloads ?? { csum: true, tso: true, ufo: true });
    this.config.set(this.mac, 0);
    le.putU16(this.config, NET_CONFIG_STATUS, VIRTIO_NET_S_LINK_UP);
    this.rx = new NetRx(this.name, this.backend, this.metrics, this.warn);
    this.tx = new NetTx(this.name, this.backend, this.metrics, this.warn);
  }

  /** Receive buffers popped and held for the next frame. */
  get heldRxBuffers(): number {
    return this.rx.heldChains;
  }

  /** Why receive is paused, if it is. */
  get rxPaused(): 'none' | 'buffers' | 'retry' {
    return this.rxWait;
  }

  /**
   * Stops the host side from touching guest RAM or raising an interrupt until unquiesce(): no tap
   * reads, transmits deferred. For the span of a snapshot, whose vCPU states are saved before its
   * RAM and irqchip: a frame delivered in between would leave a used entry whose interrupt is in
   * no saved LAPIC, and with EVENT_IDX the driver would never be told of it.
   */
  quiesce(): void {
    this.quiesced = true;
    this.watchTap(false);
  }

  /** Lets receive and transmit go on after quiesce(), serving what was deferred. */
  unquiesce(): void {
    if (!this.quiesced) return;
    this.quiesced = false;
    if (this.state.kind === 'active' && this.rxWait === 'none' && !this.watchTap(true)) this.retryLater();
    if (this.txDeferred) {
      this.txDeferred = false;
      this.transmit();
    }
  }

  save(): VirtioNetState {
    return { mac: formatMac(this.mac), heldRx: this.rx.heldHeads() };
  }

  /**
   * Restores a save() on a device the transport has re-activated (or an inactive one, which
   * holds nothing): the MAC, and the held receive chains. Throws VirtioError('invalid-config')
   * for a malformed state.
   */
  restore(state: VirtioNetState): void {
    const mac = typeof state === 'object' && state !== null && typeof state.mac === 'string' ? parseMac(state.mac) : undefined;
    if (mac === undefined) throw new VirtioError('invalid-config', `${this.name}: the snapshot state has no valid MAC`);
    const heads = state.heldRx;
    if (!Array.isArray(heads) || heads.some((h) => !Number.isInteger(h) || h < 0 || h > 0xffff)) throw new VirtioError('invalid-config', `${this.name}: the snapshot state's held receive buffers are not descriptor indices`);
    this.mac.set(mac);
    this.config.set(mac, 0);
    const q = this.activeQueue(NET_RX_QUEUE);
    if (q !== undefined) this.rx.restoreHeld(q.s.mem, q.queue, heads);
    else if (heads.length > 0) throw new VirtioError('invalid-config', `${this.name}: the snapshot state holds ${heads.length} receive buffers but the receive queue is not live`);
  }

  readConfig(offset: number, data: Uint8Array): void {
    // 5.1.4: mac, then status; bytes past them read 0 (the transport pre-zeroes data).
    for (let i = 0; i < data.length && offset + i < NET_CONFIG_SIZE; i++) data[i] = this.config[offset + i] ?? 0;
  }

  writeConfig(offset: number, data: Uint8Array): void {
    // 5.1.4.2: with VERSION_1 the driver must not write the MAC; nothing here is writable.
    this.metrics.ignoredConfigWrites++;
    this.warn.warn(`${this.name}: ignored ${data.length}-byte config write at offset ${offset}; the configuration is read-only`);
  }

  activate(ctx: ActivateContext): void {
    this.state = { kind: 'active', ...ctx };
    this.rx.mergeable = (ctx.features & VIRTIO_NET_F_MRG_RXBUF) !== 0n;
    const offload = tapOffloadFor(ctx.features);
    try {
      this.backend.setOffload(offload);
    } catch (err) {
      // A guest asking for GSO without GUEST_CSUM cannot get here (tapOffloadFor); a tap refusing
      // what it accepted at open can. Without offloads the guest gets plain frames, never GSO ones.
      this.warn.warn(`${this.name}: tap ${this.backend.name} refused offloads 0x${offload.toString(16)}; receiving without offloads`, { error: err instanceof Error ? err.message : String(err) });
      try {
        this.backend.setOffload(0);
      } catch (err2) {
        throw new VirtioError('activate', `${this.name}: tap ${this.backend.name} refuses to turn its offloads off`, { cause: err2 });
      }
    }
    this.rxWait = 'none';
    if (!this.watchTap(true)) this.retryLater();
  }

  reset(): void {
    this.watchTap(false);
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.rxWait = 'none';
    this.rx.reset();
    this.state = INACTIVE;
  }

  queueNotify(index: number): void {
    if (index === NET_TX_QUEUE) this.transmit();
    else if (index === NET_RX_QUEUE && this.rxWait === 'buffers') {
      // New receive buffers: look at the tap again (its fd is level-triggered, so waiting
      // frames fire the handler at once).
      this.rxWait = 'none';
      this.receive();
      if (!this.quiesced && this.activeQueue(NET_RX_QUEUE) !== undefined && this.rxWait === 'none' && !this.watchTap(true)) this.retryLater();
    }
  }

  private activeQueue(index: number): { queue: Queue; s: Extract<ActivationState, { kind: 'active' }> } | undefined {
    const s = this.state;
    if (s.kind !== 'active') return undefined;
    const queue = s.queues[index];
    return queue === undefined || !queue.ready ? undefined : { queue, s };
  }

  private transmit(): void {
    const q = this.activeQueue(NET_TX_QUEUE);
    if (q === undefined) return;
    if (this.quiesced) {
      this.txDeferred = true;
      return;
    }
    const more = this.tx.process(q.s.mem, q.queue);
    this.notify(q.queue, NET_TX_QUEUE);
    if (more && !this.txRescheduled) {
      // A queue's worth per turn, then yield to the event loop (RX and the vCPUs' exits).
      this.txRescheduled = true;
      setImmediate(() => {
        this.txRescheduled = false;
        this.transmit();
      });
    }
  }

  private receive(): void {
    const q = this.activeQueue(NET_RX_QUEUE);
    if (q === undefined || this.quiesced) {
      this.watchTap(false);
      return;
    }
    const stop = this.rx.process(q.s.mem, q.queue, q.queue.size);
    this.notify(q.queue, NET_RX_QUEUE);
    if (stop === 'no-buffers') {
      // Stop watching the tap, or its level-triggered readiness would spin; a receiveq kick resumes.
      this.metrics.rxNoBuffers++;
      this.rxWait = 'buffers';
      this.watchTap(false);
    } else if (stop === 'tap-error') {
      this.watchTap(false);
      this.retryLater();
    }
  }

  /** Pauses receive for RX_RETRY_MS, then watches the tap again (and again later if that fails). */
  private retryLater(): void {
    this.rxWait = 'retry';
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.state.kind !== 'active') return;
      this.rxWait = 'none';
      // Quiesced: unquiesce() watches the tap again.
      if (!this.quiesced && !this.watchTap(true)) this.retryLater();
    }, RX_RETRY_MS);
    // The VMM's other handles keep the process alive; a pending retry must not.
    this.retryTimer.unref();
  }

  /** Starts or stops watching the tap; a host failure to (un)watch is counted and logged, never thrown into a timer or a kick. */
  private watchTap(on: boolean): boolean {
    try {
      this.backend.onReadable(on ? this.onTapReadable : undefined);
      return true;
    } catch (err) {
      this.metrics.rxTapErrors++;
      this.warn.warn(`${this.name}: cannot ${on ? 'watch' : 'stop watching'} tap ${this.backend.name}`, { error: err instanceof Error ? err.message : String(err) });
      return false;
    }
  }

  private notify(queue: Queue, index: number): void {
    const s = this.state;
    if (s.kind !== 'active' || !queue.needsNotification(s.mem)) return;
    this.metrics.usedNotifications++;
    s.interrupt.signalUsedQueue(index);
  }
}
