// virtio-console (virtio 1.2 section 5.3) with a single port: receiveq 0 carries host input to
// the guest (hvc0), transmitq 1 the guest's output to a sink. VIRTIO_CONSOLE_F_MULTIPORT is never
// offered (the transport refuses a driver that asks for it), so there is no control queue;
// VIRTIO_CONSOLE_F_EMERG_WRITE is, for early output through config space.
import { createLogger, RateLimitedLog } from '@workervisor/base';
import { byteArrayField } from '../legacy/shared.js';
import {
  INACTIVE,
  VIRTIO_F_RING_EVENT_IDX,
  VIRTIO_F_RING_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  VIRTIO_ID_CONSOLE,
  VirtioError,
  type ActivateContext,
  type ActivationState,
  type VirtioDevice,
} from './device.js';
import { forEachSegment, type DescriptorChain, type Queue } from './queue.js';

/** Feature bits (5.3.3), as masks. */
export const VIRTIO_CONSOLE_F_SIZE = 1n << 0n;
export const VIRTIO_CONSOLE_F_MULTIPORT = 1n << 1n;
export const VIRTIO_CONSOLE_F_EMERG_WRITE = 1n << 2n;

/** Queue indexes of port 0 without MULTIPORT (5.3.2). */
export const CONSOLE_RECEIVEQ = 0;
export const CONSOLE_TRANSMITQ = 1;
/** Default QueueNumMax of both queues (Cloud Hypervisor's). */
export const DEFAULT_CONSOLE_QUEUE_SIZE = 256;
/** Default bound of the host input kept while the guest has no receive buffers posted (bytes). */
export const DEFAULT_CONSOLE_INPUT_CAPACITY = 64 * 1024;
/** Output taken from one transmit chain; the rest is dropped and counted (a hostile 4 GiB buffer). */
export const MAX_CONSOLE_TX_CHAIN_BYTES = 64 * 1024;

// struct virtio_console_config (5.3.4): le16 cols, le16 rows, le32 max_nr_ports, le32 emerg_wr.
const CONFIG_EMERG_WR = 8;
const CONFIG_SIZE = 12;

/** Where the guest's output goes. May throw; the device counts and drops. Gets its own copy of the bytes. */
export interface ConsoleOutput {
  write(bytes: Uint8Array): void;
}

export interface VirtioConsoleOptions {
  /** Name for logs and counters; default `console`. */
  readonly name?: string;
  /** Output sink; omitted = output discarded (still counted). */
  readonly output?: ConsoleOutput | undefined;
  /** QueueNumMax of each queue, a power of two; default DEFAULT_CONSOLE_QUEUE_SIZE. */
  readonly queueSize?: number;
  /** Bound of buffered host input in bytes; default DEFAULT_CONSOLE_INPUT_CAPACITY. */
  readonly inputCapacity?: number;
  /** Called when the guest took buffered input after enqueueInput refused some, so the host can resume. */
  readonly onInputDrained?: () => void;
}

/** Counters, monotonically increasing. Descriptor-level problems are counted by the queue. */
export interface VirtioConsoleMetrics {
  /** Bytes the guest transmitted (transmitq and emerg_wr). */
  txBytes: number;
  /** Bytes delivered into the guest's receive buffers. */
  rxBytes: number;
  /** Host bytes accepted into the input buffer. */
  inputBytes: number;
  /** Host bytes refused by enqueueInput because the input buffer was full (the caller keeps them). */
  inputRefused: number;
  /** Transmit bytes past MAX_CONSOLE_TX_CHAIN_BYTES in one chain, dropped. */
  txDropped: number;
  /** Guest-caused failures: writable buffers on transmitq, readable ones or none writable on receiveq. */
  errors: number;
  /** Output sink failures (the bytes are dropped). */
  outputErrors: number;
  /** Characters written to emerg_wr. */
  emergencyWrites: number;
  /** Configuration-space writes other than emerg_wr. */
  ignoredConfigWrites: number;
  /** Used-buffer notifications sent to the driver. */
  usedNotifications: number;
}

/** JSON-safe snapshot state: host input not yet delivered (the queues are the transport's). */
export interface VirtioConsoleState {
  input: number[];
}

const log = createLogger('virtio-console');

/** A single-port virtio console. */
export class VirtioConsole implements VirtioDevice {
  readonly type = VIRTIO_ID_CONSOLE;
  readonly name: string;
  readonly features = VIRTIO_F_VERSION_1 | VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_F_RING_EVENT_IDX | VIRTIO_CONSOLE_F_EMERG_WRITE;
  readonly queueMaxSizes: readonly number[];
  readonly metrics: VirtioConsoleMetrics = {
    txBytes: 0,
    rxBytes: 0,
    inputBytes: 0,
    inputRefused: 0,
    txDropped: 0,
    errors: 0,
    outputErrors: 0,
    emergencyWrites: 0,
    ignoredConfigWrites: 0,
    usedNotifications: 0,
  };
  private readonly output: ConsoleOutput | undefined;
  private readonly onInputDrained: (() => void) | undefined;
  private readonly warn = new RateLimitedLog(log);
  private state: ActivationState = INACTIVE;
  /** Host input ring: `inputLength` bytes from `inputStart`. */
  private readonly input: Uint8Array;
  private inputStart = 0;
  private inputLength = 0;
  private refusedSinceDrain = false;

