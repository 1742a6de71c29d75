// virtio-balloon, the traditional memory balloon (virtio 1.2 section 5.5): the device sets a target
// (num_pages), the driver inflates by handing pages over on the inflate queue, deflates on the
// deflate queue and reports its size in `actual`. Inflated pages are given back to the host
// (MemoryDiscard: a hole punched in guest RAM's memfd); with VIRTIO_BALLOON_F_STATS_VQ the driver's
// memory statistics are collected every interval, and with VIRTIO_BALLOON_F_PAGE_REPORTING the free
// pages it reports are discarded too.
import type { GuestMemory, MemoryDiscard } from '../guest-memory.js';
import { createLogger, RateLimitedLog } from '@workervisor/base';
import { BALLOON_PAGE_SIZE, coalescePfns, readPfns, type PageRange } from './balloon-pages.js';
import { parseBalloonStats } from './balloon-stats.js';
import {
  INACTIVE,
  VIRTIO_F_RING_EVENT_IDX,
  VIRTIO_F_RING_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  VIRTIO_ID_BALLOON,
  VirtioError,
  type ActivateContext,
  type ActivationState,
  type VirtioDevice,
} from './device.js';
import { readSegments, type DescriptorChain, type Queue } from './queue.js';

/** Feature bits (5.5.3), as masks. */
export const VIRTIO_BALLOON_F_MUST_TELL_HOST = 1n << 0n;
export const VIRTIO_BALLOON_F_STATS_VQ = 1n << 1n;
export const VIRTIO_BALLOON_F_DEFLATE_ON_OOM = 1n << 2n;
export const VIRTIO_BALLOON_F_FREE_PAGE_HINT = 1n << 3n;
export const VIRTIO_BALLOON_F_PAGE_POISON = 1n << 4n;
export const VIRTIO_BALLOON_F_PAGE_REPORTING = 1n << 5n;

/** Default QueueNumMax of every queue (Firecracker's). */
export const DEFAULT_BALLOON_QUEUE_SIZE = 256;
/**
 * The most PFNs one inflate or deflate buffer is read for. Linux sends at most 256
 * (VIRTIO_BALLOON_ARRAY_PFNS_MAX); a larger buffer is served in part, so a hostile one cannot keep
 * the core sorting for long. Pages past the cap stay with the host's RAM accounting as they were.
 */
export const MAX_BALLOON_PFNS_PER_REQUEST = 16384;
/** The config space: le32 num_pages, le32 actual, le32 free_page_hint_cmd_id, le32 poison_val (5.5.4). */
const CONFIG_SIZE = 16;
const NUM_PAGES_OFFSET = 0;
const ACTUAL_OFFSET = 4;
/** num_pages and actual are le32 page counts. */
const MAX_PAGES = 0xffff_ffff;

export interface VirtioBalloonOptions {
  /** Gives inflated and reported pages back to the host. */
  readonly discard: MemoryDiscard;
  /** Name for logs and counters; default `balloon`. */
  readonly name?: string;
  /** QueueNumMax of every queue, a power of two; default DEFAULT_BALLOON_QUEUE_SIZE. */
  readonly queueSize?: number;
  /** The first target, in bytes (rounded down to 4 KiB pages); default 0. */
  readonly targetBytes?: number;
  /** Offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM: the guest may take pages back when it runs out of memory. */
  readonly deflateOnOom?: boolean;
  /** Offer VIRTIO_BALLOON_F_STATS_VQ and ask for fresh statistics this often (ms); 0 or absent: no stats queue. */
  readonly statsIntervalMs?: number;
  /** Offer VIRTIO_BALLOON_F_PAGE_REPORTING: the pages the guest reports free are discarded. */
  readonly freePageReporting?: boolean;
}

