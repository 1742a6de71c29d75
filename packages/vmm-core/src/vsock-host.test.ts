import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MockVsockGuest, type ReceivedVsockPacket } from '@workervisor/devices/testing';
import { createHostedVsock, parseConnectLine, type HostedVsock } from './vsock-host.js';

const OP = { REQUEST: 1, RESPONSE: 2, RST: 3, SHUTDOWN: 4, RW: 5, CREDIT_UPDATE: 6 } as const;

const until = async (cond: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
};

/** Collects the guest's packets as the device delivers them (re-posting rx buffers as it goes). */
class GuestView {
  readonly packets: ReceivedVsockPacket[] = [];
  constructor(readonly guest: MockVsockGuest) {
    guest.fillRx();
  }
  poll(): ReceivedVsockPacket[] {
    const got = this.guest.received();
    this.packets.push(...got);
    this.guest.fillRx();
    return got;
  }
  async next(op: number): Promise<ReceivedVsockPacket> {
    let found: ReceivedVsockPacket | undefined;
    await until(() => {
      this.poll();
      const i = this.packets.findIndex((p) => p.hdr.op === op);
      if (i >= 0) found = this.packets.splice(i, 1)[0];
      return found !== undefined;
    }, `a packet with op ${op}`);
    return found as ReceivedVsockPacket;
  }
}

function clientText(socket: Socket): { text: () => string; closed: () => boolean } {
  let text = '';
  let closed = false;
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.on('end', () => (closed = true));
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  return { text: () => text, closed: () => closed };
}