  constructor(options: VirtioConsoleOptions = {}) {
    this.name = options.name ?? 'console';
    this.output = options.output;
    this.onInputDrained = options.onInputDrained;
    const size = options.queueSize ?? DEFAULT_CONSOLE_QUEUE_SIZE;
    this.queueMaxSizes = [size, size];
    const capacity = options.inputCapacity ?? DEFAULT_CONSOLE_INPUT_CAPACITY;
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new VirtioError('invalid-config', `${this.name}: input capacity ${capacity} must be a positive integer`);
    this.input = new Uint8Array(capacity);
  }

  /** Free space in the input buffer, in bytes. */
  get inputSpace(): number {
    return this.input.length - this.inputLength;
  }

  /** Host input bytes waiting for receive buffers. */
  get pendingInput(): number {
    return this.inputLength;
  }

  /**
   * Host input (keyboard, socket), Serial's contract: accepts as many bytes as fit (after giving
   * the guest what its posted buffers take) and returns that count; the rest are counted in
   * `inputRefused` and stay with the caller, who can retry after onInputDrained.
   */
  enqueueInput(bytes: Uint8Array): number {
    let accepted = 0;
    for (;;) {
      const n = Math.min(bytes.length - accepted, this.inputSpace);
      if (n === 0) break;
      this.push(bytes.subarray(accepted, accepted + n));
      accepted += n;
      // Deliver now so a guest with buffers posted frees room for the rest of `bytes`; no
      // onInputDrained from here (the caller is inside its own pump).
      if (this.deliver() === 0) break;
    }
    this.metrics.inputBytes += accepted;
    if (accepted < bytes.length) {
      this.metrics.inputRefused += bytes.length - accepted;
      this.refusedSinceDrain = true;
    }
    return accepted;
  }

  readConfig(): void {
    // cols, rows (no VIRTIO_CONSOLE_F_SIZE), max_nr_ports (no MULTIPORT) and emerg_wr all read 0
    // (5.3.4); the transport pre-zeroes the data.
  }

  writeConfig(offset: number, data: Uint8Array): void {
    if (offset === CONFIG_EMERG_WR && data.length >= 1 && data.length <= 4) {
      // 5.3.6.1: the driver writes one character; the device outputs it.
      this.metrics.emergencyWrites++;
      this.emit(Uint8Array.of(data[0] ?? 0));
      return;
    }
    this.metrics.ignoredConfigWrites++;
    this.warn.warn(`${this.name}: ignored ${data.length}-byte config write at offset ${offset}${offset < CONFIG_SIZE ? '; only emerg_wr is writable' : ''}`);
  }

  activate(ctx: ActivateContext): void {
    this.state = { kind: 'active', ...ctx };
    // Input typed before the driver came up waits for its first receive buffers (queueNotify).
  }

  reset(): void {
    // Buffered input stays: the next driver gets it (as a terminal's typeahead).
    this.state = INACTIVE;
  }

  queueNotify(index: number): void {
    if (index === CONSOLE_TRANSMITQ) this.transmit();
    else if (index === CONSOLE_RECEIVEQ) {
      if (this.deliver() > 0 && this.refusedSinceDrain) {
        this.refusedSinceDrain = false;
        this.onInputDrained?.();
      }
    }
  }

  save(): VirtioConsoleState {
    const input: number[] = [];
    for (let i = 0; i < this.inputLength; i++) input.push(this.input[(this.inputStart + i) % this.input.length] ?? 0);
    return { input };
  }

  /** Restores a save(). Throws VirtioError('invalid-config') on a malformed state. */
  restore(state: VirtioConsoleState): void {
    const fail = (message: string): never => {
      throw new VirtioError('invalid-config', `${this.name}: ${message}`);
    };
    if (typeof state !== 'object' || state === null) fail('console state must be an object');
    const input = byteArrayField(state, 'input', this.input.length, fail);
    this.input.set(input);
    this.inputStart = 0;
    this.inputLength = input.length;
  }

  private activeQueue(index: number): { queue: Queue; s: Extract<ActivationState, { kind: 'active' }> } | undefined {
    const s = this.state;
    if (s.kind !== 'active') return undefined;
    const queue = s.queues[index];
    return queue === undefined || !queue.ready ? undefined : { queue, s };
  }

