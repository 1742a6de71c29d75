// Both sides of the protocol against hostile peers: thousands of malformed frames at the real
// agent (it must answer or close, never crash), and a hostile fake agent at the client (garbage,
// huge lengths, early close: typed errors, never an exception out of a stream callback).
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from './client.js';
import { AgentError, AgentUnavailableError } from './errors.js';
import { encodeFrame, FrameDecoder, FrameType, PayloadWriter, type Frame } from './protocol.js';
import { hostAgentUnavailable, startHostAgent, type HostAgent } from './testing/host-agent.js';

const skip = hostAgentUnavailable();

/** Reads frames from a raw socket until `until` says stop. */
function frames(socket: Socket, until: (f: Frame) => boolean): Promise<Frame[]> {
  const dec = new FrameDecoder();
  const got: Frame[] = [];
  return new Promise((resolve, reject) => {
    socket.on('data', (b: Buffer) => {
      for (const f of dec.push(b)) {
        got.push(f);
        if (until(f)) resolve(got);
      }
    });
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
  });
}

describe.skipIf(skip !== undefined)('the agent under malformed frames', () => {
  let agent: HostAgent;
  beforeAll(async () => {
    agent = await startHostAgent();
  });
  afterAll(async () => {
    await agent?.stop();
  });

  it('answers 5,000 malformed or random frames and still serves the connection', async () => {
    const s = connect(agent.socketPath);
    const target = join(agent.dir, 'fuzz-target');
    // Requests that touch the file system or run programs are only ever truncated templates,
    // so a random path can never name a host file outside the test's directory.
    const templates = [
      encodeFrame(FrameType.Exec, 0, 1, new PayloadWriter().u32(0).str('').u32(1).str('true').u32(0).finish()),
      encodeFrame(FrameType.WriteFile, 1, 2, new PayloadWriter().u32(0o644).str(target).bytes(Buffer.from('data')).finish()),
      encodeFrame(FrameType.Mkdir, 1, 3, new PayloadWriter().u32(0o755).str(join(agent.dir, 'fuzz-dir')).finish()),
      encodeFrame(FrameType.ReadFile, 0, 4, new PayloadWriter().str(target).finish()),
      encodeFrame(FrameType.Stat, 0, 5, new PayloadWriter().str(agent.dir).finish()),
    ];
    const harmless = [FrameType.Stdin, FrameType.Kill, FrameType.Ping, FrameType.Ready, FrameType.Exit, 0x00, 0x3f, 0x7fff, 0xffff];
    const sent: Buffer[] = [];
    for (let i = 0; i < 5000; i++) {
      if (i % 2 === 0) {
        const t = templates[randomInt(templates.length)] as Buffer;
        // Cut inside the payload and fix the header's length so the frame stays in step.
        const cut = t.subarray(0, 12 + randomInt(t.length - 12 + 1));
        const f = Buffer.from(cut);
        f.writeUInt32LE(cut.length - 12, 0);
        sent.push(f);
      } else {
        sent.push(encodeFrame(harmless[randomInt(harmless.length)] as number, randomInt(0x10000), randomInt(2 ** 32), randomBytes(randomInt(64))));
      }
    }
    sent.push(encodeFrame(FrameType.Ping, 0, 0xfeed, Buffer.from('still here')));
    const replies = frames(s, (f) => f.type === FrameType.Pong && f.id === 0xfeed);
    s.write(Buffer.concat(sent));
    const got = await replies;
    s.destroy();
    expect(got[0]?.type).toBe(FrameType.Ready);
    expect(got.find((f) => f.type === FrameType.Pong && f.id === 0xfeed)?.payload.toString()).toBe('still here');
    expect(got.filter((f) => f.type === FrameType.Error).length).toBeGreaterThan(1000);
  }, 60_000);

  it('closes a connection that announces an oversized frame, after saying why', async () => {
    const s = connect(agent.socketPath);
    const replies = frames(s, () => false);
    const h = Buffer.alloc(12);
    h.writeUInt32LE(0xffffffff, 0);
    h.writeUInt16LE(FrameType.Ping, 4);
    s.write(h);
    const got = await replies;
    const err = got.find((f) => f.type === FrameType.Error);
    expect(err?.payload.subarray(8).toString()).toContain('exceeds the limit');
  });

  it('survives a stream of garbage bytes and serves the next connection', async () => {
    for (let i = 0; i < 20; i++) {
      const s = connect(agent.socketPath);
      s.on('error', () => undefined);
      s.resume(); // read what the agent answers, so its close is seen
      s.end(randomBytes(randomInt(1, 200_000)));
      await new Promise((r) => s.once('close', r));
    }
    const client = await agent.connect();
    expect((await client.exec('echo alive')).stdout).toBe('alive\n');
    client.close();
    expect(agent.child.exitCode).toBe(null);
  }, 60_000);
});