describe('vsock host side (Unix sockets, Firecracker hybrid model)', () => {
  let dir: string;
  let path: string;
  let hosted: HostedVsock | undefined;
  const closers: Array<() => void> = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wv-vsock-'));
    path = join(dir, 'v.sock');
  });
  afterEach(() => {
    for (const c of closers.splice(0)) c();
    hosted?.close();
    hosted = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (): Promise<{ guest: MockVsockGuest; view: GuestView }> => {
    hosted = await createHostedVsock({ cid: 3, socket: path }, { connectTimeoutMs: 1000 });
    const guest = new MockVsockGuest(hosted.device);
    return { guest, view: new GuestView(guest) };
  };
  const client = (): Socket => {
    const s = connect({ path, allowHalfOpen: true });
    closers.push(() => s.destroy());
    return s;
  };
  const listen = async (port: number, onConn: (s: Socket) => void): Promise<Server> => {
    const server = createServer({ allowHalfOpen: true }, onConn);
    await new Promise<void>((r) => server.listen(`${path}_${port}`, r));
    closers.push(() => server.close());
    return server;
  };

  it('parses CONNECT lines strictly', () => {
    expect(parseConnectLine('CONNECT 52')).toBe(52);
    expect(parseConnectLine('CONNECT 4294967295\r')).toBe(0xffff_ffff);
    for (const bad of ['CONNECT', 'CONNECT -1', 'CONNECT 4294967296', 'connect 52', 'CONNECT 52 x', 'CONNECT  52']) expect(parseConnectLine(bad)).toBeUndefined();
  });

  it('listens with mode 0600 and removes the socket on close', async () => {
    await start();
    expect(statSync(path).isSocket()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    hosted?.close();
    expect(() => statSync(path)).toThrow();
  });

  it("refuses a path another VMM listens on, and leaves that VMM's socket in place", async () => {
    await start();
    const first = statSync(path).ino;
    await expect(createHostedVsock({ cid: 4, socket: path })).rejects.toMatchObject({ code: 'ERR_VMM_UNIX_SOCKET_SOCKET_IN_USE' });
    expect(statSync(path).ino).toBe(first);
    // The first one still serves: a client's bad CONNECT line is answered by closing it.
    const s = client();
    const c = clientText(s);
    s.write('nonsense\n');
    await until(() => c.closed(), 'the first VMM closing a bad client');
  });

  it('CONNECT <port>: REQUEST to the guest port, OK <host port> on RESPONSE, bytes both ways, closed on RST', async () => {
    const { guest, view } = await start();
    const c = client();
    const out = clientText(c);
    c.write('CONNECT 52\nearly bytes');
    const req = await view.next(OP.REQUEST);
    expect(req.hdr).toMatchObject({ dstPort: 52, srcPort: 2 ** 30, dstCid: 3n, srcCid: 2n });
    guest.send({ op: OP.RESPONSE, srcPort: 52, dstPort: req.hdr.srcPort });
    await until(() => out.text() === `OK ${2 ** 30}\n`, 'OK line');
    const early = await view.next(OP.RW);
    expect(Buffer.from(early.payload).toString()).toBe('early bytes');
    guest.send({ op: OP.RW, srcPort: 52, dstPort: req.hdr.srcPort }, new TextEncoder().encode('from the guest'));
    await until(() => out.text().endsWith('from the guest'), 'guest bytes at the client');
    guest.send({ op: OP.RST, srcPort: 52, dstPort: req.hdr.srcPort });
    await until(out.closed, 'client closed');
  });

  it('closes the client without OK when the guest refuses with RST', async () => {
    const { guest, view } = await start();
    const c = client();
    const out = clientText(c);
    c.write('CONNECT 53\n');
    const req = await view.next(OP.REQUEST);
    guest.send({ op: OP.RST, srcPort: 53, dstPort: req.hdr.srcPort });
    await until(out.closed, 'client closed');
    expect(out.text()).toBe('');
  });

  it('closes a client whose first line is not CONNECT', async () => {
    await start();
    const c = client();
    const out = clientText(c);
    c.write('HELLO 52\n');
    await until(out.closed, 'client closed');
    expect(hosted?.device.connectionCount).toBe(0);
  });

  it('guest-initiated: host port P reaches the listener on <socket>_P, half-closes map to SHUTDOWN', async () => {
    const { guest, view } = await start();
    let host: Socket | undefined;
    let got = '';
    let hostSawEnd = false;
    await listen(1234, (s) => {
      host = s;
      s.on('data', (d: Buffer) => (got += d.toString()));
      s.on('end', () => (hostSawEnd = true));
    });
    guest.send({ op: OP.REQUEST, srcPort: 7000, dstPort: 1234 });
    const resp = await view.next(OP.RESPONSE);
    expect(resp.hdr).toMatchObject({ srcPort: 1234, dstPort: 7000 });
    guest.send({ op: OP.RW, srcPort: 7000, dstPort: 1234 }, new TextEncoder().encode('guest says hi'));
    await until(() => got === 'guest says hi', 'bytes at the host listener');
    host?.write('host answers');
    const rw = await view.next(OP.RW);
    expect(Buffer.from(rw.payload).toString()).toBe('host answers');
    // The guest shuts its send side: the host program reads EOF but can still write.
    guest.send({ op: OP.SHUTDOWN, srcPort: 7000, dstPort: 1234, flags: 2 });
    await until(() => hostSawEnd, 'EOF at the host listener');
    host?.end('bye');
    const last = await view.next(OP.RW);
    expect(Buffer.from(last.payload).toString()).toBe('bye');
    const shut = await view.next(OP.SHUTDOWN);
    expect(shut.hdr.flags).toBe(2);
    await view.next(OP.RST); // both directions shut: the connection ends
    expect(hosted?.device.connectionCount).toBe(0);
  });

  it('answers RST when nothing listens on <socket>_P', async () => {
    const { guest, view } = await start();
    guest.send({ op: OP.REQUEST, srcPort: 7001, dstPort: 4321 });
    const rst = await view.next(OP.RST);
    expect(rst.hdr).toMatchObject({ srcPort: 4321, dstPort: 7001 });
  });

  it('keeps to the guest credit and still delivers 1 MiB intact, with several streams at once', async () => {
    const { guest, view } = await start();
    const payloads = [randomBytes(1 << 20), randomBytes(1 << 20), randomBytes(1 << 20)];
    const streams = payloads.map((p, i) => {
      const c = client();
      c.write(`CONNECT ${60 + i}\n`);
      c.write(p);
      c.end();
      return c;
    });
    // The guest's receive buffer is 64 KiB; it acknowledges as it "reads".
    const BUF = 64 * 1024;
    const state = new Map<number, { local: number; got: Buffer[]; bytes: number; acked: number; shut: boolean }>();
    await until(() => {
      for (const p of view.poll()) {
        if (p.hdr.op === OP.REQUEST) {
          state.set(p.hdr.dstPort, { local: p.hdr.srcPort, got: [], bytes: 0, acked: 0, shut: false });
          guest.send({ op: OP.RESPONSE, srcPort: p.hdr.dstPort, dstPort: p.hdr.srcPort, bufAlloc: BUF });
        } else if (p.hdr.op === OP.RW) {
          const s = state.get(p.hdr.dstPort);
          if (s === undefined) throw new Error('RW for an unknown stream');
          s.got.push(Buffer.from(p.payload));
          s.bytes += p.payload.length;
          // Never more than the credit it gave; it tells of its reads only once the buffer is full.
          if (s.bytes - s.acked > BUF) throw new Error(`${s.bytes - s.acked} bytes in flight with ${BUF} of credit`);
          if (s.bytes - s.acked === BUF) {
            s.acked = s.bytes;
            guest.send({ op: OP.CREDIT_UPDATE, srcPort: p.hdr.dstPort, dstPort: s.local, bufAlloc: BUF, fwdCnt: s.bytes >>> 0 });
          }
        } else if (p.hdr.op === OP.SHUTDOWN) {
          const s = state.get(p.hdr.dstPort);
          if (s !== undefined) s.shut = true;
        }
      }
      return state.size === 3 && [...state.values()].every((s) => s.shut);
    }, 'three streams to finish');
    for (const [port, s] of state) {
      const sent = payloads[port - 60] as Buffer;
      expect(createHash('sha256').update(Buffer.concat(s.got)).digest('hex')).toBe(createHash('sha256').update(sent).digest('hex'));
    }
    expect(hosted?.device.metrics.hostPauses).toBeGreaterThan(0);
    for (const c of streams) c.destroy();
  });
});