  /** Drains transmitq into the output sink. */
  private transmit(): void {
    const q = this.activeQueue(CONSOLE_TRANSMITQ);
    if (q === undefined) return;
    const { queue, s } = q;
    const start = queue.headsTaken;
    const taken = () => queue.headsTaken - start;
    let chain: DescriptorChain | undefined;
    // One queue's worth of heads per notification; the driver kicks again for more.
    while (taken() < queue.size && (chain = queue.pop(s.mem, queue.size - taken())) !== undefined) {
      if (chain.writable.length > 0) {
        this.bad(chain, 'transmitq', `has ${chain.writable.length} device-writable buffers`);
      } else {
        const len = Math.min(chain.readableBytes, MAX_CONSOLE_TX_CHAIN_BYTES);
        if (len < chain.readableBytes) {
          this.metrics.txDropped += chain.readableBytes - len;
          this.warn.warn(`${this.name}: transmit chain ${chain.head} of ${chain.readableBytes} bytes; output past ${MAX_CONSOLE_TX_CHAIN_BYTES} dropped`);
        }
        const bytes = new Uint8Array(len);
        forEachSegment(chain.readable, 0, len, (gpa, n, pos) => s.mem.read(gpa, bytes.subarray(pos, pos + n)));
        this.emit(bytes);
      }
      // 5.3.6.2: the device writes nothing into transmit buffers.
      queue.addUsed(s.mem, chain.head, 0);
    }
    this.notify(queue, CONSOLE_TRANSMITQ);
  }

  /** Moves buffered input into posted receive buffers; returns the bytes delivered. */
  private deliver(): number {
    if (this.inputLength === 0) return 0;
    const q = this.activeQueue(CONSOLE_RECEIVEQ);
    if (q === undefined) return 0;
    const { queue, s } = q;
    let delivered = 0;
    const start = queue.headsTaken;
    let chain: DescriptorChain | undefined;
    // Pop only while there is input: a buffer popped and then left empty could not be given back.
    while (this.inputLength > 0 && queue.headsTaken - start < queue.size && (chain = queue.pop(s.mem, queue.size - (queue.headsTaken - start))) !== undefined) {
      if (chain.readable.length > 0) {
        queue.addUsed(s.mem, chain.head, this.bad(chain, 'receiveq', `has ${chain.readable.length} device-readable buffers`));
        continue;
      }
      if (chain.writableBytes === 0) {
        queue.addUsed(s.mem, chain.head, this.bad(chain, 'receiveq', 'has no device-writable bytes'));
        continue;
      }
      const n = Math.min(this.inputLength, chain.writableBytes);
      forEachSegment(chain.writable, 0, n, (gpa, len, pos) => s.mem.write(gpa, this.peek(pos, len)));
      this.inputStart = (this.inputStart + n) % this.input.length;
      this.inputLength -= n;
      delivered += n;
      queue.addUsed(s.mem, chain.head, n);
    }
    this.metrics.rxBytes += delivered;
    this.notify(queue, CONSOLE_RECEIVEQ);
    return delivered;
  }

  /** Appends to the input ring (the caller checked the space). */
  private push(bytes: Uint8Array): void {
    const cap = this.input.length;
    const end = (this.inputStart + this.inputLength) % cap;
    const first = Math.min(bytes.length, cap - end);
    this.input.set(bytes.subarray(0, first), end);
    this.input.set(bytes.subarray(first), 0);
    this.inputLength += bytes.length;
  }

  /** `len` buffered bytes from position `pos` after the start, as a copy. */
  private peek(pos: number, len: number): Uint8Array {
    const cap = this.input.length;
    const from = (this.inputStart + pos) % cap;
    if (from + len <= cap) return this.input.slice(from, from + len);
    const out = new Uint8Array(len);
    out.set(this.input.subarray(from));
    out.set(this.input.subarray(0, len - (cap - from)), cap - from);
    return out;
  }

  private emit(bytes: Uint8Array): void {
    this.metrics.txBytes += bytes.length;
    if (this.output === undefined || bytes.length === 0) return;
    try {
      this.output.write(bytes);
    } catch (err) {
      this.metrics.outputErrors++;
      this.warn.warn(`${this.name}: output failed; ${bytes.length} bytes dropped`, { error: err instanceof Error ? err.message : String(err) });
    }
  }

  private notify(queue: Queue, index: number): void {
    const s = this.state;
    if (s.kind !== 'active' || !queue.needsNotification(s.mem)) return;
    this.metrics.usedNotifications++;
    s.interrupt.signalUsedQueue(index);
  }

  private bad(chain: DescriptorChain, queue: string, what: string): number {
    this.metrics.errors++;
    this.warn.warn(`${this.name}: ${queue} chain ${chain.head} ${what}; answered with 0 bytes`);
    return 0;
  }
}
