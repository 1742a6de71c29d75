import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeGuestMemory, MockVirtqueue, RecordingIrq, mmioInitialize, mmioRead32, mmioWrite32 } from '../../testing/index.js';
import { VIRTIO_ID_VSOCK } from '../device.js';
import { MmioTransport } from '../mmio.js';
import type { VsockBackend, VsockConnectResult, VsockHostStream, VsockStreamEvents } from './backend.js';
import { VSOCK_CONN_BUF_ALLOC } from './connection.js';
import {
  decodeHeader,
  encodeHeader,
  VSOCK_HDR_SIZE,
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
import { MAX_PENDING_RESETS, VirtioVsock, VSOCK_EVENTQ, VSOCK_RXQ, VSOCK_TXQ, type VirtioVsockOptions } from './vsock.js';

const GUEST_CID = 3;
const RX_BUF = 4096;

/** A host stream that records what the device did to it and forwards every write at once (unless told not to). */
class FakeStream implements VsockHostStream {
  written: Uint8Array[] = [];
  ended = false;
  closed = false;
  paused = false;
  pauses = 0;
  resumes = 0;
  events: VsockStreamEvents | undefined;
  constructor(private readonly autoForward = true) {}
  write(bytes: Uint8Array): void {
    this.written.push(bytes);
    if (this.autoForward) this.events?.forwarded(bytes.length);
  }
  end(): void {
    this.ended = true;
  }
  close(): void {
    this.closed = true;
  }
  pause(): void {
    this.paused = true;
    this.pauses++;
  }
  resume(): void {
    this.paused = false;
    this.resumes++;
  }
  text(): string {
    return Buffer.concat(this.written).toString();
  }
}

/** A backend whose listeners the test opens by port; connection attempts wait for `answer`. */
class FakeBackend implements VsockBackend {
  readonly attempts: Array<{ port: number; events: VsockStreamEvents; done: (s: VsockHostStream | undefined) => void }> = [];
  connectToHost(port: number, events: VsockStreamEvents, done: (stream: VsockHostStream | undefined) => void): void {
    this.attempts.push({ port, events, done });
  }
  /** Answers the latest attempt with a stream (or refuses it). */
  answer(stream: FakeStream | undefined): void {
    const a = this.attempts[this.attempts.length - 1];
    if (a === undefined) throw new Error('no connection attempt');
    if (stream !== undefined) stream.events = a.events;
    a.done(stream);
  }
}

interface Packet {
  hdr: VsockHeader;
  payload: Uint8Array;
}

function setup(options: Partial<VirtioVsockOptions> = {}) {
  const mem = new FakeGuestMemory(0x100_0000);
  const backend = new FakeBackend();
  const device = new VirtioVsock({ guestCid: GUEST_CID, backend, queueSize: 64, ...options });
  const irq = new RecordingIrq();
  const transport = new MmioTransport({ device, mem, irq });
  const rx = new MockVirtqueue(mem, { size: 64, ringBase: 0x1000, dataBase: 0x10_0000 });
  const tx = new MockVirtqueue(mem, { size: 64, ringBase: 0x4000, dataBase: 0x80_0000 });
  const ev = new MockVirtqueue(mem, { size: 64, ringBase: 0x8000, dataBase: 0xf0_0000 });
  const status = mmioInitialize(transport, [rx, tx, ev]);
  if (status !== 0x0f) throw new Error(`handshake ended in status 0x${status.toString(16)}`);
  const rxBuffers = new Map<number, number>();

  /** Posts `n` rx buffers of 44 + `size` bytes. */
  const postRx = (n: number, size = RX_BUF, notify = true): void => {
    for (let i = 0; i < n; i++) {
      const { head, buffers } = rx.addChain([{ len: VSOCK_HDR_SIZE + size, writable: true }]);
      rxBuffers.set(head, buffers[0]?.addr ?? 0);
    }
    if (notify) transport.queueNotify(VSOCK_RXQ);
  };
  /** Packets the device put in the rx queue since the last call. */
  const received = (): Packet[] =>
    rx.takeUsed().map((u) => {
      const addr = rxBuffers.get(u.id) ?? 0;
      const bytes = mem.slice(addr, u.len).slice();
      return { hdr: decodeHeader(bytes), payload: bytes.subarray(VSOCK_HDR_SIZE) };
    });
  const header = (h: Partial<VsockHeader>): VsockHeader => ({
    srcCid: BigInt(GUEST_CID),
    dstCid: 2n,
    srcPort: 5000,
    dstPort: 1234,
    len: 0,
    type: VSOCK_TYPE_STREAM,
    op: VSOCK_OP_RW,
    flags: 0,
    bufAlloc: 1 << 20,
    fwdCnt: 0,
    ...h,
  });
  /** The guest sends one packet (header and payload in separate descriptors, as Linux does). */
  const send = (h: Partial<VsockHeader>, payload?: Uint8Array): void => {
    const hdr = header({ len: payload?.length ?? 0, ...h });
    tx.addChain(payload === undefined || payload.length === 0 ? [{ data: encodeHeader(hdr) }] : [{ data: encodeHeader(hdr) }, { data: payload }]);
    transport.queueNotify(VSOCK_TXQ);
  };
  /** A guest-initiated connection from guest port `peer` to host port `port`, answered by a FakeStream. */
  const openFromGuest = (peer = 5000, port = 1234, stream = new FakeStream()): FakeStream => {
    send({ op: VSOCK_OP_REQUEST, srcPort: peer, dstPort: port });
    backend.answer(stream);
    return stream;
  };
  return { mem, device, backend, irq, transport, rx, tx, ev, postRx, received, send, header, openFromGuest };
}

const text = (s: string) => new TextEncoder().encode(s);
const ops = (ps: Packet[]) => ps.map((p) => p.hdr.op);

afterEach(() => {
  vi.useRealTimers();
});

describe('VirtioVsock', () => {
  it('is device type 19 with rx, tx and event queues and guest_cid (le64) in config space', () => {
    const { transport, device } = setup({ guestCid: 0x1234_5678 });
    expect(mmioRead32(transport, 0x008)).toBe(VIRTIO_ID_VSOCK);
    expect(device.queueMaxSizes).toEqual([64, 64, 64]);
    expect(mmioRead32(transport, 0x100)).toBe(0x1234_5678);
    expect(mmioRead32(transport, 0x104)).toBe(0);
    mmioWrite32(transport, 0x100, 7);
    expect(mmioRead32(transport, 0x100)).toBe(0x1234_5678);
    expect(device.metrics.ignoredConfigWrites).toBe(1);
  });

  it('refuses a reserved or out-of-range guest CID', () => {
    const backend = new FakeBackend();
    for (const guestCid of [0, 1, 2, 0xffff_ffff, 3.5]) expect(() => new VirtioVsock({ guestCid, backend })).toThrow(/guest CID/);
  });

  describe('guest-initiated connections', () => {
    it('asks the backend for the host port and answers RESPONSE once the host stream is open', () => {
      const { send, backend, postRx, received, device } = setup();
      postRx(4);
      send({ op: VSOCK_OP_REQUEST, srcPort: 5000, dstPort: 1234 });
      expect(backend.attempts.map((a) => a.port)).toEqual([1234]);
      expect(received()).toEqual([]); // nothing until the backend answers
      backend.answer(new FakeStream());
      const [p] = received();
      expect(p?.hdr).toMatchObject({ op: VSOCK_OP_RESPONSE, srcCid: 2n, dstCid: 3n, srcPort: 1234, dstPort: 5000, type: VSOCK_TYPE_STREAM, bufAlloc: VSOCK_CONN_BUF_ALLOC, fwdCnt: 0, len: 0 });
      expect(device.metrics.connectionsOpened).toBe(1);
      expect(device.connectionCount).toBe(1);
    });

    it('answers RST when nothing listens on the host port', () => {
      const { send, backend, postRx, received, device } = setup();
      postRx(2);
      send({ op: VSOCK_OP_REQUEST, srcPort: 5000, dstPort: 99 });
      backend.answer(undefined);
      expect(received().map((p) => [p.hdr.op, p.hdr.srcPort, p.hdr.dstPort])).toEqual([[VSOCK_OP_RST, 99, 5000]]);
      expect(device.metrics.connectionsRefused).toBe(1);
      expect(device.connectionCount).toBe(0);
    });

    it('carries bytes both ways', () => {
      const { send, postRx, received, openFromGuest } = setup();
      postRx(8);
      const stream = openFromGuest();
      received();
      send({ op: VSOCK_OP_RW }, text('ping from the guest'));
      expect(stream.text()).toBe('ping from the guest');
      stream.events?.data(text('pong from the host'));
      const [p] = received();
      expect(p?.hdr).toMatchObject({ op: VSOCK_OP_RW, len: 18, srcPort: 1234, dstPort: 5000 });
      expect(Buffer.from(p?.payload ?? []).toString()).toBe('pong from the host');
    });

    it('closes a host stream that opens after the guest gave up with RST', () => {
      const { send, backend, device } = setup();
      send({ op: VSOCK_OP_REQUEST });
      send({ op: VSOCK_OP_RST });
      const late = new FakeStream();
      backend.answer(late);
      expect(late.closed).toBe(true);
      expect(device.connectionCount).toBe(0);
    });
  });

  describe('host-initiated connections', () => {
    it('sends REQUEST from a local port of 2^30 up and reports the port on RESPONSE', () => {
      const { device, postRx, received, send } = setup();
      postRx(4);
      const results: VsockConnectResult[] = [];
      const stream = new FakeStream();
      stream.events = device.connectToGuest(52, stream, (r) => results.push(r));
      const [req] = received();
      expect(req?.hdr).toMatchObject({ op: VSOCK_OP_REQUEST, srcPort: 2 ** 30, dstPort: 52, dstCid: 3n });
      expect(results).toEqual([]);
      send({ op: VSOCK_OP_RESPONSE, srcPort: 52, dstPort: 2 ** 30 });
      expect(results).toEqual([{ ok: true, hostPort: 2 ** 30 }]);
      // Data in both directions on the new connection.
      stream.events?.data(text('hello'));
      expect(received().map((p) => Buffer.from(p.payload).toString())).toEqual(['hello']);
      send({ op: VSOCK_OP_RW, srcPort: 52, dstPort: 2 ** 30 }, text('hi'));
      expect(stream.text()).toBe('hi');
      // A second connection to the same guest port gets the next local port.
      device.connectToGuest(52, new FakeStream(), () => {});
      expect(received()[0]?.hdr.srcPort).toBe(2 ** 30 + 1);
    });

    it('holds bytes the host client sent before RESPONSE until the guest gave credit', () => {
      const { device, postRx, received, send } = setup();
      postRx(4);
      const stream = new FakeStream();
      stream.events = device.connectToGuest(52, stream, () => {});
      received();
      stream.events?.data(text('early'));
      expect(received()).toEqual([]);
      expect(stream.paused).toBe(true);
      send({ op: VSOCK_OP_RESPONSE, srcPort: 52, dstPort: 2 ** 30 });
      expect(received().map((p) => Buffer.from(p.payload).toString())).toEqual(['early']);
      expect(stream.paused).toBe(false);
    });

    it('holds the host client EOF until the guest answered, then sends SHUTDOWN', () => {
      const { device, postRx, received, send } = setup();
      postRx(4);
      const stream = new FakeStream();
      stream.events = device.connectToGuest(52, stream, () => {});
      stream.events?.end();
      expect(ops(received())).toEqual([VSOCK_OP_REQUEST]);
      send({ op: VSOCK_OP_RESPONSE, srcPort: 52, dstPort: 2 ** 30 });
      expect(received().map((p) => [p.hdr.op, p.hdr.flags])).toEqual([[VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_F_SEND]]);
    });

    it('reports a refusal when the guest answers RST, and closes the stream', () => {
      const { device, postRx, send } = setup();
      postRx(2);
      const results: VsockConnectResult[] = [];
      const stream = new FakeStream();
      device.connectToGuest(53, stream, (r) => results.push(r));
      send({ op: VSOCK_OP_RST, srcPort: 53, dstPort: 2 ** 30 });
      expect(results).toEqual([{ ok: false, reason: 'guest port 53 reset the connection' }]);
      expect(stream.closed).toBe(true);
      expect(device.metrics.connectionsRefused).toBe(1);
    });

    it('gives up after the connect timeout with an RST to the guest', () => {
      vi.useFakeTimers();
      const { device, postRx, received } = setup({ connectTimeoutMs: 100 });
      postRx(4);
      const results: VsockConnectResult[] = [];
      device.connectToGuest(54, new FakeStream(), (r) => results.push(r));
      received();
      vi.advanceTimersByTime(100);
      expect(results[0]?.ok).toBe(false);
      expect(ops(received())).toEqual([VSOCK_OP_RST]);
    });

    it('refuses at once while the driver is not running', () => {
      const { device, transport } = setup();
      mmioWrite32(transport, 0x70, 0); // driver reset
      const results: VsockConnectResult[] = [];
      expect(device.connectToGuest(52, new FakeStream(), (r) => results.push(r))).toBeUndefined();
      expect(results).toEqual([{ ok: false, reason: 'the guest has no vsock driver running' }]);
    });
  });

  describe('credit-based flow control', () => {
    it('never sends more than the guest has room for, pauses the host and resumes on CREDIT_UPDATE', () => {
      const { send, postRx, received, backend } = setup();
      postRx(16);
      send({ op: VSOCK_OP_REQUEST, bufAlloc: 1000 });
      const stream = new FakeStream();
      backend.answer(stream);
      received();
      stream.events?.data(new Uint8Array(2500).fill(7));
      const first = received();
      expect(first.map((p) => p.hdr.len)).toEqual([1000]);
      expect(stream.paused).toBe(true);
      send({ op: VSOCK_OP_CREDIT_UPDATE, bufAlloc: 1000, fwdCnt: 600 });
      expect(received().map((p) => p.hdr.len)).toEqual([600]);
      send({ op: VSOCK_OP_CREDIT_UPDATE, bufAlloc: 1000, fwdCnt: 1600 });
      expect(received().map((p) => p.hdr.len)).toEqual([900]);
      expect(stream.paused).toBe(false);
      expect(stream.resumes).toBe(1);
    });

    it('splits host data by rx buffer size and waits for more buffers', () => {
      const { postRx, received, openFromGuest } = setup();
      postRx(3, 1000);
      const stream = openFromGuest();
      expect(ops(received())).toEqual([VSOCK_OP_RESPONSE]);
      stream.events?.data(new Uint8Array(3500));
      expect(received().map((p) => p.hdr.len)).toEqual([1000, 1000]);
      postRx(2, 1000);
      expect(received().map((p) => p.hdr.len)).toEqual([1000, 500]);
    });

    it('sends CREDIT_UPDATE once a quarter of its buffer was forwarded, and on CREDIT_REQUEST', () => {
      const { send, postRx, received, openFromGuest, device } = setup();
      postRx(8);
      openFromGuest();
      received();
      const chunk = new Uint8Array(16 * 1024);
      for (let i = 0; i < 3; i++) send({ op: VSOCK_OP_RW }, chunk);
      expect(received()).toEqual([]);
      send({ op: VSOCK_OP_RW }, chunk); // 64 KiB forwarded = VSOCK_CONN_BUF_ALLOC / 4
      const [u] = received();
      expect(u?.hdr).toMatchObject({ op: VSOCK_OP_CREDIT_UPDATE, fwdCnt: 64 * 1024, bufAlloc: VSOCK_CONN_BUF_ALLOC });
      expect(device.metrics.creditUpdatesSent).toBe(1);
      send({ op: VSOCK_OP_CREDIT_REQUEST });
      expect(received().map((p) => [p.hdr.op, p.hdr.fwdCnt])).toEqual([[VSOCK_OP_CREDIT_UPDATE, 64 * 1024]]);
    });

    it('counts only forwarded bytes as consumed: a slow host stream holds the credit back', () => {
      const { send, postRx, received, openFromGuest } = setup();
      postRx(8);
      const stream = openFromGuest(5000, 1234, new FakeStream(false));
      received();
      send({ op: VSOCK_OP_RW }, new Uint8Array(100 * 1024));
      expect(received()).toEqual([]);
      stream.events?.forwarded(100 * 1024);
      expect(received()[0]?.hdr).toMatchObject({ op: VSOCK_OP_CREDIT_UPDATE, fwdCnt: 100 * 1024 });
    });

    it('resets a connection whose guest sends past the credit it was given', () => {
      const { send, postRx, received, openFromGuest, device } = setup();
      postRx(8);
      const stream = openFromGuest(5000, 1234, new FakeStream(false));
      received();
      const chunk = new Uint8Array(64 * 1024);
      for (let i = 0; i < 4; i++) send({ op: VSOCK_OP_RW }, chunk);
      expect(device.metrics.creditViolations).toBe(0);
      send({ op: VSOCK_OP_RW }, Uint8Array.of(1));
      expect(device.metrics.creditViolations).toBe(1);
      expect(ops(received())).toEqual([VSOCK_OP_RST]);
      expect(stream.closed).toBe(true);
      expect(stream.written.length).toBe(4);
    });
  });

  describe('shutdown and reset', () => {
    it('maps SHUTDOWN F_SEND to a half-close each way, then ends with RST', () => {
      const { send, postRx, received, openFromGuest, device } = setup();
      postRx(8);
      const stream = openFromGuest();
      received();
      send({ op: VSOCK_OP_SHUTDOWN, flags: VSOCK_SHUTDOWN_F_SEND });
      expect(stream.ended).toBe(true);
      expect(stream.closed).toBe(false);
      // The host still sends; then its EOF goes after the data.
      stream.events?.data(text('last words'));
      stream.events?.end();
      const got = received();
      expect(got.map((p) => [p.hdr.op, p.hdr.flags])).toEqual([
        [VSOCK_OP_RW, 0],
        [VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_F_SEND],
        [VSOCK_OP_RST, 0],
      ]);
      expect(stream.closed).toBe(true);
      expect(device.connectionCount).toBe(0);
    });

    it('answers a SHUTDOWN of both directions with RST and closes the host stream', () => {
      const { send, postRx, received, openFromGuest } = setup();
      postRx(4);
      const stream = openFromGuest();
      received();
      send({ op: VSOCK_OP_SHUTDOWN, flags: VSOCK_SHUTDOWN_F_SEND | VSOCK_SHUTDOWN_F_RECEIVE });
      expect(ops(received())).toEqual([VSOCK_OP_RST]);
      expect(stream.closed).toBe(true);
    });

    it('drops host data once the guest shut its receive side', () => {
      const { send, postRx, received, openFromGuest } = setup();
      postRx(4);
      const stream = openFromGuest();
      received();
      send({ op: VSOCK_OP_SHUTDOWN, flags: VSOCK_SHUTDOWN_F_RECEIVE });
      stream.events?.data(text('nobody reads this'));
      expect(received()).toEqual([]);
    });

    it('sends RST when the host stream closes, and ignores the stream afterwards', () => {
      const { postRx, received, openFromGuest, device } = setup();
      postRx(4);
      const stream = openFromGuest();
      received();
      stream.events?.close();
      expect(ops(received())).toEqual([VSOCK_OP_RST]);
      stream.events?.data(text('late'));
      stream.events?.close();
      expect(received()).toEqual([]);
      expect(device.connectionCount).toBe(0);
    });

    it('closes every host stream and fails pending connects on a driver reset', () => {
      const { device, transport, openFromGuest } = setup();
      const a = openFromGuest(5000);
      const b = openFromGuest(5001);
      const results: VsockConnectResult[] = [];
      device.connectToGuest(52, new FakeStream(), (r) => results.push(r));
      mmioWrite32(transport, 0x70, 0);
      expect([a.closed, b.closed]).toEqual([true, true]);
      expect(results[0]?.ok).toBe(false);
      expect(device.connectionCount).toBe(0);
    });

    it('posts TRANSPORT_RESET on the event queue and forgets the connections', () => {
      const { device, ev, transport, mem, openFromGuest } = setup();
      const { buffers } = ev.addChain([{ len: 8, writable: true }]);
      transport.queueNotify(VSOCK_EVENTQ);
      mem.writeU32(buffers[0]?.addr ?? 0, 0xffff_ffff);
      const s = openFromGuest();
      expect(device.transportReset()).toBe(true);
      expect(ev.takeUsed()).toEqual([{ id: 0, len: 4 }]);
      expect(mem.readU32(buffers[0]?.addr ?? 0)).toBe(0);
      expect(s.closed).toBe(true);
      expect(device.transportReset()).toBe(false); // no buffer left
    });

    it('posts TRANSPORT_RESET when restored into a live device, and refuses another CID', () => {
      const { device, ev, transport } = setup();
      ev.addChain([{ len: 8, writable: true }]);
      transport.queueNotify(VSOCK_EVENTQ);
      device.restore(device.save());
      expect(ev.takeUsed()).toEqual([{ id: 0, len: 4 }]);
      expect(() => device.restore({ guestCid: device.save().guestCid + 1 })).toThrow("the state's guest CID does not match");
    });
  });

  describe('many streams', () => {
    it('keeps 64 concurrent connections apart and serves them round-robin', () => {
      const { postRx, received, openFromGuest, send } = setup();
      const streams: FakeStream[] = [];
      postRx(64);
      for (let i = 0; i < 64; i++) streams.push(openFromGuest(6000 + i, 1234));
      expect(received().length).toBe(64);
      // The host end of every stream has 2 packets' worth; each gets one before any gets a second.
      for (const [i, s] of streams.entries()) s.events?.data(new Uint8Array(2 * RX_BUF).fill(i));
      postRx(64);
      const round = received();
      expect(new Set(round.map((p) => p.hdr.dstPort)).size).toBe(64);
      expect(round.every((p) => p.payload.every((b) => b === p.hdr.dstPort - 6000))).toBe(true);
      for (let i = 0; i < 64; i++) send({ op: VSOCK_OP_RW, srcPort: 6000 + i }, Uint8Array.of(i));
      expect(streams.every((s, i) => s.written.length === 1 && s.written[0]?.[0] === i)).toBe(true);
    });

    it('refuses connections past the limit with RST', () => {
      const { send, postRx, received, backend, device } = setup({ maxConnections: 2 });
      postRx(8);
      send({ op: VSOCK_OP_REQUEST, srcPort: 1 });
      send({ op: VSOCK_OP_REQUEST, srcPort: 2 });
      send({ op: VSOCK_OP_REQUEST, srcPort: 3 });
      expect(backend.attempts.length).toBe(2);
      expect(received().map((p) => [p.hdr.op, p.hdr.dstPort])).toEqual([[VSOCK_OP_RST, 3]]);
      expect(device.metrics.connectionsRefused).toBe(1);
    });
  });

  describe('hostile packets', () => {
    it('drops a chain shorter than a header, counts it and still returns the buffer', () => {
      const { tx, transport, device } = setup();
      tx.addChain([{ data: new Uint8Array(43) }]);
      transport.queueNotify(VSOCK_TXQ);
      expect(tx.takeUsed()).toEqual([{ id: 0, len: 0 }]);
      expect(device.metrics.malformedPackets).toBe(1);
    });

    it('drops a packet whose len is larger than its descriptors or than 64 KiB', () => {
      const { tx, transport, device, header, openFromGuest, postRx } = setup();
      postRx(4);
      const stream = openFromGuest();
      tx.addChain([{ data: encodeHeader(header({ len: 100 })) }, { data: new Uint8Array(99) }]);
      tx.addChain([{ data: encodeHeader(header({ len: 0xffff_ffff })) }]);
      const big = 64 * 1024 + 1;
      tx.addChain([{ data: encodeHeader(header({ len: big })) }, { len: big }]);
      transport.queueNotify(VSOCK_TXQ);
      expect(device.metrics.malformedPackets).toBe(3);
      expect(stream.written).toEqual([]);
      expect(tx.takeUsed().length).toBe(4); // the REQUEST and the three
    });

    it('drops a tx chain with device-writable buffers', () => {
      const { tx, transport, device, header } = setup();
      tx.addChain([{ data: encodeHeader(header({ op: VSOCK_OP_REQUEST })) }, { len: 16, writable: true }]);
      transport.queueNotify(VSOCK_TXQ);
      expect(device.metrics.malformedPackets).toBe(1);
    });

    it('drops packets not from the guest CID to the host CID', () => {
      const { send, device, backend, postRx, received } = setup();
      postRx(4);
      send({ op: VSOCK_OP_REQUEST, dstCid: 1n });
      send({ op: VSOCK_OP_REQUEST, dstCid: 2n | (1n << 40n) });
      send({ op: VSOCK_OP_REQUEST, srcCid: 4n });
      expect(device.metrics.wrongCid).toBe(3);
      expect(backend.attempts).toEqual([]);
      expect(received()).toEqual([]);
    });

    it('answers a packet of another socket type, one for no connection and an unknown op with RST', () => {
      const { send, device, postRx, received, openFromGuest } = setup();
      postRx(8);
      send({ op: VSOCK_OP_REQUEST, type: 2 }); // SEQPACKET, never negotiated
      send({ op: VSOCK_OP_RW, srcPort: 7777 }, text('who?'));
      send({ op: VSOCK_OP_CREDIT_UPDATE, srcPort: 7778 });
      send({ op: VSOCK_OP_RST, srcPort: 7779 }); // an RST for nothing gets nothing
      const stream = openFromGuest(5000);
      received();
      send({ op: 42, srcPort: 5000 });
      expect(device.metrics).toMatchObject({ badType: 1, unknownConnection: 2, unknownOp: 1 });
      expect(received().map((p) => [p.hdr.op, p.hdr.dstPort])).toEqual([[VSOCK_OP_RST, 5000]]);
      expect(stream.closed).toBe(true);
    });

    it('resets on protocol errors: RW before RESPONSE, a second REQUEST, RW after F_SEND', () => {
      const { send, device, postRx, received, openFromGuest } = setup();
      postRx(16);
      send({ op: VSOCK_OP_REQUEST, srcPort: 1 });
      send({ op: VSOCK_OP_RW, srcPort: 1 }, text('too early'));
      openFromGuest(2);
      send({ op: VSOCK_OP_REQUEST, srcPort: 2 });
      const s3 = openFromGuest(3);
      send({ op: VSOCK_OP_SHUTDOWN, srcPort: 3, flags: VSOCK_SHUTDOWN_F_SEND });
      send({ op: VSOCK_OP_RW, srcPort: 3 }, text('after shutdown'));
      expect(device.metrics.protocolErrors).toBe(3);
      expect(s3.written).toEqual([]);
      expect(received().filter((p) => p.hdr.op === VSOCK_OP_RST).map((p) => p.hdr.dstPort)).toEqual([1, 2, 3]);
    });

    it('completes rx chains too small for a header with length 0', () => {
      const { rx, transport, device, send } = setup();
      rx.addChain([{ len: 20, writable: true }]);
      transport.queueNotify(VSOCK_RXQ);
      send({ op: VSOCK_OP_RW, srcPort: 9 });
      expect(rx.takeUsed()).toEqual([{ id: 0, len: 0 }]);
      expect(device.metrics.badRxChains).toBe(1);
    });

    it('bounds the RSTs owed to a guest that floods without posting rx buffers', () => {
      const { send, device, postRx, received } = setup();
      for (let i = 0; i < MAX_PENDING_RESETS + 10; i++) send({ op: VSOCK_OP_CREDIT_REQUEST, srcPort: i });
      expect(device.metrics.droppedResets).toBe(10);
      postRx(32);
      expect(received().length).toBe(32);
    });

    it("comes back by itself after a full queue's worth of tx chains, without a kick", async () => {
      const { tx, transport, device, header } = setup();
      for (let i = 0; i < 64; i++) tx.addChain([{ data: encodeHeader(header({ op: VSOCK_OP_CREDIT_UPDATE, srcPort: i })) }]);
      transport.queueNotify(VSOCK_TXQ);
      expect(device.metrics.unknownConnection).toBe(64);
      tx.takeUsed();
      // The driver adds more; with EVENT_IDX it need not kick (avail_event was not advanced).
      for (let i = 0; i < 5; i++) tx.addChain([{ data: encodeHeader(header({ op: VSOCK_OP_CREDIT_UPDATE, srcPort: 100 + i })) }]);
      await new Promise((r) => setImmediate(r));
      expect(device.metrics.unknownConnection).toBe(69);
    });

    it('survives random bytes on the tx queue', () => {
      const { tx, transport, device } = setup();
      let seed = 1;
      const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fff_ffff) & 0xff;
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < 16; i++) tx.addChain([{ data: Array.from({ length: 44 + (rand() % 64) }, rand) }]);
        expect(() => transport.queueNotify(VSOCK_TXQ)).not.toThrow();
        expect(tx.takeUsed().length).toBe(16);
      }
      expect(device.metrics.wrongCid + device.metrics.malformedPackets).toBe(320);
    });
  });
});

describe('VirtioVsock while quiesced for a snapshot', () => {
  it('writes no host data into the guest and takes no packet from it, then delivers both on unquiesce', () => {
    const { send, postRx, received, openFromGuest, device } = setup();
    postRx(8);
    const stream = openFromGuest();
    received();
    device.quiesce();
    stream.events?.data(text('held back'));
    send({ op: VSOCK_OP_RW }, text('guest bytes'));
    expect(received()).toEqual([]);
    expect(stream.text()).toBe('');
    device.unquiesce();
    expect(stream.text()).toBe('guest bytes');
    const packets = received();
    expect(packets.some((p) => Buffer.from(p.payload).toString() === 'held back')).toBe(true);
  });
});
