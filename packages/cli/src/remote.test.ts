import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RemoteCommand } from './args.js';
import { runRemote, type RemoteIo } from './remote.js';

interface Seen {
  method: string;
  path: string;
  body: string;
}

// A real node:http server on a temporary Unix socket standing in for the VMM's API.
let dir: string;
let socket: string;
let server: Server;
let seen: Seen[];
let replies: Map<string, { status: number; body?: unknown }>;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wv-remote-'));
  socket = join(dir, 'api.sock');
  seen = [];
  replies = new Map([
    ['vmm.ping', { status: 200, body: { version: '0.1.0', pid: 42 } }],
    ['vm.info', { status: 200, body: { config: { payload: { kernel: '/k' } }, state: 'Paused' } }],
    ['vm.counters', { status: 200, body: { 'com1': { tx_bytes: 7 } } }],
  ]);
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const path = req.url ?? '';
      seen.push({ method: req.method ?? '', path, body });
      const reply = replies.get(path.replace('/api/v1/', '')) ?? { status: 204 };
      if (reply.body === undefined) res.writeHead(reply.status).end();
      else res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

function io(files: Record<string, string> = {}): RemoteIo & { out: string; err: string } {
  const sink = {
    out: '',
    err: '',
    stdout: { write: (s: string) => (sink.out += s) },
    stderr: { write: (s: string) => (sink.err += s) },
    readFile: async (path: string) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
      return text;
    },
  };
  return sink;
}

describe('runRemote', () => {
  it('prints the ping answer as pretty JSON', async () => {
    const sink = io();
    expect(await runRemote({ socket, command: { name: 'ping' } }, sink)).toBe(0);
    expect(sink.out).toBe(`${JSON.stringify({ version: '0.1.0', pid: 42 }, null, 2)}\n`);
    expect(seen).toEqual([{ method: 'GET', path: '/api/v1/vmm.ping', body: '' }]);
  });

  it.each<[RemoteCommand, string, string]>([
    [{ name: 'boot' }, 'PUT', 'vm.boot'],
    [{ name: 'info' }, 'GET', 'vm.info'],
    [{ name: 'pause' }, 'PUT', 'vm.pause'],
    [{ name: 'resume' }, 'PUT', 'vm.resume'],
    [{ name: 'reboot' }, 'PUT', 'vm.reboot'],
    [{ name: 'power-button' }, 'PUT', 'vm.power-button'],
    [{ name: 'shutdown' }, 'PUT', 'vm.shutdown'],
    [{ name: 'delete' }, 'PUT', 'vm.delete'],
    [{ name: 'counters' }, 'GET', 'vm.counters'],
    [{ name: 'nmi' }, 'PUT', 'vm.nmi'],
    [{ name: 'shutdown-vmm' }, 'PUT', 'vmm.shutdown'],
  ])('%o sends %s %s', async (command, method, route) => {
    const sink = io();
    expect(await runRemote({ socket, command }, sink)).toBe(0);
    expect(seen).toEqual([{ method, path: `/api/v1/${route}`, body: '' }]);
    expect(sink.err).toBe('');
  });

  it('prints nothing for a command answered 204', async () => {
    const sink = io();
    await runRemote({ socket, command: { name: 'boot' } }, sink);
    expect(sink.out).toBe('');
  });

  it('prints info as JSON', async () => {
    const sink = io();
    await runRemote({ socket, command: { name: 'info' } }, sink);
    expect(JSON.parse(sink.out)).toEqual({ config: { payload: { kernel: '/k' } }, state: 'Paused' });
  });

  it('sends the bodies of snapshot, restore and remove-device', async () => {
    const sink = io();
    await runRemote({ socket, command: { name: 'snapshot', destinationUrl: 'file:///snap' } }, sink);
    await runRemote({ socket, command: { name: 'restore', sourceUrl: 'file:///snap' } }, sink);
    await runRemote({ socket, command: { name: 'remove-device', id: '_disk0' } }, sink);
    expect(seen.map((s) => [s.path, JSON.parse(s.body) as unknown])).toEqual([
      ['/api/v1/vm.snapshot', { destination_url: 'file:///snap' }],
      ['/api/v1/vm.restore', { source_url: 'file:///snap' }],
      ['/api/v1/vm.remove-device', { id: '_disk0' }],
    ]);
  });

  it('create sends the config file as the body', async () => {
    const config = { payload: { kernel: '/k/vmlinux' }, cpus: { boot_vcpus: 1, max_vcpus: 1 }, memory: { size: 268435456 } };
    const sink = io({ 'vm.json': JSON.stringify(config) });
    expect(await runRemote({ socket, command: { name: 'create', file: 'vm.json' } }, sink)).toBe(0);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.path).toBe('/api/v1/vm.create');
    expect(JSON.parse(seen[0]!.body)).toEqual(config);
  });

  it('reads create FILE from disk by default', async () => {
    const file = join(dir, 'vm.json');
    writeFileSync(file, '{"payload":{"kernel":"/k"}}');
    const sink = io();
    delete (sink as Partial<RemoteIo>).readFile;
    expect(await runRemote({ socket, command: { name: 'create', file } }, sink)).toBe(0);
    expect(JSON.parse(seen[0]!.body)).toEqual({ payload: { kernel: '/k' } });
  });

  it('refuses a create FILE that is a device or too large, before reading it (issue 9: /dev/zero)', async () => {
    const zero = io();
    delete (zero as Partial<RemoteIo>).readFile;
    expect(await runRemote({ socket, command: { name: 'create', file: '/dev/zero' } }, zero)).toBe(1);
    expect(zero.err).toMatch(/cannot read the VM config \/dev\/zero: .*\/dev\/zero is a character device/);
    const big = join(dir, 'big.json');
    writeFileSync(big, Buffer.alloc((1 << 20) + 1, 0x20));
    const large = io();
    delete (large as Partial<RemoteIo>).readFile;
    expect(await runRemote({ socket, command: { name: 'create', file: big } }, large)).toBe(1);
    expect(large.err).toContain('the config limit');
    expect(seen).toEqual([]);
  });

  it('fails without a request when the config file is missing or not JSON', async () => {
    const missing = io();
    expect(await runRemote({ socket, command: { name: 'create', file: 'nope.json' } }, missing)).toBe(1);
    expect(missing.err).toContain("cannot read the VM config nope.json: ENOENT");
    const broken = io({ 'bad.json': '{ payload' });
    expect(await runRemote({ socket, command: { name: 'create', file: 'bad.json' } }, broken)).toBe(1);
    expect(broken.err).toContain('the VM config bad.json is not valid JSON');
    const array = io({ 'arr.json': '[]' });
    expect(await runRemote({ socket, command: { name: 'create', file: 'arr.json' } }, array)).toBe(1);
    expect(array.err).toContain('must be a JSON object');
    expect(seen).toEqual([]);
  });

  it("prints the server's error message and exits 1", async () => {
    replies.set('vm.boot', { status: 404, body: { message: 'VM is not created: call vm.create first' } });
    const sink = io();
    expect(await runRemote({ socket, command: { name: 'boot' } }, sink)).toBe(1);
    expect(sink.out).toBe('');
    expect(sink.err).toBe('Error: PUT vm.boot failed with 404 Not Found: VM is not created: call vm.create first\n');
  });

  it('names the socket when the VMM is not there', async () => {
    const missing = join(dir, 'nobody.sock');
    const sink = io();
    expect(await runRemote({ socket: missing, command: { name: 'ping' } }, sink)).toBe(1);
    expect(sink.err).toContain(missing);
    expect(sink.err).toContain('no such socket');
  });
});
