// Recording doubles for the small device-side interfaces (bus-device.ts), shared by every
// package's unit tests: they count and keep what a device did so a test can assert on it.
import type { IrqTrigger, VmExitRequester } from '../bus-device.js';

/** An IrqTrigger that counts edges. */
export class RecordingIrq implements IrqTrigger {
  /** Edges raised since construction or the last take(). */
  count = 0;
  /** Edges raised since construction. */
  total = 0;

  trigger(): void {
    this.count++;
    this.total++;
  }

  /** Returns the edges raised since the previous take() and restarts the count. */
  take(): number {
    const n = this.count;
    this.count = 0;
    return n;
  }
}

/** A byte sink (the shape of SerialOutput) that keeps everything written to it. */
export class RecordingOutput {
  private chunks: Uint8Array[] = [];
  /** Number of write() calls. */
  writes = 0;
  /** When set, the next write() throws it (once) instead of recording, to test sink failures. */
  failNext: Error | undefined;

  write(bytes: Uint8Array): void {
    if (this.failNext !== undefined) {
      const err = this.failNext;
      this.failNext = undefined;
      throw err;
    }
    this.writes++;
    this.chunks.push(bytes.slice());
  }

  /** Everything written, concatenated. */
  get bytes(): Uint8Array {
    return Buffer.concat(this.chunks);
  }

  /** Everything written, decoded as Latin-1 (one char per byte, never lossy). */
  text(): string {
    return Buffer.from(this.bytes).toString('latin1');
  }

  clear(): void {
    this.chunks = [];
    this.writes = 0;
  }
}

export type ExitRequest = { readonly kind: 'reset' | 'power-off'; readonly reason: string };

/** A VmExitRequester that records each request in order. */
export class RecordingExitRequester implements VmExitRequester {
  readonly requests: ExitRequest[] = [];

  reset(reason: string): void {
    this.requests.push({ kind: 'reset', reason });
  }

  powerOff(reason: string): void {
    this.requests.push({ kind: 'power-off', reason });
  }

  get resets(): number {
    return this.requests.filter((r) => r.kind === 'reset').length;
  }

  get powerOffs(): number {
    return this.requests.filter((r) => r.kind === 'power-off').length;
  }

  get last(): ExitRequest | undefined {
    return this.requests[this.requests.length - 1];
  }
}

/** A manual monotonic clock in nanoseconds, for devices that take a `now()` function. */
export class ManualClock {
  constructor(private ns = 0n) {}

  readonly now = (): bigint => this.ns;

  advanceUs(us: number): void {
    this.ns += BigInt(Math.round(us * 1000));
  }

  advanceNs(ns: bigint): void {
    this.ns += ns;
  }
}