describe('the client under a hostile agent', () => {
  let dir: string;
  let server: Server | undefined;
  const path = (): string => join(dir, 'evil.sock');
  const ready = (version = 1): Buffer => encodeFrame(FrameType.Ready, 0, 0, new PayloadWriter().u32(version).u64(1n).str('6.1.0').str('x86_64').finish());

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'wv-evil-'));
  });
  afterEach(async () => {
    await new Promise((r) => (server === undefined ? r(undefined) : server.close(r)));
    server = undefined;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A fake agent: `onConnect` gets each socket. */
  async function evil(onConnect: (s: Socket) => void): Promise<void> {
    rmSync(path(), { force: true });
    server = createServer((s) => {
      s.on('error', () => undefined);
      onConnect(s);
    });
    await new Promise<void>((r) => server?.listen(path(), r));
  }

  it('refuses an oversized first frame', async () => {
    await evil((s) => s.write(Buffer.alloc(12, 0xff)));
    await expect(AgentClient.connect(connect(path()))).rejects.toMatchObject({ code: 'ERR_VMM_AGENT_PROTOCOL' });
  });

  it('refuses another protocol version', async () => {
    await evil((s) => s.write(ready(2)));
    await expect(AgentClient.connect(connect(path()))).rejects.toMatchObject({ kind: 'version' });
  });

  it('reports an agent that closes before it is ready', async () => {
    await evil((s) => s.end());
    await expect(AgentClient.connect(connect(path()))).rejects.toBeInstanceOf(AgentUnavailableError);
  });

  it('fails the requests in flight when the agent closes early', async () => {
    await evil((s) => {
      s.write(ready());
      s.once('data', () => s.destroy());
    });
    const c = await AgentClient.connect(connect(path()));
    const err = await c.exec('true').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect(err).toMatchObject({ kind: 'closed' });
  });

  it('ends the connection on a malformed reply instead of throwing', async () => {
    await evil((s) => {
      s.write(ready());
      s.once('data', (b: Buffer) => s.write(encodeFrame(FrameType.Started, 0, b.readUInt32LE(8), Buffer.from([1, 2]))));
    });
    const c = await AgentClient.connect(connect(path()));
    await expect(c.exec('true')).rejects.toMatchObject({ kind: 'protocol' });
    expect(c.closed).toBe(true);
  });

  it('ends the connection on a huge announced length', async () => {
    await evil((s) => {
      s.write(ready());
      const h = Buffer.alloc(12);
      h.writeUInt32LE(2 ** 30, 0);
      s.once('data', () => s.write(h));
    });
    const c = await AgentClient.connect(connect(path()));
    await expect(c.ping()).rejects.toMatchObject({ kind: 'protocol' });
  });

  it('survives thousands of random frames and drops those for no request', async () => {
    await evil((s) => {
      s.write(ready());
      s.on('data', (b: Buffer) => {
        const id = b.readUInt32LE(8);
        const noise: Buffer[] = [];
        for (let i = 0; i < 3000; i++) noise.push(encodeFrame(randomInt(0x10000), randomInt(0x10000), id + 1 + randomInt(1000), randomBytes(randomInt(100))));
        noise.push(encodeFrame(FrameType.Pong, 0, id));
        s.write(Buffer.concat(noise));
      });
    });
    const c = await AgentClient.connect(connect(path()));
    expect(await c.ping()).toBeGreaterThan(0);
    c.close();
  });

  it('ends the connection on random bytes, failing the pending request with a typed error', async () => {
    await evil((s) => {
      s.write(ready());
      s.once('data', () => s.write(randomBytes(100_000)));
    });
    const c = await AgentClient.connect(connect(path()));
    const err = await c.exec('true').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
  });
});