/** Counters, monotonically increasing. Descriptor-level problems are counted by the queues. */
export interface VirtioBalloonMetrics {
  /** Buffers served on the inflate / deflate queue. */
  inflateRequests: number;
  deflateRequests: number;
  /** Valid PFNs the driver inflated / deflated. */
  inflatedPages: number;
  deflatedPages: number;
  /** Bytes given back to the host from inflated pages, and the discard calls that did it. */
  discardedBytes: number;
  discardRanges: number;
  /** Buffers served on the reporting queue, and the bytes of free pages given back through them. */
  reportRequests: number;
  reportedBytes: number;
  /** PFNs (or reported ranges) outside guest RAM: ignored. */
  badPfns: number;
  /** Guest-caused buffer problems: device-writable buffers, a partial PFN entry, unaligned reports. */
  badRequests: number;
  /** Buffers with more than MAX_BALLOON_PFNS_PER_REQUEST PFNs, served in part. */
  truncated: number;
  /** Discards the host failed (the pages stay allocated). */
  hostErrors: number;
  /** Statistics buffers received from the driver / returned to it to ask for fresh ones. */
  statsUpdates: number;
  statsRequests: number;
  /** Statistics entries with a tag we do not know. */
  unknownStatTags: number;
  /** Configuration-space writes other than to `actual`. */
  ignoredConfigWrites: number;
  /** Target changes announced to the driver (configuration-change interrupts). */
  configChanges: number;
  /** Used-buffer notifications sent to the driver. */
  usedNotifications: number;
}

/** JSON-safe snapshot state (the queues are the transport's). */
export interface VirtioBalloonState {
  numPages: number;
  actual: number;
  stats: Record<string, number>;
  /** The statistics buffer the device holds until it asks for fresh statistics. */
  statsHead?: number;
}

/** Where each queue is: the stats and reporting queues exist only when negotiated, and shift down (5.5.2). */
interface QueueLayout {
  readonly inflate: number;
  readonly deflate: number;
  readonly stats: number | undefined;
  readonly reporting: number | undefined;
}

const log = createLogger('virtio-balloon');

/** The virtio memory balloon. */
export class VirtioBalloon implements VirtioDevice {
  readonly type = VIRTIO_ID_BALLOON;
  readonly name: string;
  readonly features: bigint;
  readonly queueMaxSizes: readonly number[];
  readonly metrics: VirtioBalloonMetrics = {
    inflateRequests: 0,
    deflateRequests: 0,
    inflatedPages: 0,
    deflatedPages: 0,
    discardedBytes: 0,
    discardRanges: 0,
    reportRequests: 0,
    reportedBytes: 0,
    badPfns: 0,
    badRequests: 0,
    truncated: 0,
    hostErrors: 0,
    statsUpdates: 0,
    statsRequests: 0,
    unknownStatTags: 0,
    ignoredConfigWrites: 0,
    configChanges: 0,
    usedNotifications: 0,
  };
  private readonly discarder: MemoryDiscard;
  private readonly statsIntervalMs: number;
  private readonly warn = new RateLimitedLog(log);
  private state: ActivationState = INACTIVE;
  private layout: QueueLayout | undefined;
  private numPages: number;
  private actualPages = 0;
  private latestStats: Record<string, number> = {};
  private statsHead: number | undefined;
  private statsTimer: ReturnType<typeof setInterval> | undefined;
  /** Queues with a continuation scheduled after a full turn. */
  private readonly rescheduled = new Set<number>();

  constructor(options: VirtioBalloonOptions) {
    this.name = options.name ?? 'balloon';
    this.discarder = options.discard;
    this.statsIntervalMs = options.statsIntervalMs ?? 0;
    if (!Number.isSafeInteger(this.statsIntervalMs) || this.statsIntervalMs < 0) throw new VirtioError('invalid-config', `${this.name}: the statistics interval ${this.statsIntervalMs} ms is not a whole number of ms`);
    this.numPages = pagesOf(this.name, options.targetBytes ?? 0);
    let features = VIRTIO_F_VERSION_1 | VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_F_RING_EVENT_IDX;
    if (options.deflateOnOom === true) features |= VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
    if (this.statsIntervalMs > 0) features |= VIRTIO_BALLOON_F_STATS_VQ;
    if (options.freePageReporting === true) features |= VIRTIO_BALLOON_F_PAGE_REPORTING;
    this.features = features;
    const size = options.queueSize ?? DEFAULT_BALLOON_QUEUE_SIZE;
    const count = 2 + (this.statsIntervalMs > 0 ? 1 : 0) + (options.freePageReporting === true ? 1 : 0);
    this.queueMaxSizes = Array.from({ length: count }, () => size);
  }

  /** The target the device asks for, in 4 KiB pages (num_pages). */
  get targetPages(): number {
    return this.numPages;
  }

  /** The balloon's size as the driver last reported it, in 4 KiB pages (`actual`). */
  get actual(): number {
    return this.actualPages;
  }

