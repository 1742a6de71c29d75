// virtio-vsock (virtio 1.2 section 5.10): rx queue 0 carries packets to the guest, tx queue 1 the
// guest's packets, event queue 2 TRANSPORT_RESET; config space is guest_cid (le64). The device is
// the muxer of Firecracker's hybrid model: it owns the connection table, answers the guest's
// packets and schedules the packets each connection owes, while host streams come from a
// VsockBackend, so the whole protocol runs without sockets in unit tests. Past 600 lines because
// tx dispatch, rx scheduling and the host events share one connection table and its invariants
// (a connection is live exactly while it is in `conns`); the codec and the per-connection
// accounting are in packet.ts and connection.ts.
import { createLogger, RateLimitedLog } from '@workervisor/base';
import { le } from '@workervisor/base';
import {
  INACTIVE,
  VIRTIO_F_RING_EVENT_IDX,
  VIRTIO_F_RING_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  VIRTIO_ID_VSOCK,
  VirtioError,
  type ActivateContext,
  type ActivationState,
  type VirtioDevice,
} from '../device.js';
import { readSegments, writeSegments, type DescriptorChain, type Queue } from '../queue.js';
import type { GuestMemory } from '../../guest-memory.js';
import type { VsockBackend, VsockConnectResult, VsockHostStream, VsockStreamEvents } from './backend.js';
import { connectionKey, VsockConnection } from './connection.js';
import {
  decodeHeader,
  encodeHeader,
  opName,
  VSOCK_EVENT_TRANSPORT_RESET,
  VSOCK_HDR_SIZE,
  VSOCK_HOST_CID,
  VSOCK_MAX_PKT_PAYLOAD,
  VSOCK_OP_CREDIT_REQUEST,
  VSOCK_OP_CREDIT_UPDATE,
  VSOCK_OP_REQUEST,
  VSOCK_OP_RESPONSE,
  VSOCK_OP_RST,
  VSOCK_OP_RW,
  VSOCK_OP_SHUTDOWN,
  VSOCK_SHUTDOWN_F_RECEIVE,
  VSOCK_SHUTDOWN_F_SEND,
  VSOCK_TYPE_STREAM,
  type VsockHeader,
} from './packet.js';

export const VSOCK_RXQ = 0;
export const VSOCK_TXQ = 1;
export const VSOCK_EVENTQ = 2;
/** Default QueueNumMax of the three queues (Firecracker's). */
export const DEFAULT_VSOCK_QUEUE_SIZE = 256;
/** Default bound on live connections; a REQUEST past it gets RST. */
export const DEFAULT_VSOCK_MAX_CONNECTIONS = 1024;
/** Default time a host-initiated connection waits for the guest's RESPONSE (Firecracker's 2 s). */
export const DEFAULT_VSOCK_CONNECT_TIMEOUT_MS = 2000;
/** RSTs waiting for rx buffers, at most; a guest that floods while posting none loses the rest. */
export const MAX_PENDING_RESETS = 1024;
/** First local port of host-initiated connections (Firecracker's 1 << 30). */
const FIRST_LOCAL_PORT = 2 ** 30;
const CONFIG_SIZE = 8;

export interface VirtioVsockOptions {
  /** The guest's CID (config space guest_cid): 3 .. 2^32-2 (Linux's vsock CIDs are u32). */
  readonly guestCid: number;
  /** Host streams for guest-initiated connections. */
  readonly backend: VsockBackend;
  /** Name for logs and counters; default `vsock`. */
  readonly name?: string;
  /** QueueNumMax of each queue, a power of two; default DEFAULT_VSOCK_QUEUE_SIZE. */
  readonly queueSize?: number;
  readonly maxConnections?: number;
  readonly connectTimeoutMs?: number;
}

