// One virtio-vsock stream connection (virtio 1.2 section 5.10.6.3): its state, the credit-based
// flow control of both directions and the packets it owes the guest. Pure bookkeeping: the
// muxer (device.ts) moves the bytes through the queues and the host stream.
import { VSOCK_SHUTDOWN_F_RECEIVE, VSOCK_SHUTDOWN_F_SEND } from './packet.js';
import type { VsockHostStream } from './backend.js';

/** Our receive buffer per connection (buf_alloc): guest bytes not yet forwarded to the host. */
export const VSOCK_CONN_BUF_ALLOC = 256 * 1024;
/** Host bytes kept for the guest before the host stream is paused. */
export const VSOCK_CONN_PENDING_LIMIT = 64 * 1024;

/**
 * - `connecting-to-guest`: host-initiated, REQUEST queued or sent, waiting for RESPONSE.
 * - `connecting-to-host`: guest-initiated, waiting for the backend's host stream.
 * - `established`: RW both ways, until both directions are shut or an RST.
 */
export type VsockConnectionState = 'connecting-to-guest' | 'connecting-to-host' | 'established';

/** Control packets a connection owes the guest (RW data is tracked by `pending`; an RST ends the
 * connection and goes out through the device's reset queue). */
export interface PendingControl {
  request: boolean;
  response: boolean;
  /** SHUTDOWN flags to send once the pending data is out (0 = none). */
  shutdown: number;
  creditUpdate: boolean;
}

const u32 = (n: number): number => n >>> 0;

/** A connection between host port `localPort` and guest port `peerPort`. */
export class VsockConnection {
  state: VsockConnectionState;
  stream: VsockHostStream | undefined;
  readonly control: PendingControl = { request: false, response: false, shutdown: 0, creditUpdate: false };
  /** The guest's receive buffer and consumed count, from the latest header it sent (5.10.6.3). */
  peerBufAlloc = 0;
  peerFwdCnt = 0;
  /** Payload bytes we sent the guest (free-running u32). */
  txCnt = 0;
  /** Payload bytes the guest sent us, and those forwarded to the host stream (our fwd_cnt). */
  rxCnt = 0;
  fwdCnt = 0;
  /** fwd_cnt in the last header we sent: what the guest believes. */
  lastSentFwdCnt = 0;
  /** SHUTDOWN flags the guest sent / we sent (F_RECEIVE | F_SEND). */
  peerShutdown = 0;
  localShutdown = 0;
  /** Host bytes not yet sent to the guest. */
  private readonly chunks: Uint8Array[] = [];
  private pendingBytes = 0;
  /** The host stream is paused (by us, for backpressure). */
  paused = false;
  /** The host program sent EOF: SHUTDOWN F_SEND goes after the pending data. */
  hostEnded = false;

  constructor(
    readonly localPort: number,
    readonly peerPort: number,
    state: VsockConnectionState,
    readonly bufAlloc = VSOCK_CONN_BUF_ALLOC,
  ) {
    this.state = state;
  }

  get key(): string {
    return connectionKey(this.localPort, this.peerPort);
  }

  /** Bytes we may still send the guest: peer_buf_alloc - (tx_cnt - peer_fwd_cnt), never negative. */
  get peerCredit(): number {
    const inFlight = u32(this.txCnt - this.peerFwdCnt);
    return inFlight >= this.peerBufAlloc ? 0 : this.peerBufAlloc - inFlight;
  }

  /** Bytes the guest may still send us without overrunning buf_alloc (as of what we forwarded). */
  get localCredit(): number {
    const held = u32(this.rxCnt - this.fwdCnt);
    return held >= this.bufAlloc ? 0 : this.bufAlloc - held;
  }

  get pending(): number {
    return this.pendingBytes;
  }

  /** Takes the credit fields of a header the guest sent. */
  updatePeerCredit(bufAlloc: number, fwdCnt: number): void {
    this.peerBufAlloc = bufAlloc;
    this.peerFwdCnt = fwdCnt;
  }

  /** Host data for the guest; dropped when the guest shut its receive side. */
  pushHostData(bytes: Uint8Array): void {
    if ((this.peerShutdown & VSOCK_SHUTDOWN_F_RECEIVE) !== 0 || bytes.length === 0) return;
    this.chunks.push(bytes);
    this.pendingBytes += bytes.length;
  }

  /** Takes up to `max` pending bytes for one RW packet and counts them in tx_cnt. */
  takeHostData(max: number): Uint8Array {
    const n = Math.min(max, this.pendingBytes, this.peerCredit);
    const out = new Uint8Array(n);
    let done = 0;
    while (done < n) {
      const c = this.chunks[0] as Uint8Array;
      const take = Math.min(c.length, n - done);
      out.set(c.subarray(0, take), done);
      done += take;
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
    }
    this.pendingBytes -= n;
    this.txCnt = u32(this.txCnt + n);
    return out;
  }

  /** Drops the pending host data (the guest will receive no more). */
  dropHostData(): void {
    this.chunks.length = 0;
    this.pendingBytes = 0;
  }

  /** Whether an RW packet could go now. */
  get canSendData(): boolean {
    return this.state === 'established' && this.pendingBytes > 0 && this.peerCredit > 0 && (this.peerShutdown & VSOCK_SHUTDOWN_F_RECEIVE) === 0;
  }

  /** Whether the connection has anything for the rx queue. */
  get hasRx(): boolean {
    const c = this.control;
    // SHUTDOWN only on an established connection: a host client's EOF before the guest answered waits.
    return c.request || c.response || this.canSendData || c.creditUpdate || (c.shutdown !== 0 && this.pendingBytes === 0 && this.state === 'established');
  }

  /**
   * Counts `n` bytes the host stream forwarded. Returns true when the guest should hear about
   * it now: the credit it has not been told of reached a quarter of buf_alloc, so a sender
   * blocked on credit always gets an update before it could starve (Linux waits for one).
   */
  forwarded(n: number): boolean {
    this.fwdCnt = u32(this.fwdCnt + n);
    return u32(this.fwdCnt - this.lastSentFwdCnt) >= this.bufAlloc / 4;
  }

  /** Whether the host stream should be paused: we hold what the guest cannot take yet. */
  get shouldPause(): boolean {
    return this.pendingBytes > 0 && (this.pendingBytes >= this.peerCredit || this.pendingBytes >= VSOCK_CONN_PENDING_LIMIT);
  }

  /** Both directions are shut: the connection ends with an RST (Linux waits for one after SHUTDOWN). */
  get fullyShut(): boolean {
    const guestDone = (this.peerShutdown & VSOCK_SHUTDOWN_F_SEND) !== 0 || (this.localShutdown & VSOCK_SHUTDOWN_F_RECEIVE) !== 0;
    const hostDone = (this.localShutdown & VSOCK_SHUTDOWN_F_SEND) !== 0 || (this.peerShutdown & VSOCK_SHUTDOWN_F_RECEIVE) !== 0;
    return guestDone && hostDone;
  }
}

/** The connection map's key for host port `local`, guest port `peer`. */
export function connectionKey(local: number, peer: number): string {
  return `${local}:${peer}`;
}