  /** The driver's latest memory statistics by name (balloon-stats.ts); empty before the first. */
  get stats(): Readonly<Record<string, number>> {
    return this.latestStats;
  }

  /**
   * Sets the target to `bytes` (rounded down to 4 KiB pages) and, once the driver runs, tells it
   * with a configuration-change interrupt. Throws VirtioError('invalid-config') past 2^32 - 1 pages.
   */
  setTarget(bytes: number): void {
    const pages = pagesOf(this.name, bytes);
    if (pages === this.numPages) return;
    this.numPages = pages;
    log.info(`${this.name}: target ${pages} pages (${pages * BALLOON_PAGE_SIZE} bytes)`);
    if (this.state.kind === 'active') {
      this.metrics.configChanges++;
      this.state.interrupt.signalConfigChange();
    }
  }

  readConfig(offset: number, data: Uint8Array): void {
    const config = new Uint8Array(CONFIG_SIZE);
    const view = new DataView(config.buffer);
    view.setUint32(NUM_PAGES_OFFSET, this.numPages, true);
    view.setUint32(ACTUAL_OFFSET, this.actualPages, true);
    // free_page_hint_cmd_id and poison_val stay 0: neither feature is offered.
    if (offset >= CONFIG_SIZE) return;
    data.set(config.subarray(offset, Math.min(CONFIG_SIZE, offset + data.length)));
  }

