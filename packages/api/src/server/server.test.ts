import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { API_ROUTES } from '../routes/index.js';
import { EXAMPLE_BODIES } from '../testing/example-bodies.js';
import { startApiServer, type ApiServerHandle } from './server.js';
import { call, FakeBackend, raw } from '../testing/http.js';

const WORKER = new URL('../../dist/server/worker.js', import.meta.url);
beforeAll(() => {
  if (!existsSync(fileURLToPath(WORKER))) throw new Error('packages/api is not built: run `npx tsc -b packages/api` first');
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wv-api-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Every module `entry` (a dist file) loads: relative ones by path, the rest by specifier. */
function importGraph(dist: string, entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const m of readFileSync(join(dist, file), 'utf8').matchAll(/^(?:import|export)\b[^'"]*?['"]([^'"]+)['"]/gm)) {
      const spec = m[1] as string;
      if (spec.startsWith('.')) visit(join(dirname(file), spec));
      else packages.add(spec);
    }
  };
  visit(entry);
  return { files, packages };
}

describe('the API package across threads', () => {
  it("keeps the schemas and the route table out of the main thread's @workervisor/api/core", () => {
    const dist = fileURLToPath(new URL('../../dist', import.meta.url));
    const { files, packages } = importGraph(dist, 'core.js');
    expect([...packages].filter((p) => p.startsWith('@sinclair/') || p === '@workervisor/schema')).toEqual([]);
    expect([...files].filter((f) => f.startsWith('routes/') || f === 'router.js')).toEqual([]);
  });

  it('loads no part of the core in the API worker: vmm-core is imported as types only', () => {
    const dist = fileURLToPath(new URL('../../dist', import.meta.url));
    const js = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js') && !f.endsWith('.test.js'));
    expect(js.length).toBeGreaterThan(0);
    for (const f of js) expect(readFileSync(join(dist, f), 'utf8'), f).not.toMatch(/from ['"]@workervisor\/(vmm-core|native)['"]|import\(['"]@workervisor\/(vmm-core|native)/);
  });
});

describe('API server', () => {
  let server: ApiServerHandle;
  let socketPath: string;
  const backend = new FakeBackend();
  beforeAll(async () => {
    socketPath = join(mkdtempSync(join(tmpdir(), 'wv-api-')), 'api.sock');
    server = await startApiServer({ socketPath, backend, workerUrl: WORKER });
  });
  afterAll(() => server.close());

  it('creates the socket with mode 0600', () => {
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);
    expect(statSync(socketPath).isSocket()).toBe(true);
  });

  it('answers every route with the status the backend chose', async () => {
    const expected: Record<string, number> = {
      '/vmm.ping': 200,
      '/vm.info': 200,
      '/vm.counters': 200,
      '/vm.add-disk': 200,
      '/vm.pause': 405,
      '/vm.add-vdpa': 501,
      '/vm.nmi': 500,
    };
    for (const r of API_ROUTES) {
      const res = await call(socketPath, r.method, `/api/v1${r.path}`, EXAMPLE_BODIES[r.path]);
      expect(res.status, `${r.method} ${r.path}: ${res.body}`).toBe(expected[r.path] ?? 204);
      if (res.status !== 204) expect(res.headers['content-type']).toBe('application/json');
    }
    expect(backend.seen.map((r) => r.type)).toContain('VmAddGenericVhostUser');
    expect(backend.seen.find((r) => r.type === 'VmCreate')).toEqual({ type: 'VmCreate', body: EXAMPLE_BODIES['/vm.create'] });
  });

  it('returns JSON bodies for info and ping and names the route in not-supported errors', async () => {
    expect(JSON.parse((await call(socketPath, 'GET', '/api/v1/vmm.ping')).body)).toMatchObject({ version: '0.1.0' });
    expect(JSON.parse((await call(socketPath, 'GET', '/api/v1/vm.info')).body)).toMatchObject({ state: 'Created' });
    const ns = JSON.parse((await call(socketPath, 'PUT', '/api/v1/vm.add-vdpa', EXAMPLE_BODIES['/vm.add-vdpa'])).body) as { message: string; code: string };
    expect(ns.code).toBe('ERR_VMM_VM_NOT_SUPPORTED');
    expect(ns.message).toBe('PUT /api/v1/vm.add-vdpa is not supported by this VMM yet: no vDPA here');
  });

  it('answers routing, validation, media-type and size errors with JSON 4xx', async () => {
    const cases: [string, string, unknown, Record<string, string>, number][] = [
      ['GET', '/api/v1/vm.nope', undefined, {}, 404],
      ['GET', '/', undefined, {}, 404],
      ['GET', '/api/v1/vm.boot', undefined, {}, 405],
      ['PUT', '/api/v1/vm.create', '{"payload":', {}, 400],
      ['PUT', '/api/v1/vm.create', { payload: {}, cpus: { boot_vcpus: 'x', max_vcpus: 1 } }, {}, 400],
      ['PUT', '/api/v1/vm.create', { payload: {} }, { 'Content-Type': 'text/plain' }, 415],
    ];
    for (const [method, path, body, headers, status] of cases) {
      const res = await call(socketPath, method, path, body, headers);
      expect(res.status, `${method} ${path}`).toBe(status);
      expect(JSON.parse(res.body)).toHaveProperty('message');
    }
    // Over the 1 MiB cap: a 413, then the connection is closed without reading the rest.
    const big = JSON.stringify({ payload: { cmdline: 'x'.repeat(2 * 1024 * 1024) } });
    const out = await raw(socketPath, `PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: ${big.length}\r\n\r\n${big}`);
    expect(out).toMatch(/^HTTP\/1\.1 413 /);
    expect(out).toMatch(/"code":"ERR_VMM_API_BODY_TOO_LARGE"/);
    const r405 = await call(socketPath, 'GET', '/api/v1/vm.create');
    expect(r405.headers['allow']).toBe('PUT');
    const field = JSON.parse((await call(socketPath, 'PUT', '/api/v1/vm.create', { payload: {}, disks: [{ pth: '/x' }] })).body) as { field: string };
    expect(field.field).toBe('disks[0].pth');
  });

  /** Sends one raw request and resolves with everything the server wrote when it ends the connection. */
  const exchange = (bytes: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = connect({ path: socketPath });
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
      s.on('error', reject);
      s.write(bytes);
    });

  it('matches the raw request path: no dot-segment, percent-decoding or slash folding', async () => {
    for (const target of ['/api/v1/%2e%2e/v1/vm.delete', '/api/v1/../v1/vm.delete', '/api/v1/./vm.delete', '//api/v1/vm.info', '/api//v1/vm.info', '/api/v1/vm%2Einfo', '/api/v1/vm.info/']) {
      const method = target.includes('delete') ? 'PUT' : 'GET';
      const before = backend.seen.length;
      const out = await exchange(`${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(out, target).toMatch(/^HTTP\/1\.1 404 /);
      expect(out, target).toMatch(/\r\n\r\n\{"message":"No route for [^"]*","code":"ERR_VMM_API_NOT_FOUND"\}$/);
      expect(backend.seen.length, `${target} reached the backend`).toBe(before);
    }
    // The query string is still split off (and the absolute form of the target is accepted).
    expect(await exchange('GET /api/v1/vmm.ping?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /);
    expect(await exchange('GET http://localhost/api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /);
    const star = await exchange('OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(star).toMatch(/^HTTP\/1\.1 400 /);
    expect(star).toMatch(/"code":"ERR_VMM_API_BAD_REQUEST"/);
  });

  it('serves a request without Host (a Unix socket has no host to name)', async () => {
    const out = await exchange('GET /api/v1/vmm.ping HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(out).toMatch(/^HTTP\/1\.1 200 /);
    expect(out).toMatch(/"version":"0\.1\.0"/);
  });

  it('answers CONNECT and Upgrade requests with JSON errors instead of dropping the connection', async () => {
    const connectOut = await exchange('CONNECT localhost:80 HTTP/1.1\r\nHost: localhost:80\r\n\r\n');
    expect(connectOut).toMatch(/^HTTP\/1\.1 400 /);
    expect(connectOut).toMatch(/\r\n\r\n\{"message":"[^"]+","code":"ERR_VMM_API_BAD_REQUEST"\}$/);
    const connectPath = await exchange('CONNECT /api/v1/vm.info HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(connectPath).toMatch(/^HTTP\/1\.1 405 /);
    expect(connectPath).toMatch(/\r\nAllow: GET\r\n/i);
    const upgrade = await exchange('GET /api/v1/vm.info HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    expect(upgrade).toMatch(/^HTTP\/1\.1 400 /);
    expect(upgrade).toMatch(/"code":"ERR_VMM_API_BAD_REQUEST"/);
  });

  it('keeps connections alive across requests', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    agent.on('free', (s) => sockets.add(s));
    for (let i = 0; i < 5; i++) expect((await call(socketPath, 'GET', '/api/v1/vmm.ping', undefined, {}, agent)).status).toBe(200);
    expect(sockets.size).toBe(1);
    agent.destroy();
  });
});

describe('API socket file', () => {
  const backend = new FakeBackend();

  it('replaces a stale socket and removes its own on close', async () => {
    const path = join(dir, 'stale.sock');
    // A process that binds and dies without unlinking leaves a socket nobody listens on.
    try {
      execFileSync(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))", path]);
    } catch {
      // killed by design
    }
    expect(statSync(path).isSocket()).toBe(true);
    const server = await startApiServer({ socketPath: path, backend, workerUrl: WORKER });
    expect((await call(path, 'GET', '/api/v1/vmm.ping')).status).toBe(200);
    await server.close();
    expect(existsSync(path)).toBe(false);
  });

  it('refuses to replace a regular file', async () => {
    const path = join(dir, 'file');
    writeFileSync(path, 'keep me');
    await expect(startApiServer({ socketPath: path, backend, workerUrl: WORKER })).rejects.toMatchObject({ code: 'ERR_VMM_API_SERVER_PATH_EXISTS' });
    expect(statSync(path).isFile()).toBe(true);
  });

  it('refuses a socket someone is listening on', async () => {
    const path = join(dir, 'live.sock');
    const live: Server = createServer((s) => s.end());
    await new Promise<void>((r) => live.listen(path, r));
    await expect(startApiServer({ socketPath: path, backend, workerUrl: WORKER })).rejects.toMatchObject({ code: 'ERR_VMM_API_SERVER_SOCKET_IN_USE' });
    await new Promise<void>((r) => live.close(() => r()));
  });

  it('finishes an in-flight request when closed from the backend (vmm.shutdown)', async () => {
    const path = join(dir, 'shutdown.sock');
    let handle: ApiServerHandle | undefined;
    const server = await startApiServer({
      socketPath: path,
      workerUrl: WORKER,
      backend: {
        handle: async (r) => {
          if (r.type === 'VmmShutdown') setImmediate(() => void handle?.close());
          return { ok: true, value: undefined };
        },
      },
    });
    handle = server;
    expect((await call(path, 'PUT', '/api/v1/vmm.shutdown')).status).toBe(204);
    await server.close();
    expect(existsSync(path)).toBe(false);
    await expect(new Promise((resolve, reject) => connect(path).on('connect', resolve).on('error', reject))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
