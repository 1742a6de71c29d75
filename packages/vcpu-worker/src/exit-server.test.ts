// The native exit hand-off across real threads: a worker_threads Worker forwards accesses through
// an ExitPort on its slot (it blocks on a futex, so it cannot run on the test's thread) and this
// thread's ExitServer runs them, as builder.ts wires the vCPUs and the buses.
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitPort } from '@workervisor/native';
import { AccessKind, type AccessHandler } from './access.js';
import { ExitServer } from './exit-server.js';

const NATIVE = new URL('../../../native/dist/index.js', import.meta.url);

/** The worker: one ExitPort.call per message, answered with the outcome and the bytes. */
const CLIENT_SOURCE = `
import { parentPort, workerData } from 'node:worker_threads';
const { ExitPort } = await import(workerData.nativeUrl);
const port = new ExitPort(workerData.hubId, workerData.index);
const flag = new Int32Array(workerData.flag);
parentPort.on('message', ({ kind, addr, bytes }) => {
  const data = new Uint8Array(bytes);
  Atomics.store(flag, 0, 1);
  const ok = port.call(kind, addr, data);
  parentPort.postMessage({ ok, bytes: [...data] });
});
`;
const CLIENT_URL = new URL(`data:text/javascript,${encodeURIComponent(CLIENT_SOURCE)}`);

interface CallResult {
  ok: boolean;
  bytes: number[];
}

/** A vCPU stand-in forwarding through slot `index`. `calling` becomes 1 just before each call. */
class ClientWorker {
  private readonly worker: Worker;
  private readonly waiting: Array<(r: CallResult) => void> = [];
  readonly calling = new Int32Array(new SharedArrayBuffer(4));

  constructor(hubId: number, index: number) {
    this.worker = new Worker(CLIENT_URL, { workerData: { nativeUrl: NATIVE.href, hubId, index, flag: this.calling.buffer } });
    this.worker.on('message', (r: CallResult) => this.waiting.shift()?.(r));
  }

  call(kind: AccessKind, addr: number, bytes: number[] | number): Promise<CallResult> {
    const data = typeof bytes === 'number' ? new Array<number>(bytes).fill(0) : bytes;
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.worker.postMessage({ kind, addr, bytes: data });
    });
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

interface SeenAccess {
  kind: AccessKind;
  addr: number;
  bytes: number[];
}

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function startCore(slots: number, answer: AccessHandler = () => {}): { server: ExitServer; seen: SeenAccess[]; client(index: number): ClientWorker } {
  const seen: SeenAccess[] = [];
  const server = new ExitServer(slots, (kind, addr, data) => {
    seen.push({ kind, addr, bytes: [...data] });
    answer(kind, addr, data);
  });
  cleanups.push(() => server.close());
  return {
    server,
    seen,
    client(index) {
      const worker = new ClientWorker(server.hubId, index);
      cleanups.push(() => worker.terminate());
      return worker;
    },
  };
}

/** Blocks this thread (the core) for `ms`, as a busy device would. */
function blockCore(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe('ExitServer and ExitPort across a worker', () => {
  it('delivers a PIO write to the handler with its kind, port and bytes', async () => {
    const core = startCore(1);
    expect(await core.client(0).call(AccessKind.PioWrite, 0x3ff, [0x5a])).toEqual({ ok: true, bytes: [0x5a] });
    expect(core.seen).toEqual([{ kind: AccessKind.PioWrite, addr: 0x3ff, bytes: [0x5a] }]);
    expect(core.server.served).toBe(1);
  });

  it('returns the bytes the handler fills for an MMIO read, at a 64-bit address', async () => {
    const core = startCore(1, (_kind, _addr, data) => data.set([1, 2, 3, 4]));
    expect(await core.client(0).call(AccessKind.MmioRead, 0x1_d000_0010, 4)).toEqual({ ok: true, bytes: [1, 2, 3, 4] });
    expect(core.seen).toEqual([{ kind: AccessKind.MmioRead, addr: 0x1_d000_0010, bytes: [0, 0, 0, 0] }]);
  });

  it('answers a read the handler leaves alone with zeros, even after a write left bytes in the slot', async () => {
    const core = startCore(1);
    const client = core.client(0);
    await client.call(AccessKind.MmioWrite, 0xd000_0000, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect(await client.call(AccessKind.MmioRead, 0xd000_0000, 8)).toEqual({ ok: true, bytes: [0, 0, 0, 0, 0, 0, 0, 0] });
  });

  it('serves each slot its own answers', async () => {
    const core = startCore(2, (_kind, addr, data) => data.fill(addr & 0xff));
    const [a, b] = [core.client(0), core.client(1)];
    const results = await Promise.all([a.call(AccessKind.PioRead, 0x71, 1), b.call(AccessKind.PioRead, 0x72, 1), a.call(AccessKind.PioRead, 0x73, 2)]);
    expect(results).toEqual([
      { ok: true, bytes: [0x71] },
      { ok: true, bytes: [0x72] },
      { ok: true, bytes: [0x73, 0x73] },
    ]);
    expect(core.server.served).toBe(3);
  });

  it('completes a read with zeros and counts the failure when the handler throws', async () => {
    const core = startCore(1, (_kind, _addr, data) => {
      data.fill(0x99);
      throw new Error('device bug');
    });
    expect(await core.client(0).call(AccessKind.MmioRead, 0xd000_0000, 2)).toEqual({ ok: true, bytes: [0, 0] });
    expect(core.server.failures).toBe(1);
  });

  it('close() releases a vCPU whose access was posted but not yet run, which gets false', async () => {
    let second: Promise<CallResult> | undefined;
    let b: ClientWorker | undefined;
    const core = startCore(2, (_kind, addr) => {
      if (addr !== 0x81 || b === undefined) return;
      // Inside slot 0's access: slot 1 posts its access now and goes to sleep; then tear down.
      Atomics.store(b.calling, 0, 0);
      second = b.call(AccessKind.PioRead, 0x64, 1);
      while (Atomics.load(b.calling, 0) === 0) blockCore(1);
      blockCore(50);
      core.server.close();
    });
    const a = core.client(0);
    const other = core.client(1);
    await a.call(AccessKind.PioWrite, 0x80, [0]); // both workers up and attached
    await other.call(AccessKind.PioWrite, 0x80, [0]);
    b = other;
    const start = performance.now();
    expect(await a.call(AccessKind.PioWrite, 0x81, [1])).toEqual({ ok: true, bytes: [1] });
    expect(await second).toEqual({ ok: false, bytes: [0] });
    // Woken by close(), not by the 50 ms re-check slices adding up.
    expect(performance.now() - start).toBeLessThan(900);
    expect(core.seen.filter((s) => s.addr === 0x64)).toEqual([]);
  });

  it('after close(), calls return false at once and never reach the handler', async () => {
    const core = startCore(1);
    const client = core.client(0);
    expect((await client.call(AccessKind.PioWrite, 0x80, [1])).ok).toBe(true);
    core.server.close();
    core.server.close();
    expect(await client.call(AccessKind.PioWrite, 0x80, [2])).toEqual({ ok: false, bytes: [2] });
    expect(await client.call(AccessKind.MmioRead, 0xd000_0000, 4)).toEqual({ ok: false, bytes: [0, 0, 0, 0] });
    expect(core.seen).toHaveLength(1);
  });

  it('refuses a port on a slot the hub does not have', () => {
    const core = startCore(1);
    expect(() => new ExitPort(core.server.hubId, 1)).toThrow(/no such exit hub slot/);
    expect(() => new ExitPort(0xffff_fff0, 0)).toThrow(/no such exit hub slot/);
  });
});