/** Counters, monotonically increasing. Descriptor-level problems are counted by the queues. */
export interface VirtioVsockMetrics {
  /** Packets the guest sent / the device delivered, and their payload bytes. */
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  rxBytes: number;
  /** Connections established (either direction) and refused (no listener, limit, timeout). */
  connectionsOpened: number;
  connectionsRefused: number;
  /** RSTs sent to / received from the guest. */
  resetsSent: number;
  resetsReceived: number;
  /** tx chains that are not a packet: short header, len past the buffers or past 64 KiB, writable buffers. */
  malformedPackets: number;
  /** Packets not from the guest's CID to the host's (dropped). */
  wrongCid: number;
  /** Packets of a type other than STREAM (answered with RST). */
  badType: number;
  /** Unknown ops (RST). */
  unknownOp: number;
  /** Packets for no connection (RST). */
  unknownConnection: number;
  /** Packets that break the protocol on a connection (RW before RESPONSE, a second REQUEST; RST). */
  protocolErrors: number;
  /** RW payload past the credit we gave (RST). */
  creditViolations: number;
  /** CREDIT_UPDATEs sent because the host consumed data. */
  creditUpdatesSent: number;
  /** RSTs dropped because MAX_PENDING_RESETS were waiting. */
  droppedResets: number;
  /** rx chains too small for a header or with device-readable buffers (used with length 0). */
  badRxChains: number;
  /** Times a host stream was paused for want of guest credit or rx buffers. */
  hostPauses: number;
  ignoredConfigWrites: number;
  usedNotifications: number;
}

/** JSON-safe snapshot state. Connections are not saved: after restore the guest gets TRANSPORT_RESET. */
export interface VirtioVsockState {
  guestCid: number;
}

const log = createLogger('virtio-vsock');

/** The virtio socket device. */
export class VirtioVsock implements VirtioDevice {
  readonly type = VIRTIO_ID_VSOCK;
  readonly name: string;
  readonly features = VIRTIO_F_VERSION_1 | VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_F_RING_EVENT_IDX;
  readonly queueMaxSizes: readonly number[];
  readonly guestCid: number;
  readonly metrics: VirtioVsockMetrics = {
    txPackets: 0,
    txBytes: 0,
    rxPackets: 0,
    rxBytes: 0,
    connectionsOpened: 0,
    connectionsRefused: 0,
    resetsSent: 0,
    resetsReceived: 0,
    malformedPackets: 0,
    wrongCid: 0,
    badType: 0,
    unknownOp: 0,
    unknownConnection: 0,
    protocolErrors: 0,
    creditViolations: 0,
    creditUpdatesSent: 0,
    droppedResets: 0,
    badRxChains: 0,
    hostPauses: 0,
    ignoredConfigWrites: 0,
    usedNotifications: 0,
  };
  private readonly backend: VsockBackend;
  private readonly maxConnections: number;
  private readonly connectTimeoutMs: number;
  private readonly config = new Uint8Array(CONFIG_SIZE);
  private readonly warn = new RateLimitedLog(log);
  private state: ActivationState = INACTIVE;
  private readonly conns = new Map<string, VsockConnection>();
  /** Connections that may owe the guest a packet, in round-robin order. */
  private readonly rxOrder = new Set<VsockConnection>();
  /** RSTs owed for port pairs with no (more) connection: [local, peer]. */
  private readonly resets: Array<[number, number]> = [];
  /** Host-initiated connections waiting for RESPONSE. */
  private readonly waiters = new Map<VsockConnection, { done: (r: VsockConnectResult) => void; timer: ReturnType<typeof setTimeout> }>();
  private nextLocalPort = FIRST_LOCAL_PORT;
  private delivering = false;
  /** Between quiesce() and unquiesce(): nothing written to the guest, nothing taken from it. */
  private quiesced = false;
  private deferred = { rx: false, tx: false };
  private readonly rescheduled = new Set<number>();
  private deliverAgain = false;

