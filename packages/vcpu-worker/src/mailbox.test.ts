// The exit mailbox across real threads: a worker_threads Worker runs the built MailboxClient
// (it blocks in Atomics.wait, so it cannot run on the test's thread) and this thread serves it
// with MailboxServer behind a native doorbell EventFd + FdWatcher, as builder.ts wires it.
import { existsSync, statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EventFd, FdWatcher } from '@workervisor/native';
import { AccessKind, createMailbox, MAILBOX_BYTES, MailboxServer, type AccessHandler } from './mailbox.js';

const BUILT_MAILBOX = new URL('../dist/mailbox.js', import.meta.url);

/** The worker: one MailboxClient.call per message, answered with the outcome and the bytes. */
const CLIENT_SOURCE = `
import { parentPort, workerData } from 'node:worker_threads';
const { MailboxClient } = await import(workerData.moduleUrl);
const client = new MailboxClient(workerData.mailbox, workerData.doorbellFd);
parentPort.on('message', ({ kind, addr, bytes }) => {
  const data = new Uint8Array(bytes);
  const ok = client.call(kind, addr, data);
  parentPort.postMessage({ ok, bytes: [...data] });
});
`;
const CLIENT_URL = new URL(`data:text/javascript,${encodeURIComponent(CLIENT_SOURCE)}`);

interface CallResult {
  ok: boolean;
  bytes: number[];
}

/** A vCPU stand-in: a worker whose calls go through MailboxClient. */
class ClientWorker {
  private readonly worker: Worker;
  private readonly waiting: Array<{ resolve: (r: CallResult) => void; reject: (e: unknown) => void }> = [];
  private failure: unknown;