  writeConfig(offset: number, data: Uint8Array): void {
    // 5.5.4: the driver writes `actual` only (Linux: a 4-byte virtio_cwrite_le).
    if (offset !== ACTUAL_OFFSET || data.length !== 4) {
      this.metrics.ignoredConfigWrites++;
      this.warn.warn(`${this.name}: ignored ${data.length}-byte config write at offset ${offset}; only the 4-byte actual at offset ${ACTUAL_OFFSET} is writable`);
      return;
    }
    this.actualPages = new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true);
  }

  activate(ctx: ActivateContext): void {
    let next = 2;
    const stats = (ctx.features & VIRTIO_BALLOON_F_STATS_VQ) !== 0n ? next++ : undefined;
    const reporting = (ctx.features & VIRTIO_BALLOON_F_PAGE_REPORTING) !== 0n ? next++ : undefined;
    this.layout = { inflate: 0, deflate: 1, stats, reporting };
    this.state = { kind: 'active', ...ctx };
    if (stats !== undefined && this.statsIntervalMs > 0) {
      this.statsTimer = setInterval(() => this.requestStats(), this.statsIntervalMs);
      // The VMM's other handles keep the process alive; a statistics timer must not.
      this.statsTimer.unref();
    }
  }

  reset(): void {
    this.state = INACTIVE;
    this.layout = undefined;
    this.statsHead = undefined;
    this.actualPages = 0;
    if (this.statsTimer !== undefined) clearInterval(this.statsTimer);
    this.statsTimer = undefined;
  }

  queueNotify(index: number): void {
    const l = this.layout;
    if (l === undefined) return;
    if (index === l.inflate) this.serve(index, (mem, chain) => this.pages(mem, chain, 'inflate'));
    else if (index === l.deflate) this.serve(index, (mem, chain) => this.pages(mem, chain, 'deflate'));
    else if (index === l.stats) this.serve(index, (mem, chain) => this.receiveStats(mem, chain));
    else if (index === l.reporting) this.serve(index, (mem, chain) => this.report(chain));
  }

  save(): VirtioBalloonState {
    return { numPages: this.numPages, actual: this.actualPages, stats: { ...this.latestStats }, ...(this.statsHead === undefined ? {} : { statsHead: this.statsHead }) };
  }

  /** Restores a save(). Throws VirtioError('invalid-config') for a malformed state. */
  restore(state: VirtioBalloonState): void {
    if (typeof state !== 'object' || state === null) throw new VirtioError('invalid-config', `${this.name}: balloon state must be an object`);
    const { numPages, actual, stats, statsHead } = state;
    for (const [key, v] of [['numPages', numPages], ['actual', actual]] as const) {
      if (!Number.isSafeInteger(v) || v < 0 || v > MAX_PAGES) throw new VirtioError('invalid-config', `${this.name}: balloon state ${key} ${String(v)} is not a page count`);
    }
    if (statsHead !== undefined && (!Number.isSafeInteger(statsHead) || statsHead < 0 || statsHead > 0xffff)) throw new VirtioError('invalid-config', `${this.name}: balloon state statsHead ${String(statsHead)} is not a descriptor index`);
    if (typeof stats !== 'object' || stats === null || Object.values(stats).some((v) => typeof v !== 'number')) throw new VirtioError('invalid-config', `${this.name}: balloon state stats must map names to numbers`);
    this.numPages = numPages;
    this.actualPages = actual;
    this.latestStats = { ...stats };
    this.statsHead = statsHead;
  }

  /**
   * Pops and serves the chains of queue `index`, at most one queue's worth per turn (as rng.ts),
   * then notifies the driver if it wants. `handle` returns the used length, or undefined to keep
   * the chain (the statistics buffer).
   */
  private serve(index: number, handle: (mem: GuestMemory, chain: DescriptorChain) => number | undefined): void {
    const s = this.state;
    const queue: Queue | undefined = s.kind === 'active' ? s.queues[index] : undefined;
    if (s.kind !== 'active' || queue === undefined || !queue.ready) return;
    const start = queue.headsTaken;
    const taken = () => queue.headsTaken - start;
    let chain: DescriptorChain | undefined;
    while (taken() < queue.size && (chain = queue.pop(s.mem, queue.size - taken())) !== undefined) {
      const len = handle(s.mem, chain);
      if (len !== undefined) queue.addUsed(s.mem, chain.head, len);
    }
    this.notify(index);
    if (taken() >= queue.size && !this.rescheduled.has(index)) {
      this.rescheduled.add(index);
      setImmediate(() => {
        this.rescheduled.delete(index);
        this.queueNotify(index);
      });
    }
  }

  private notify(index: number): void {
    const s = this.state;
    const queue = s.kind === 'active' ? s.queues[index] : undefined;
    if (s.kind !== 'active' || queue === undefined) return;
    if (queue.needsNotification(s.mem)) {
      this.metrics.usedNotifications++;
      s.interrupt.signalUsedQueue(index);
    }
  }

  /** One inflate or deflate buffer: its PFNs, checked against guest RAM; inflated pages are discarded. */
  private pages(mem: GuestMemory, chain: DescriptorChain, kind: 'inflate' | 'deflate'): number {
    this.metrics[kind === 'inflate' ? 'inflateRequests' : 'deflateRequests']++;
    // 5.5.6.1: both queues take device-readable buffers only.
    if (chain.writable.length > 0) return this.bad(chain, kind, `has ${chain.writable.length} device-writable buffers`);
    if (chain.readableBytes % 4 !== 0) this.bad(chain, kind, `has ${chain.readableBytes} bytes, not a whole number of le32 PFNs; the partial one is ignored`);
    let bytes = Math.floor(chain.readableBytes / 4) * 4;
    if (bytes > 4 * MAX_BALLOON_PFNS_PER_REQUEST) {
      this.metrics.truncated++;
      this.warn.warn(`${this.name}: ${kind} buffer ${chain.head} lists ${bytes / 4} PFNs; serving the first ${MAX_BALLOON_PFNS_PER_REQUEST}`);
      bytes = 4 * MAX_BALLOON_PFNS_PER_REQUEST;
    }
    const raw = new Uint8Array(bytes);
    readSegments(mem, chain.readable, 0, raw);
    const all = readPfns(raw);
    const valid = all.filter((pfn) => mem.checkRange(pfn * BALLOON_PAGE_SIZE, BALLOON_PAGE_SIZE));
    if (valid.length < all.length) {
      this.metrics.badPfns += all.length - valid.length;
      this.warn.warn(`${this.name}: ${kind} buffer ${chain.head} names ${all.length - valid.length} pages outside guest RAM; ignored`);
    }
    if (kind === 'deflate') {
      // Without VIRTIO_BALLOON_F_MUST_TELL_HOST the driver may use deflated pages at once: a
      // discarded page simply faults in a fresh zero page. Nothing to do but count.
      this.metrics.deflatedPages += valid.length;
      return 0;
    }
    this.metrics.inflatedPages += valid.length;
    for (const range of coalescePfns(valid)) this.discardRange(mem, range);
    return 0;
  }

  /** Discards one merged range; pages that merged across two RAM regions are split back into pages. */
  private discardRange(mem: GuestMemory, range: PageRange): number {
    if (!mem.checkRange(range.gpa, range.len)) {
      let freed = 0;
      for (let gpa = range.gpa; gpa < range.gpa + range.len; gpa += BALLOON_PAGE_SIZE) freed += this.discardRange(mem, { gpa, len: BALLOON_PAGE_SIZE });
      return freed;
    }
    try {
      this.discarder.discard(range.gpa, range.len);
    } catch (err) {
      this.metrics.hostErrors++;
      this.warn.warn(`${this.name}: discarding 0x${range.gpa.toString(16)}+0x${range.len.toString(16)} failed; the pages stay allocated`, { error: err instanceof Error ? err.message : String(err) });
      return 0;
    }
    this.metrics.discardRanges++;
    this.metrics.discardedBytes += range.len;
    return range.len;
  }

  /** A statistics buffer: read its entries and keep it until the next interval asks for fresh ones (5.5.6.3). */
  private receiveStats(mem: GuestMemory, chain: DescriptorChain): number | undefined {
    if (chain.writable.length > 0) return this.bad(chain, 'stats', `has ${chain.writable.length} device-writable buffers`);
    const raw = new Uint8Array(Math.min(chain.readableBytes, 4096));
    readSegments(mem, chain.readable, 0, raw);
    const parsed = parseBalloonStats(raw);
    this.latestStats = { ...this.latestStats, ...parsed.stats };
    this.metrics.unknownStatTags += parsed.unknownTags;
    this.metrics.statsUpdates++;
    if (this.statsHead !== undefined) {
      // The driver keeps one buffer in flight; a second one means it lost track. Give the old one back.
      this.warn.warn(`${this.name}: a second statistics buffer (${chain.head}) while ${this.statsHead} is held; returning the older one`);
      this.returnStatsBuffer(mem);
    }
    this.statsHead = chain.head;
    return undefined;
  }

  /** The interval elapsed: hand the statistics buffer back, which asks the driver to refill it. */
  private requestStats(): void {
    const s = this.state;
    if (s.kind !== 'active' || this.statsHead === undefined || this.layout?.stats === undefined) return;
    this.returnStatsBuffer(s.mem);
    this.notify(this.layout.stats);
  }

  private returnStatsBuffer(mem: GuestMemory): void {
    const s = this.state;
    const index = this.layout?.stats;
    const queue = s.kind === 'active' && index !== undefined ? s.queues[index] : undefined;
    if (queue === undefined || this.statsHead === undefined) return;
    queue.addUsed(mem, this.statsHead, 0);
    this.statsHead = undefined;
    this.metrics.statsRequests++;
  }

  /** A free page report (5.5.6.5): each device-readable buffer is a run of free pages to discard. */
  private report(chain: DescriptorChain): number {
    const s = this.state;
    if (s.kind !== 'active') return 0;
    this.metrics.reportRequests++;
    if (chain.writable.length > 0) return this.bad(chain, 'report', `has ${chain.writable.length} device-writable buffers`);
    for (const d of chain.readable) {
      // Linux reports whole page blocks; anything else is trimmed to the 4 KiB pages inside it.
      const start = Math.ceil(d.addr / BALLOON_PAGE_SIZE) * BALLOON_PAGE_SIZE;
      const end = Math.floor((d.addr + d.len) / BALLOON_PAGE_SIZE) * BALLOON_PAGE_SIZE;
      if (start !== d.addr || end !== d.addr + d.len) {
        this.metrics.badRequests++;
        this.warn.warn(`${this.name}: reported range 0x${d.addr.toString(16)}+0x${d.len.toString(16)} is not page-aligned; trimmed`);
      }
      // The queue checked the buffer against RAM; a trimmed one is inside it too.
      if (end > start) this.metrics.reportedBytes += this.discardRange(s.mem, { gpa: start, len: end - start });
    }
    return 0;
  }

  private bad(chain: DescriptorChain, kind: string, what: string): number {
    this.metrics.badRequests++;
    this.warn.warn(`${this.name}: ${kind} buffer ${chain.head} ${what}`);
    return 0;
  }
}

/** `bytes` as a whole number of balloon pages (rounded down); throws past what num_pages holds. */
function pagesOf(name: string, bytes: number): number {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new VirtioError('invalid-config', `${name}: balloon size ${bytes} is not a whole number of bytes`);
  const pages = Math.floor(bytes / BALLOON_PAGE_SIZE);
  if (pages > MAX_PAGES) throw new VirtioError('invalid-config', `${name}: balloon size ${bytes} bytes is more than ${MAX_PAGES} pages`);
  return pages;
}