  constructor(options: VirtioVsockOptions) {
    this.name = options.name ?? 'vsock';
    const cid = options.guestCid;
    // 5.10.4: 0-2 are reserved; Linux's CIDs are u32 and U32_MAX is VMADDR_CID_ANY.
    if (!Number.isInteger(cid) || cid < 3 || cid >= 0xffff_ffff) throw new VirtioError('invalid-config', `${this.name}: guest CID ${cid} must be an integer from 3 to ${0xffff_fffe}`);
    this.guestCid = cid;
    le.writeU64(this.config, 0, BigInt(cid));
    this.backend = options.backend;
    const size = options.queueSize ?? DEFAULT_VSOCK_QUEUE_SIZE;
    this.queueMaxSizes = [size, size, size];
    this.maxConnections = options.maxConnections ?? DEFAULT_VSOCK_MAX_CONNECTIONS;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_VSOCK_CONNECT_TIMEOUT_MS;
  }

  /** Live connections (established or connecting). */
  get connectionCount(): number {
    return this.conns.size;
  }

  readConfig(offset: number, data: Uint8Array): void {
    if (offset < CONFIG_SIZE) data.set(this.config.subarray(offset, Math.min(CONFIG_SIZE, offset + data.length)));
  }

  writeConfig(offset: number, data: Uint8Array): void {
    this.metrics.ignoredConfigWrites++;
    this.warn.warn(`${this.name}: ignored ${data.length}-byte config write at offset ${offset}; guest_cid is read-only`);
  }

  activate(ctx: ActivateContext): void {
    this.state = { kind: 'active', ...ctx };
  }

  /** The driver reset the device: every connection is gone (host streams closed, waiters told). */
  reset(): void {
    this.state = INACTIVE;
    this.dropAll('the guest reset the vsock device');
  }

  queueNotify(index: number): void {
    if (index === VSOCK_TXQ) this.transmit();
    else if (index === VSOCK_RXQ) this.deliver();
    // VSOCK_EVENTQ: the driver posts buffers for events; they wait for transportReset().
  }

  /**
   * Host-initiated connection to guest port `port` (the hybrid socket's `CONNECT <port>`): sends
   * REQUEST and calls `done` once, with the assigned local port on RESPONSE or a reason on RST,
   * timeout, reset or refusal. Returns the connection's events for the host stream, or undefined
   * when refused at once (done was called).
   */
  connectToGuest(port: number, stream: VsockHostStream, done: (r: VsockConnectResult) => void): VsockStreamEvents | undefined {
    if (this.state.kind !== 'active') {
      this.metrics.connectionsRefused++;
      done({ ok: false, reason: 'the guest has no vsock driver running' });
      return undefined;
    }
    if (this.conns.size >= this.maxConnections) {
      this.metrics.connectionsRefused++;
      done({ ok: false, reason: `${this.maxConnections} connections are open` });
      return undefined;
    }
    const conn = new VsockConnection(this.allocLocalPort(port), port >>> 0, 'connecting-to-guest');
    conn.stream = stream;
    conn.control.request = true;
    this.conns.set(conn.key, conn);
    const timer = setTimeout(() => this.resetConnection(conn, `guest port ${port} did not answer in ${this.connectTimeoutMs} ms`), this.connectTimeoutMs);
    timer.unref();
    this.waiters.set(conn, { done, timer });
    this.schedule(conn);
    this.deliver();
    return this.eventsFor(conn);
  }

  /**
   * Drops every connection and posts VIRTIO_VSOCK_EVENT_TRANSPORT_RESET on the event queue
   * (5.10.6.6), as after a snapshot restore. Returns false when no event buffer was posted.
   */
  transportReset(): boolean {
    this.dropAll('transport reset');
    const q = this.activeQueue(VSOCK_EVENTQ);
    if (q === undefined) return false;
    const chain = q.queue.pop(q.s.mem);
    if (chain === undefined) return false;
    const event = new Uint8Array(4);
    le.putU32(event, 0, VSOCK_EVENT_TRANSPORT_RESET);
    const n = chain.readable.length === 0 ? writeSegments(q.s.mem, chain.writable, 0, event) : 0;
    q.queue.addUsed(q.s.mem, chain.head, n);
    this.notify(q.queue, VSOCK_EVENTQ);
    return n === 4;
  }

