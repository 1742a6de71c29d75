// The exit mailbox: how a vCPU worker forwards a port/MMIO access to the core synchronously.
// Worker: fill the slot, set PENDING, ring the doorbell eventfd, Atomics.wait until DONE.
// Core: its libuv watcher on the doorbell runs the bus access, sets DONE, Atomics.notify.
// JS Atomics on both sides: JS Atomics and raw C futexes do not wake each other (DESIGN.md).
import { createLogger, RateLimitedLog } from '@workervisor/base';
import { eventfdWrite } from '@workervisor/native';

const failureLog = new RateLimitedLog(createLogger('mailbox'));

const STATE = 0;
const KIND = 1;
const SIZE = 2;
const ADDR_LO = 3;
const ADDR_HI = 4;
const STOP = 5;
const DATA_BYTE_OFFSET = 24;
/** Bytes of one mailbox. */
export const MAILBOX_BYTES = 32;

/** Polls of the state word before sleeping in Atomics.wait (a few microseconds; 0 disables). */
const SPIN_ITERATIONS = Number(process.env.WORKERVISOR_MAILBOX_SPIN ?? 2_000);

const IDLE = 0;
const PENDING = 1;
const DONE = 2;
/** Set by close() on a pending access, so a waiter cannot miss the wake-up and sleep on. */
const CANCELLED = 3;

/** What a forwarded access is. */
export const AccessKind = { PioRead: 0, PioWrite: 1, MmioRead: 2, MmioWrite: 3 } as const;
export type AccessKind = (typeof AccessKind)[keyof typeof AccessKind];

export function createMailbox(): SharedArrayBuffer {
  return new SharedArrayBuffer(MAILBOX_BYTES);
}

/** The worker's side. */
export class MailboxClient {
  private readonly words: Int32Array;
  private readonly data: Uint8Array;

  constructor(buffer: SharedArrayBuffer, private readonly doorbellFd: number) {
    this.words = new Int32Array(buffer, 0, DATA_BYTE_OFFSET / 4);
    this.data = new Uint8Array(buffer, DATA_BYTE_OFFSET, 8);
  }

  /**
   * Sends one access and waits for the core. For reads, `data` is filled with the answer.
   * Returns false when the core closed the mailbox (VM going away): the access is dropped.
   */
  call(kind: AccessKind, addr: number, data: Uint8Array): boolean {
    const w = this.words;
    if (Atomics.load(w, STOP) !== 0) return false;
    w[KIND] = kind;
    w[SIZE] = data.length;
    w[ADDR_LO] = addr >>> 0;
    w[ADDR_HI] = Math.floor(addr / 0x1_0000_0000);
    if (kind === AccessKind.PioWrite || kind === AccessKind.MmioWrite) this.data.set(data);
    Atomics.store(w, STATE, PENDING);
    eventfdWrite(this.doorbellFd, 1);
    // The core usually answers within microseconds: spin briefly before paying for a futex sleep
    // and wake-up (measured by `npm run bench exits`).
    for (let i = 0; i < SPIN_ITERATIONS && Atomics.load(w, STATE) === PENDING; i++);
    while (Atomics.load(w, STATE) === PENDING) {
      if (Atomics.load(w, STOP) !== 0) return false;
      Atomics.wait(w, STATE, PENDING, 1000);
    }
    if (Atomics.load(w, STATE) === CANCELLED) return false;
    if (kind === AccessKind.PioRead || kind === AccessKind.MmioRead) data.set(this.data.subarray(0, data.length));
    Atomics.store(w, STATE, IDLE);
    return true;
  }
}

/** Handles one forwarded access on the core; `data` is the access's bytes (fill it for reads). */
export type AccessHandler = (kind: AccessKind, addr: number, data: Uint8Array) => void;

/** The core's side: serves every vCPU's mailbox when the doorbell rings. */
export class MailboxServer {
  private readonly boxes: Array<{ words: Int32Array; data: Uint8Array }> = [];
  private readonly views = [1, 2, 4, 8].map((n) => new Uint8Array(n));
  served = 0;
  /** Accesses whose handler threw (completed anyway). */
  failures = 0;

  constructor(private readonly handler: AccessHandler) {}

  add(buffer: SharedArrayBuffer): void {
    this.boxes.push({ words: new Int32Array(buffer, 0, DATA_BYTE_OFFSET / 4), data: new Uint8Array(buffer, DATA_BYTE_OFFSET, 8) });
  }

  /** Serves every pending access; call when the doorbell is readable. */
  serve(): void {
    for (const box of this.boxes) {
      const w = box.words;
      if (Atomics.load(w, STATE) !== PENDING) continue;
      const size = w[SIZE]!;
      const kind = w[KIND] as AccessKind;
      const addr = (w[ADDR_HI]! >>> 0) * 0x1_0000_0000 + (w[ADDR_LO]! >>> 0);
      const view = size === 1 ? this.views[0]! : size === 2 ? this.views[1]! : size === 4 ? this.views[2]! : size === 8 ? this.views[3]! : new Uint8Array(Math.min(Math.max(size, 0), 8));
      if (kind === AccessKind.PioWrite || kind === AccessKind.MmioWrite) view.set(box.data.subarray(0, view.length));
      else view.fill(0);
      try {
        this.handler(kind, addr, view);
      } catch (err) {
        // A host-side failure inside a device must not strand this vCPU or the other mailboxes:
        // the access completes (reads see zeros), the failure is counted and logged.
        view.fill(0);
        this.failures++;
        failureLog.warn(`device failed on a forwarded access at 0x${addr.toString(16)}`, { error: err instanceof Error ? err.message : String(err) });
      }
      if (kind === AccessKind.PioRead || kind === AccessKind.MmioRead) box.data.set(view);
      this.served++;
      Atomics.store(w, STATE, DONE);
      Atomics.notify(w, STATE);
    }
  }

  /** Releases every waiting vCPU and refuses further accesses (VM teardown). */
  close(): void {
    for (const box of this.boxes) {
      Atomics.store(box.words, STOP, 1);
      Atomics.compareExchange(box.words, STATE, PENDING, CANCELLED);
      Atomics.notify(box.words, STATE);
    }
  }
}
