// POST/debug code port 0x80: firmware and test guests write progress bytes here (the PC's
// "POST card" port). We keep them with timestamps for diagnostics.
import { VmmError } from '@workervisor/base';
import type { ErrorKind } from '@workervisor/base';
import { createLogger } from '@workervisor/base';
import type { ByteRegisterDevice } from './byte-port-bus.js';
import { intField, rateLimitedAt } from './shared.js';

/** Map one port (vmm-core's DEBUG_PORT) with this length. */
export const DEBUG_PORT_COUNT = 1;
/** Default number of codes kept. */
export const DEBUG_PORT_HISTORY = 1024;

/** One code the guest wrote, with microseconds since the device was created. */
export interface DebugCode {
  readonly code: number;
  readonly timeUs: number;
}

export interface DebugPortOptions {
  /** Codes kept (oldest dropped first); default DEBUG_PORT_HISTORY. */
  readonly capacity?: number;
  /** Monotonic clock in nanoseconds; default process.hrtime.bigint. */
  readonly now?: () => bigint;
}

export interface DebugPortMetrics {
  /** Codes written, including those since dropped from the history. */
  codes: number;
  invalidAccesses: number;
  missedReads: number;
  missedWrites: number;
}

/** JSON-safe snapshot: only what the guest can see (the last code). */
export interface DebugPortState {
  lastCode: number;
}

export class DebugPortError extends VmmError<'DEBUG_PORT'> {
  constructor(kind: ErrorKind<'DEBUG_PORT'>, message: string) {
    super('DEBUG_PORT', kind, message);
  }
}

const log = createLogger('debug-port');

/** Records every byte written at offset 0 in a ring buffer; reads return the last one (0 before any). */
export class DebugPort implements ByteRegisterDevice {
  readonly name = 'debug-port';
  readonly metrics: DebugPortMetrics = { codes: 0, invalidAccesses: 0, missedReads: 0, missedWrites: 0 };

  private readonly capacity: number;
  private readonly now: () => bigint;
  private readonly start: bigint;
  private readonly debugLog = rateLimitedAt(log, 'debug', 100, 1_000);
  private readonly ring: DebugCode[] = [];
  private next = 0; // ring slot for the next code once full
  private lastCode = 0;

  constructor(options: DebugPortOptions = {}) {
    const capacity = options.capacity ?? DEBUG_PORT_HISTORY;
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new DebugPortError('invalid-config', `debug port history must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
    this.now = options.now ?? (() => process.hrtime.bigint());
    this.start = this.now();
  }

  /** The kept codes, oldest first. */
  codes(): DebugCode[] {
    return [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }

  readRegister(offset: number): number {
    if (offset !== 0) {
      this.metrics.missedReads++;
      return 0;
    }
    return this.lastCode;
  }

  writeRegister(offset: number, value: number): void {
    if (offset !== 0) {
      this.metrics.missedWrites++;
      return;
    }
    const code = value & 0xff;
    const timeUs = Number((this.now() - this.start) / 1000n);
    const entry = { code, timeUs };
    if (this.ring.length < this.capacity) this.ring.push(entry);
    else {
      this.ring[this.next] = entry;
      this.next = (this.next + 1) % this.capacity;
    }
    this.lastCode = code;
    this.metrics.codes++;
    if (log.enabled('debug')) this.debugLog.warn(`POST code 0x${code.toString(16).padStart(2, '0')} at ${timeUs} us`);
  }

  save(): DebugPortState {
    return { lastCode: this.lastCode };
  }

  /** Restores the last code; the history stays with the host process. */
  restore(state: DebugPortState): void {
    const fail = (message: string): never => {
      throw new DebugPortError('invalid-state', message);
    };
    if (typeof state !== 'object' || state === null) fail('debug port state must be an object');
    this.lastCode = intField(state, 'lastCode', 0xff, fail);
  }
}