  /**
   * Stops host traffic from reaching guest RAM or raising interrupts until unquiesce(), for the
   * span of a snapshot (virtio-net's quiesce() says why). Host streams keep buffering meanwhile.
   */
  quiesce(): void {
    this.quiesced = true;
  }

  /** Delivers and transmits what quiesce() held back. */
  unquiesce(): void {
    if (!this.quiesced) return;
    this.quiesced = false;
    const { rx, tx } = this.deferred;
    this.deferred = { rx: false, tx: false };
    if (tx) this.transmit();
    if (rx) this.deliver();
  }

  save(): VirtioVsockState {
    return { guestCid: this.guestCid };
  }

  /**
   * Checks a save() against this device (same CID), then, on a device the transport has
   * re-activated, posts TRANSPORT_RESET: the guest's connections had their host ends in the VMM
   * that took the snapshot (5.10.6.6). Throws VirtioError('invalid-config').
   */
  restore(state: VirtioVsockState): void {
    if (typeof state !== 'object' || state === null || state.guestCid !== this.guestCid) {
      throw new VirtioError('invalid-config', `${this.name}: the state's guest CID does not match ${this.guestCid}`);
    }
    if (this.state.kind === 'active') this.transportReset();
  }

  // --- tx: the guest's packets ---

  private transmit(): void {
    const q = this.activeQueue(VSOCK_TXQ);
    if (q === undefined) return;
    if (this.quiesced) {
      this.deferred.tx = true;
      return;
    }
    const { queue, s } = q;
    const start = queue.headsTaken;
    let chain: DescriptorChain | undefined;
    // One queue's worth per turn, then the event loop gets a say (as virtio-rng).
    while (queue.headsTaken - start < queue.size && (chain = queue.pop(s.mem, queue.size - (queue.headsTaken - start))) !== undefined) {
      this.handleTxChain(s.mem, chain);
      // 5.10.6.2: the device writes nothing into tx buffers.
      queue.addUsed(s.mem, chain.head, 0);
    }
    this.notify(queue, VSOCK_TXQ);
    if (queue.headsTaken - start >= queue.size) this.serveLater(VSOCK_TXQ);
    this.deliver();
  }

  /**
   * Serves `index` again on the next turn of the event loop. A turn that stopped at its budget
   * did not see the ring empty, so with EVENT_IDX avail_event was not advanced and the driver
   * may not kick for what it adds next: the device must come back by itself.
   */
  private serveLater(index: number): void {
    if (this.rescheduled.has(index)) return;
    this.rescheduled.add(index);
    setImmediate(() => {
      this.rescheduled.delete(index);
      if (this.state.kind === 'active') this.queueNotify(index);
    });
  }

  private handleTxChain(mem: GuestMemory, chain: DescriptorChain): void {
    if (chain.writable.length > 0) return this.malformed(chain, `has ${chain.writable.length} device-writable buffers`);
    if (chain.readableBytes < VSOCK_HDR_SIZE) return this.malformed(chain, `has ${chain.readableBytes} bytes, less than a ${VSOCK_HDR_SIZE}-byte header`);
    const raw = new Uint8Array(VSOCK_HDR_SIZE);
    readSegments(mem, chain.readable, 0, raw);
    const h = decodeHeader(raw);
    if (h.len > chain.readableBytes - VSOCK_HDR_SIZE) return this.malformed(chain, `says len ${h.len} but carries ${chain.readableBytes - VSOCK_HDR_SIZE} payload bytes`);
    if (h.len > VSOCK_MAX_PKT_PAYLOAD) return this.malformed(chain, `says len ${h.len}, more than ${VSOCK_MAX_PKT_PAYLOAD}`);
    if (h.dstCid !== VSOCK_HOST_CID || h.srcCid !== BigInt(this.guestCid)) {
      this.metrics.wrongCid++;
      this.warn.warn(`${this.name}: dropped a packet from CID ${h.srcCid} to CID ${h.dstCid}; only ${this.guestCid} -> ${VSOCK_HOST_CID} is routed`);
      return;
    }
    this.metrics.txPackets++;
    let payload: Uint8Array | undefined;
    if (h.op === VSOCK_OP_RW && h.len > 0) {
      payload = new Uint8Array(h.len);
      readSegments(mem, chain.readable, VSOCK_HDR_SIZE, payload);
    }
    this.dispatch(h, payload);
  }