  constructor(mailbox: SharedArrayBuffer, doorbellFd: number) {
    this.worker = new Worker(CLIENT_URL, { workerData: { moduleUrl: BUILT_MAILBOX.href, mailbox, doorbellFd } });
    this.worker.on('message', (r: CallResult) => this.waiting.shift()?.resolve(r));
    const fail = (err: unknown): void => {
      this.failure = err;
      for (const w of this.waiting.splice(0)) w.reject(err);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`client worker exited with code ${code}`)));
  }

  /** MailboxClient.call in the worker; resolves with its return value and the data after it. */
  call(kind: AccessKind, addr: number, bytes: number[] | number): Promise<CallResult> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const data = typeof bytes === 'number' ? new Array<number>(bytes).fill(0) : bytes;
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.worker.postMessage({ kind, addr, bytes: data });
    });
  }

  async terminate(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

interface SeenAccess {
  kind: AccessKind;
  addr: number;
  bytes: number[];
}

/** A core stand-in: a MailboxServer served from this thread's event loop on a doorbell. */
interface Core {
  server: MailboxServer;
  doorbell: EventFd;
  watcher: FdWatcher;
  seen: SeenAccess[];
  /** Errors serve() threw (a throwing handler), caught so they do not crash the test run. */
  serveErrors: unknown[];
  client(): ClientWorker;
  /** Resolves the next time the doorbell rings. */
  nextRing(): Promise<void>;
}

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  // Workers first: a live client may still ring the doorbell, so its fd must outlive them.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * Starts a core whose handler records every access and runs `answer` on it.
 * With `serve: false` the doorbell is drained but nothing is served, so clients stay waiting.
 */
function startCore(answer: AccessHandler = () => {}, opts: { serve?: boolean } = {}): Core {
  const seen: SeenAccess[] = [];
  const serveErrors: unknown[] = [];
  const server = new MailboxServer((kind, addr, data) => {
    seen.push({ kind, addr, bytes: [...data] });
    answer(kind, addr, data);
  });
  const doorbell = new EventFd();
  const rings: Array<() => void> = [];
  const watcher = new FdWatcher(doorbell.fd, () => {
    doorbell.read();
    for (const ring of rings.splice(0)) ring();
    if (opts.serve === false) return;
    try {
      server.serve();
    } catch (err) {
      serveErrors.push(err);
    }
  });
  cleanups.push(() => {
    server.close();
    watcher.stop();
    doorbell.close();
  });
  return {
    server,
    doorbell,
    watcher,
    seen,
    serveErrors,
    client() {
      const mailbox = createMailbox();
      server.add(mailbox);
      const worker = new ClientWorker(mailbox, doorbell.fd);
      cleanups.push(() => worker.terminate());
      return worker;
    },
    nextRing() {
      return new Promise((resolve) => {
        rings.push(resolve);
      });
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

beforeAll(() => {
  const source = new URL('./mailbox.ts', import.meta.url);
  if (!existsSync(BUILT_MAILBOX)) throw new Error(`${BUILT_MAILBOX.pathname} is missing: run \`npx tsc -b packages/vcpu-worker\` first`);
  if (statSync(BUILT_MAILBOX).mtimeMs < statSync(source).mtimeMs) {
    console.warn(`[workervisor] ${BUILT_MAILBOX.pathname} is older than mailbox.ts; the worker runs the stale build`);
  }
});

describe('createMailbox', () => {
  it(`makes a zeroed SharedArrayBuffer of MAILBOX_BYTES (${MAILBOX_BYTES}) bytes`, () => {
    const box = createMailbox();
    expect(box).toBeInstanceOf(SharedArrayBuffer);
    expect(box.byteLength).toBe(MAILBOX_BYTES);
    expect(new Uint8Array(box).every((b) => b === 0)).toBe(true);
  });
});

describe('MailboxClient and MailboxServer across a worker', () => {
  it('delivers a PIO write to the handler with its kind, port and bytes', async () => {
    const core = startCore();
    const result = await core.client().call(AccessKind.PioWrite, 0x3f8, [0x41]);
    expect(result).toEqual({ ok: true, bytes: [0x41] });
    expect(core.seen).toEqual([{ kind: AccessKind.PioWrite, addr: 0x3f8, bytes: [0x41] }]);
  });

  it('returns the handler bytes of a PIO read to the worker', async () => {
    const core = startCore((kind, _addr, data) => {
      if (kind === AccessKind.PioRead) data.set([0x34, 0x12]);
    });
    const result = await core.client().call(AccessKind.PioRead, 0x1f0, 2);
    expect(result).toEqual({ ok: true, bytes: [0x34, 0x12] });
    expect(core.seen).toEqual([{ kind: AccessKind.PioRead, addr: 0x1f0, bytes: [0, 0] }]);
  });

  it('returns the handler bytes of an MMIO read to the worker', async () => {
    const core = startCore((kind, _addr, data) => {
      if (kind === AccessKind.MmioRead) data.set([0x76, 0x69, 0x72, 0x74]);
    });
    const result = await core.client().call(AccessKind.MmioRead, 0xd000_0000, 4);
    expect(result).toEqual({ ok: true, bytes: [0x76, 0x69, 0x72, 0x74] });
    expect(core.seen.map((s) => [s.kind, s.addr])).toEqual([[AccessKind.MmioRead, 0xd000_0000]]);
  });

  it('delivers an MMIO write with its bytes', async () => {
    const core = startCore();
    await core.client().call(AccessKind.MmioWrite, 0xfec0_0010, [1, 2, 3, 4]);
    expect(core.seen).toEqual([{ kind: AccessKind.MmioWrite, addr: 0xfec0_0010, bytes: [1, 2, 3, 4] }]);
  });

  it.each([0xffff_ffff, 0x1_0000_0000, 0x1_2345_6789, 0xf_ffff_f000, Number.MAX_SAFE_INTEGER].map((a) => [`0x${a.toString(16)}`, a] as const))(
    'keeps the high half of MMIO address %s (ADDR_HI)',
    async (_hex, addr) => {
      const core = startCore();
      await core.client().call(AccessKind.MmioWrite, addr, [0xaa]);
      expect(core.seen.map((s) => s.addr)).toEqual([addr]);
    },
  );

  it.each([1, 2, 4, 8])('round-trips %i-byte writes and reads', async (size) => {
    const pattern = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88].slice(0, size);
    const answer = pattern.map((b) => b ^ 0xff);
    const core = startCore((kind, _addr, data) => {
      if (kind === AccessKind.PioRead || kind === AccessKind.MmioRead) data.set(answer);
    });
    const client = core.client();
    expect(await client.call(AccessKind.PioWrite, 0x80, pattern)).toEqual({ ok: true, bytes: pattern });
    expect(await client.call(AccessKind.MmioRead, 0xd000_1000, size)).toEqual({ ok: true, bytes: answer });
    expect(core.seen).toEqual([
      { kind: AccessKind.PioWrite, addr: 0x80, bytes: pattern },
      // A read's buffer reaches the handler zeroed, even right after a write of the same size.
      { kind: AccessKind.MmioRead, addr: 0xd000_1000, bytes: new Array<number>(size).fill(0) },
    ]);
  });

  it('answers a read the handler leaves alone with zeros', async () => {
    const core = startCore();
    const client = core.client();
    await client.call(AccessKind.PioWrite, 0x60, [0xff, 0xff, 0xff, 0xff]);
    expect(await client.call(AccessKind.PioRead, 0x60, 4)).toEqual({ ok: true, bytes: [0, 0, 0, 0] });
  });

  it('counts every served access in `served`', async () => {
    const core = startCore();
    expect(core.server.served).toBe(0);
    const client = core.client();
    for (let i = 0; i < 5; i++) await client.call(AccessKind.PioWrite, 0x80, [i]);
    await client.call(AccessKind.PioRead, 0x80, 1);
    expect(core.server.served).toBe(6);
    expect(core.seen.map((s) => s.bytes[0])).toEqual([0, 1, 2, 3, 4, 0]);
  });

  it('serves several mailboxes behind one doorbell', async () => {
    const core = startCore((kind, addr, data) => {
      if (kind === AccessKind.PioRead) data[0] = addr & 0xff;
    });
    const clients = [core.client(), core.client(), core.client()];
    const results = await Promise.all(clients.map((c, i) => c.call(AccessKind.PioRead, 0x70 + i, 1)));
    expect(results).toEqual([
      { ok: true, bytes: [0x70] },
      { ok: true, bytes: [0x71] },
      { ok: true, bytes: [0x72] },
    ]);
    expect(core.server.served).toBe(3);
  });

  it('completes a read with zeros and counts the failure when the handler throws, without throwing from serve()', async () => {
    const core = startCore((kind, _addr, data) => {
      data.fill(0x99);
      throw new Error('device bug');
    });
    const result = await core.client().call(AccessKind.MmioRead, 0xd000_0000, 2);
    expect(result).toEqual({ ok: true, bytes: [0, 0] });
    expect(core.server.served).toBe(1);
    expect(core.server.failures).toBe(1);
    expect(core.serveErrors).toEqual([]);
  });

  it('close() releases a client even when it lands between its STOP check and its wait', async () => {
    const core = startCore(() => {}, { serve: false });
    const client = core.client();
    const rang = core.nextRing();
    const pending = client.call(AccessKind.PioRead, 0x64, 1);
    await rang;
    // Right after the doorbell: the worker may still be spinning or about to wait.
    const start = performance.now();
    core.server.close();
    expect(await pending).toEqual({ ok: false, bytes: [0] });
    expect(performance.now() - start).toBeLessThan(900);
  });

  it('close() releases a client waiting for an answer, which gets false', async () => {
    const core = startCore(() => {}, { serve: false });
    const client = core.client();
    const rang = core.nextRing();
    const pending = client.call(AccessKind.PioRead, 0x64, 1);
    await rang;
    // Let the worker finish its spin and go to sleep in Atomics.wait.
    await sleep(50);
    const start = performance.now();
    core.server.close();
    expect(await pending).toEqual({ ok: false, bytes: [0] });
    // Woken by close()'s notify, well before the client's own 1 s re-check.
    expect(performance.now() - start).toBeLessThan(900);
    expect(core.seen).toEqual([]);
  });

  it('after close(), calls return false at once without ringing the doorbell', async () => {
    const core = startCore();
    const client = core.client();
    expect((await client.call(AccessKind.PioWrite, 0x80, [1])).ok).toBe(true);
    core.server.close();
    // Nobody drains the doorbell from here on, so a ring would stay in its counter.
    core.watcher.stop();
    expect(await client.call(AccessKind.PioWrite, 0x80, [2])).toEqual({ ok: false, bytes: [2] });
    expect(await client.call(AccessKind.MmioRead, 0xd000_0000, 4)).toEqual({ ok: false, bytes: [0, 0, 0, 0] });
    expect(core.doorbell.read()).toBe(0n);
    expect(core.seen).toHaveLength(1);
    expect(core.server.served).toBe(1);
  });
});
