import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../routes/index.js';
import { EXAMPLE_BODIES } from '../testing/example-bodies.js';
import { call, raw, type Reply } from '../testing/http.js';
import { startApiServer, type ApiServerHandle } from './server.js';

const WORKER = new URL('../../dist/server/worker.js', import.meta.url);

/** mulberry32: a seeded PRNG so a failure is reproducible. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = Number(process.env['WORKERVISOR_FUZZ_SEED'] ?? 0x5eed);
const rand = prng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
const WEIRD: unknown[] = [null, true, -1, 0, 1.5, 2 ** 60, '', 'x', [], {}, [1, 'a'], { a: { b: {} } }, '\u0000', 'é'.repeat(50)];

/** Replaces, removes or adds one value somewhere in `v`. */
function mutate(v: unknown, depth = 0): unknown {
  if (typeof v !== 'object' || v === null || rand() < 0.25 || depth > 4) return pick(WEIRD);
  if (Array.isArray(v)) return v.length === 0 ? [pick(WEIRD)] : v.map((x, i) => (i === 0 ? mutate(x, depth + 1) : x));
  const obj = { ...(v as Record<string, unknown>) };
  const keys = Object.keys(obj);
  const r = rand();
  if (r < 0.2 || keys.length === 0) obj[pick(['bogus', 'Payload', '__proto__', 'constructor', 'x'.repeat(300)])] = pick(WEIRD);
  else if (r < 0.35) delete obj[pick(keys)];
  else {
    const k = pick(keys);
    obj[k] = mutate(obj[k], depth + 1);
  }
  return obj;
}

function randomBody(path: string): string | undefined {
  const valid = EXAMPLE_BODIES[path];
  const r = rand();
  const text = JSON.stringify(valid ?? {});
  if (r < 0.45) return JSON.stringify(mutate(valid ?? {}));
  if (r < 0.6) return text.slice(0, Math.floor(rand() * text.length)); // truncated JSON
  if (r < 0.7) return Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 64) }, () => Math.floor(rand() * 256))).toString('latin1');
  if (r < 0.75) return JSON.stringify(pick(WEIRD));
  if (r < 0.78) return `{"a":"${'x'.repeat(1024 * 1024)}"}`; // over the 1 MiB cap
  if (r < 0.85) return `${'['.repeat(5000)}${']'.repeat(5000)}`; // deep nesting
  return undefined;
}

function randomPath(): string {
  const r = rand();
  const real = pick(API_ROUTES).path;
  if (r < 0.7) return `/api/v1${real}`;
  if (r < 0.8) return `/api/v1${real}?${pick(['a=1', 'x', '%zz', '&&&', 'desired_vcpus=2'])}`;
  if (r < 0.9) return pick(['/', '/api', '/api/v1/', '/api/v2/vm.info', `/api/v1/${'a'.repeat(2000)}`, '/api/v1/vm.info/..', '//api//v1', '/%00', '/api/v1/vm.%ZZ']);
  return `/api/v1${real.toUpperCase()}`;
}

function isJsonError(res: Reply): boolean {
  try {
    return typeof (JSON.parse(res.body) as { message?: unknown }).message === 'string';
  } catch {
    return false;
  }
}

describe('API server under malformed input', () => {
  let dir: string;
  let socketPath: string;
  let server: ApiServerHandle;
  beforeAll(async () => {
    if (!existsSync(fileURLToPath(WORKER))) throw new Error('packages/api is not built: run `npx tsc -b packages/api` first');
    dir = mkdtempSync(join(tmpdir(), 'wv-fuzz-'));
    socketPath = join(dir, 'api.sock');
    // Every valid request succeeds, so anything but 2xx/4xx is a server bug.
    const backend = { handle: async (r: { type: string }) => ({ ok: true as const, value: r.type === 'VmmPing' ? { version: '0.1.0' } : undefined }) };
    server = await startApiServer({ socketPath, backend, workerUrl: WORKER });
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`answers thousands of generated requests with a success or a JSON 4xx (seed ${SEED})`, async () => {
    const methods = ['GET', 'PUT', 'PUT', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];
    const types = ['application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-8', ''];
    const failures: string[] = [];
    const total = 3000;
    let next = 0;
    const worker = async () => {
      while (next < total) {
        next++;
        const method = pick(methods);
        const path = randomPath();
        const body = method === 'GET' || method === 'HEAD' ? undefined : randomBody(path.replace(/^\/api\/v1/, '').split('?')[0] ?? '');
        const type = pick(types);
        let res: Reply;
        try {
          res = await call(socketPath, method, path, body, type === '' ? {} : { 'Content-Type': type });
        } catch (err) {
          // The server closes the connection after a 413 without reading the rest of the body.
          const code = (err as NodeJS.ErrnoException).code;
          if ((code === 'EPIPE' || code === 'ECONNRESET') && body !== undefined && body.length > 1024 * 1024) continue;
          failures.push(`${method} ${path.slice(0, 80)}: ${String(err)}`);
          continue;
        }
        const success = res.status === 200 || res.status === 204;
        const clientError = res.status >= 400 && res.status < 500 && (method === 'HEAD' || isJsonError(res));
        if (!(success || clientError)) {
          failures.push(`${method} ${path.slice(0, 80)} -> ${res.status} ${res.body.slice(0, 200)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(failures.slice(0, 10)).toEqual([]);
  }, 120_000);

  it('answers garbage, truncated and oversized raw HTTP with a JSON 4xx or a closed connection', async () => {
    const cases: (string | Buffer)[] = [
      'GARBAGE\r\n\r\n',
      '\r\n\r\n\r\n',
      'GET\r\n\r\n',
      'GET /api/v1/vmm.ping HTTP/9.9\r\n\r\n',
      'GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n',
      `GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
      `GET /api/v1/vmm.ping HTTP/1.1\r\n${Array.from({ length: 3000 }, (_, i) => `X-${i}: y`).join('\r\n')}\r\n\r\n`,
      'PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"payload":',
      'PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
      'PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello',
      'PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nxx\r\n0\r\n\r\n',
      'PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n',
      'PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n{}',
      `PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${'100000\r\n'}${'a'.repeat(0x100000)}\r\n${'10\r\n'}${'a'.repeat(16)}\r\n0\r\n\r\n`,
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]), // a TLS ClientHello
      Buffer.alloc(70_000, 0x41),
      `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      'GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE AFTER A VALID REQUEST\r\n\r\n',
    ];
    for (let i = 0; i < 200; i++) {
      // Random prefixes of a valid request, cut anywhere.
      const full = `PUT /api/v1/vm.resize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 19\r\n\r\n{"desired_vcpus":2}`;
      cases.push(full.slice(0, Math.floor(rand() * full.length)));
    }
    for (const bytes of cases) {
      const out = await raw(socketPath, bytes);
      const label = bytes.toString().slice(0, 60);
      if (out === '') continue; // closed without an answer: the request never completed
      const statuses = [...out.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
      expect(statuses.length, label).toBeGreaterThan(0);
      for (const s of statuses) expect(s === 200 || (s >= 400 && s < 500), `${label} -> ${s}`).toBe(true);
      const last = statuses[statuses.length - 1] ?? 0;
      if (last >= 400) expect(out.slice(out.lastIndexOf('\r\n\r\n') + 4), label).toMatch(/"message":/);
    }
  }, 120_000);

  it('still answers vmm.ping afterwards', async () => {
    const res = await call(socketPath, 'GET', '/api/v1/vmm.ping');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ version: '0.1.0' });
  });
});