  /** One well-formed packet from the guest. */
  private dispatch(h: VsockHeader, payload: Uint8Array | undefined): void {
    if (h.op === VSOCK_OP_RST) this.metrics.resetsReceived++;
    if (h.type !== VSOCK_TYPE_STREAM) {
      this.metrics.badType++;
      this.warn.warn(`${this.name}: ${opName(h.op)} of socket type ${h.type} from guest port ${h.srcPort}; only STREAM (1) is supported`);
      if (h.op !== VSOCK_OP_RST) this.queueReset(h.dstPort, h.srcPort);
      return;
    }
    const conn = this.conns.get(connectionKey(h.dstPort, h.srcPort));
    if (conn === undefined) {
      if (h.op === VSOCK_OP_REQUEST) this.guestConnect(h);
      else if (h.op !== VSOCK_OP_RST) {
        this.metrics.unknownConnection++;
        this.warn.warn(`${this.name}: ${opName(h.op)} from guest port ${h.srcPort} to host port ${h.dstPort}, which have no connection; answered with RST`);
        this.queueReset(h.dstPort, h.srcPort);
      }
      return;
    }
    conn.updatePeerCredit(h.bufAlloc, h.fwdCnt);
    switch (h.op) {
      case VSOCK_OP_RW:
        this.guestData(conn, payload ?? new Uint8Array(0));
        break;
      case VSOCK_OP_RESPONSE:
        if (conn.state !== 'connecting-to-guest') return this.protocolError(conn, 'RESPONSE on a connection that sent none');
        conn.state = 'established';
        this.metrics.connectionsOpened++;
        this.settle(conn, { ok: true, hostPort: conn.localPort });
        break;
      case VSOCK_OP_RST:
        this.drop(conn, `guest port ${conn.peerPort} reset the connection`);
        return;
      case VSOCK_OP_SHUTDOWN:
        this.guestShutdown(conn, h.flags);
        break;
      case VSOCK_OP_CREDIT_UPDATE:
        break;
      case VSOCK_OP_CREDIT_REQUEST:
        conn.control.creditUpdate = true;
        break;
      case VSOCK_OP_REQUEST:
        return this.protocolError(conn, 'REQUEST on a connection that exists');
      default:
        this.metrics.unknownOp++;
        this.warn.warn(`${this.name}: unknown op ${h.op} on ${conn.localPort}:${conn.peerPort}; connection reset`);
        this.resetConnection(conn, `unknown op ${h.op}`);
        return;
    }
    if (this.conns.get(conn.key) === conn) {
      this.updatePause(conn);
      this.schedule(conn);
    }
  }

  /** A REQUEST for host port h.dstPort: ask the backend for a host stream, answer when it has one. */
  private guestConnect(h: VsockHeader): void {
    if (this.conns.size >= this.maxConnections) {
      this.metrics.connectionsRefused++;
      this.warn.warn(`${this.name}: refused guest port ${h.srcPort} -> host port ${h.dstPort}: ${this.maxConnections} connections are open`);
      this.queueReset(h.dstPort, h.srcPort);
      return;
    }
    const conn = new VsockConnection(h.dstPort, h.srcPort, 'connecting-to-host');
    conn.updatePeerCredit(h.bufAlloc, h.fwdCnt);
    this.conns.set(conn.key, conn);
    let settled = false;
    this.backend.connectToHost(h.dstPort, this.eventsFor(conn), (stream) => {
      if (settled) return;
      settled = true;
      if (this.conns.get(conn.key) !== conn) {
        // The guest gave up (RST) or the device was reset meanwhile.
        stream?.close();
        return;
      }
      if (stream === undefined) {
        this.metrics.connectionsRefused++;
        this.resetConnection(conn, `nothing listens on host port ${h.dstPort}`);
        return;
      }
      conn.stream = stream;
      conn.state = 'established';
      conn.control.response = true;
      this.metrics.connectionsOpened++;
      this.updatePause(conn);
      this.schedule(conn);
      this.deliver();
    });
  }

  private guestData(conn: VsockConnection, payload: Uint8Array): void {
    if (conn.state !== 'established' || conn.stream === undefined) return this.protocolError(conn, 'RW before the connection was established');
    if ((conn.peerShutdown & VSOCK_SHUTDOWN_F_SEND) !== 0) return this.protocolError(conn, 'RW after SHUTDOWN with F_SEND');
    if (payload.length > conn.localCredit) {
      this.metrics.creditViolations++;
      this.warn.warn(`${this.name}: guest port ${conn.peerPort} sent ${payload.length} bytes with ${conn.localCredit} bytes of credit; connection reset`);
      this.resetConnection(conn, 'credit exceeded');
      return;
    }
    if (payload.length === 0) return;
    conn.rxCnt = (conn.rxCnt + payload.length) >>> 0;
    this.metrics.txBytes += payload.length;
    if ((conn.localShutdown & VSOCK_SHUTDOWN_F_RECEIVE) !== 0) {
      // We said we receive no more: consume and discard, so the credit still returns.
      conn.forwarded(payload.length);
      return;
    }
    conn.stream.write(payload);
  }

  private guestShutdown(conn: VsockConnection, flags: number): void {
    const fresh = flags & (VSOCK_SHUTDOWN_F_RECEIVE | VSOCK_SHUTDOWN_F_SEND) & ~conn.peerShutdown;
    conn.peerShutdown |= fresh;
    if ((fresh & VSOCK_SHUTDOWN_F_SEND) !== 0) conn.stream?.end();
    if ((fresh & VSOCK_SHUTDOWN_F_RECEIVE) !== 0) conn.dropHostData();
    if (conn.fullyShut) this.resetConnection(conn, undefined);
  }

  // --- host events ---

  private eventsFor(conn: VsockConnection): VsockStreamEvents {
    const live = (): boolean => this.conns.get(conn.key) === conn;
    return {
      data: (bytes) => {
        if (!live()) return;
        conn.pushHostData(bytes);
        this.updatePause(conn);
        this.schedule(conn);
        this.deliver();
      },
      forwarded: (n) => {
        if (!live()) return;
        if (conn.forwarded(n)) {
          conn.control.creditUpdate = true;
          this.metrics.creditUpdatesSent++;
          this.schedule(conn);
          this.deliver();
        }
      },
      end: () => {
        if (!live() || conn.hostEnded) return;
        conn.hostEnded = true;
        conn.control.shutdown |= VSOCK_SHUTDOWN_F_SEND;
        this.schedule(conn);
        this.deliver();
      },
      close: () => {
        if (!live()) return;
        conn.stream = undefined;
        this.resetConnection(conn, 'the host stream closed');
        this.deliver();
      },
    };
  }

  // --- rx: packets to the guest ---

  /** Fills posted rx buffers with the RSTs and the connections' packets, round-robin. */
  private deliver(): void {
    if (this.quiesced) {
      this.deferred.rx = true;
      return;
    }
    if (this.delivering) {
      this.deliverAgain = true;
      return;
    }
    const q = this.activeQueue(VSOCK_RXQ);
    if (q === undefined) return;
    const { queue, s } = q;
    this.delivering = true;
    try {
      do {
        this.deliverAgain = false;
        const start = queue.headsTaken;
        while (queue.headsTaken - start < queue.size) {
          const conn = this.resets.length > 0 ? undefined : this.nextRx();
          if (this.resets.length === 0 && conn === undefined) break;
          const chain = queue.pop(s.mem, queue.size - (queue.headsTaken - start));
          if (chain === undefined) break;
          if (chain.readable.length > 0 || chain.writableBytes < VSOCK_HDR_SIZE) {
            this.metrics.badRxChains++;
            this.warn.warn(`${this.name}: rx chain ${chain.head} has ${chain.readable.length} device-readable buffers and ${chain.writableBytes} writable bytes; a packet needs ${VSOCK_HDR_SIZE}`);
            queue.addUsed(s.mem, chain.head, 0);
            continue;
          }
          const packet = conn === undefined ? this.resetPacket() : this.packetFor(conn, chain.writableBytes - VSOCK_HDR_SIZE);
          writeSegments(s.mem, chain.writable, 0, packet.header);
          if (packet.payload.length > 0) writeSegments(s.mem, chain.writable, VSOCK_HDR_SIZE, packet.payload);
          queue.addUsed(s.mem, chain.head, VSOCK_HDR_SIZE + packet.payload.length);
          this.metrics.rxPackets++;
          this.metrics.rxBytes += packet.payload.length;
          if (conn !== undefined) this.afterPacket(conn);
        }
        this.notify(queue, VSOCK_RXQ);
        if (queue.headsTaken - start >= queue.size) {
          this.serveLater(VSOCK_RXQ);
          break;
        }
      } while (this.deliverAgain);
    } finally {
      this.delivering = false;
    }
  }

  /** The first scheduled connection that owes a packet (others are unscheduled on the way). */
  private nextRx(): VsockConnection | undefined {
    for (const c of this.rxOrder) {
      if (this.conns.get(c.key) === c && c.hasRx) return c;
      this.rxOrder.delete(c);
    }
    return undefined;
  }

  private resetPacket(): { header: Uint8Array; payload: Uint8Array } {
    const [local, peer] = this.resets.shift() as [number, number];
    this.metrics.resetsSent++;
    return { header: this.header(local, peer, VSOCK_OP_RST, 0, 0, 0, 0), payload: new Uint8Array(0) };
  }

  /** The next packet `conn` owes, with at most `room` payload bytes. */
  private packetFor(conn: VsockConnection, room: number): { header: Uint8Array; payload: Uint8Array } {
    const c = conn.control;
    let op: number;
    let flags = 0;
    let payload: Uint8Array = new Uint8Array(0);
    if (c.request) {
      op = VSOCK_OP_REQUEST;
      c.request = false;
    } else if (c.response) {
      op = VSOCK_OP_RESPONSE;
      c.response = false;
    } else if (conn.canSendData && room > 0) {
      op = VSOCK_OP_RW;
      payload = conn.takeHostData(Math.min(room, VSOCK_MAX_PKT_PAYLOAD));
    } else if (c.shutdown !== 0 && conn.pending === 0 && conn.state === 'established') {
      op = VSOCK_OP_SHUTDOWN;
      flags = c.shutdown;
      conn.localShutdown |= flags;
      c.shutdown = 0;
    } else {
      op = VSOCK_OP_CREDIT_UPDATE;
    }
    // Every header carries our credit (5.10.6.3), so no separate update is owed after it.
    c.creditUpdate = false;
    conn.lastSentFwdCnt = conn.fwdCnt;
    return { header: this.header(conn.localPort, conn.peerPort, op, flags, payload.length, conn.bufAlloc, conn.fwdCnt), payload };
  }

  private afterPacket(conn: VsockConnection): void {
    if (conn.fullyShut) {
      this.resetConnection(conn, undefined);
      return;
    }
    this.updatePause(conn);
    // Round-robin: to the back of the line.
    this.rxOrder.delete(conn);
    this.schedule(conn);
  }

  private header(local: number, peer: number, op: number, flags: number, len: number, bufAlloc: number, fwdCnt: number): Uint8Array {
    return encodeHeader({ srcCid: VSOCK_HOST_CID, dstCid: BigInt(this.guestCid), srcPort: local, dstPort: peer, len, type: VSOCK_TYPE_STREAM, op, flags, bufAlloc, fwdCnt });
  }

  // --- connection table ---

  private schedule(conn: VsockConnection): void {
    if (conn.hasRx) this.rxOrder.add(conn);
  }

  /** Pauses the host stream while it has given more than the guest can take; resumes it after. */
  private updatePause(conn: VsockConnection): void {
    const stream = conn.stream;
    if (stream === undefined) return;
    const pause = conn.shouldPause;
    if (pause === conn.paused) return;
    conn.paused = pause;
    if (pause) {
      this.metrics.hostPauses++;
      stream.pause();
    } else stream.resume();
  }

  /** Ends `conn` with an RST to the guest; `why` (when abnormal) goes to the host side's waiter and the debug log. */
  private resetConnection(conn: VsockConnection, why: string | undefined): void {
    if (this.conns.get(conn.key) !== conn) return;
    this.drop(conn, why ?? 'both directions shut');
    this.queueReset(conn.localPort, conn.peerPort);
    // From a timer or a host callback this is the only chance to send it; inside deliver() it just loops again.
    this.deliver();
  }

  private protocolError(conn: VsockConnection, what: string): void {
    this.metrics.protocolErrors++;
    this.warn.warn(`${this.name}: ${what} (host port ${conn.localPort}, guest port ${conn.peerPort}); connection reset`);
    this.resetConnection(conn, what);
  }

  /** Forgets `conn`: closes its host stream and fails a waiting host-initiated connect. */
  private drop(conn: VsockConnection, why: string): void {
    if (this.conns.get(conn.key) !== conn) return;
    this.conns.delete(conn.key);
    this.rxOrder.delete(conn);
    const stream = conn.stream;
    conn.stream = undefined;
    if (conn.state === 'connecting-to-guest') this.metrics.connectionsRefused++;
    this.settle(conn, { ok: false, reason: why });
    stream?.close();
  }

  private settle(conn: VsockConnection, result: VsockConnectResult): void {
    const w = this.waiters.get(conn);
    if (w === undefined) return;
    this.waiters.delete(conn);
    clearTimeout(w.timer);
    w.done(result);
  }

  private dropAll(why: string): void {
    for (const conn of [...this.conns.values()]) this.drop(conn, why);
    this.resets.length = 0;
  }

  private queueReset(local: number, peer: number): void {
    if (this.resets.length >= MAX_PENDING_RESETS) {
      this.metrics.droppedResets++;
      return;
    }
    this.resets.push([local >>> 0, peer >>> 0]);
  }

  /** A local port for a host-initiated connection to guest port `peer`, unused with that peer. */
  private allocLocalPort(peer: number): number {
    for (;;) {
      const port = this.nextLocalPort;
      this.nextLocalPort = port >= 0xffff_fffe ? FIRST_LOCAL_PORT : port + 1;
      if (!this.conns.has(connectionKey(port, peer >>> 0))) return port;
    }
  }

  private activeQueue(index: number): { queue: Queue; s: Extract<ActivationState, { kind: 'active' }> } | undefined {
    const s = this.state;
    if (s.kind !== 'active') return undefined;
    const queue = s.queues[index];
    return queue === undefined || !queue.ready ? undefined : { queue, s };
  }

  private notify(queue: Queue, index: number): void {
    const s = this.state;
    if (s.kind !== 'active' || !queue.needsNotification(s.mem)) return;
    this.metrics.usedNotifications++;
    s.interrupt.signalUsedQueue(index);
  }

  private malformed(chain: DescriptorChain, what: string): void {
    this.metrics.malformedPackets++;
    this.warn.warn(`${this.name}: dropped tx chain ${chain.head}: it ${what}`);
  }
}
