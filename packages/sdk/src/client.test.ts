import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VmmError } from '@workervisor/base';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, type VmmClient } from './client.js';
import { ResponseError, ConnectionError, parseErrorBody } from './errors.js';
import { startFakeVmm, type FakeVmm } from './testing/fake-vmm.js';

let fake: FakeVmm;
let client: VmmClient;

beforeEach(async () => {
  fake = await startFakeVmm();
  client = connect(fake.socketPath);
});

afterEach(async () => {
  await client.destroy();
  await fake.close();
});

type Call = [name: string, call: (c: VmmClient) => Promise<unknown>, method: string, route: string, body?: unknown];

const config = { payload: { kernel: '/vmlinux', cmdline: 'console=ttyS0' }, cpus: { boot_vcpus: 2, max_vcpus: 2 }, memory: { size: 256 << 20 } };

const CALLS: Call[] = [
  ['ping', (c) => c.ping(), 'GET', 'vmm.ping'],
  ['shutdownVmm', (c) => c.shutdownVmm(), 'PUT', 'vmm.shutdown'],
  ['create', (c) => c.create(config), 'PUT', 'vm.create', config],
  ['boot', (c) => c.boot(), 'PUT', 'vm.boot'],
  ['info', (c) => c.info(), 'GET', 'vm.info'],
  ['pause', (c) => c.pause(), 'PUT', 'vm.pause'],
  ['resume', (c) => c.resume(), 'PUT', 'vm.resume'],
  ['reboot', (c) => c.reboot(), 'PUT', 'vm.reboot'],
  ['powerButton', (c) => c.powerButton(), 'PUT', 'vm.power-button'],
  ['shutdown', (c) => c.shutdown(), 'PUT', 'vm.shutdown'],
  ['delete', (c) => c.delete(), 'PUT', 'vm.delete'],
  ['nmi', (c) => c.nmi(), 'PUT', 'vm.nmi'],
  ['counters', (c) => c.counters(), 'GET', 'vm.counters'],
  ['snapshot', (c) => c.snapshot({ destination_url: 'file:///tmp/snap' }), 'PUT', 'vm.snapshot', { destination_url: 'file:///tmp/snap' }],
  ['restore', (c) => c.restore({ source_url: 'file:///tmp/snap', resume: true }), 'PUT', 'vm.restore', { source_url: 'file:///tmp/snap', resume: true }],
  ['coredump', (c) => c.coredump({ destination_url: 'file:///tmp/core' }), 'PUT', 'vm.coredump', { destination_url: 'file:///tmp/core' }],
  ['sendMigration', (c) => c.sendMigration({ destination_url: 'unix:/tmp/m' }), 'PUT', 'vm.send-migration', { destination_url: 'unix:/tmp/m' }],
  ['receiveMigration', (c) => c.receiveMigration({ receiver_url: 'unix:/tmp/m' }), 'PUT', 'vm.receive-migration', { receiver_url: 'unix:/tmp/m' }],
  ['resize', (c) => c.resize({ desired_vcpus: 4 }), 'PUT', 'vm.resize', { desired_vcpus: 4 }],
  ['resizeZone', (c) => c.resizeZone({ id: 'z0', desired_ram: 1 << 30 }), 'PUT', 'vm.resize-zone', { id: 'z0', desired_ram: 1 << 30 }],
  ['resizeDisk', (c) => c.resizeDisk({ id: 'd0', desired_size: 1 << 30 }), 'PUT', 'vm.resize-disk', { id: 'd0', desired_size: 1 << 30 }],
  ['addDevice', (c) => c.addDevice({ path: '/sys/bus/pci/devices/0000:01:00.0' }), 'PUT', 'vm.add-device', { path: '/sys/bus/pci/devices/0000:01:00.0' }],
  ['addDisk', (c) => c.addDisk({ path: '/disk.img', readonly: true }), 'PUT', 'vm.add-disk', { path: '/disk.img', readonly: true }],
  ['addNet', (c) => c.addNet({ tap: 'tap0' }), 'PUT', 'vm.add-net', { tap: 'tap0' }],
  ['addVsock', (c) => c.addVsock({ cid: 3, socket: '/v.sock' }), 'PUT', 'vm.add-vsock', { cid: 3, socket: '/v.sock' }],
  ['addFs', (c) => c.addFs({ tag: 't', socket: '/fs.sock', num_queues: 1, queue_size: 1024 }), 'PUT', 'vm.add-fs', { tag: 't', socket: '/fs.sock', num_queues: 1, queue_size: 1024 }],
  ['addPmem', (c) => c.addPmem({ file: '/pmem' }), 'PUT', 'vm.add-pmem', { file: '/pmem' }],
  ['addVdpa', (c) => c.addVdpa({ path: '/dev/vhost-vdpa-0', num_queues: 1 }), 'PUT', 'vm.add-vdpa', { path: '/dev/vhost-vdpa-0', num_queues: 1 }],
  ['addUserDevice', (c) => c.addUserDevice({ socket: '/u.sock' }), 'PUT', 'vm.add-user-device', { socket: '/u.sock' }],
  ['addGenericVhostUser', (c) => c.addGenericVhostUser({ socket: '/g.sock', queue_sizes: [256], device_type: 1 }), 'PUT', 'vm.add-generic-vhost-user', { socket: '/g.sock', queue_sizes: [256], device_type: 1 }],
  ['removeDevice', (c) => c.removeDevice({ id: '_disk0' }), 'PUT', 'vm.remove-device', { id: '_disk0' }],
];

describe('VmmClient routes', () => {
  it.each(CALLS)('%s sends the route, method and JSON body of the spec', async (_name, call, method, route, body) => {
    await call(client);
    expect(fake.requests).toHaveLength(1);
    const req = fake.requests[0]!;
    expect(req.method).toBe(method);
    expect(req.path).toBe(`/api/v1/${route}`);
    if (body === undefined) {
      expect(req.body).toBe('');
    } else {
      expect(req.contentType).toBe('application/json');
      expect(JSON.parse(req.body)).toEqual(body);
    }
  });

  it('returns the parsed answers of ping, info and counters', async () => {
    expect(await client.ping()).toEqual({ version: 'fake-0.1.0', pid: process.pid, features: [] });
    expect((await client.info()).state).toBe('Running');
    expect(await client.counters()).toEqual({ serial: { tx_bytes: 12 } });
  });

  it('resolves an action answered 204 with undefined', async () => {
    await expect(client.boot()).resolves.toBeUndefined();
  });

  it('returns the PCI info of a hot plug and undefined for a cold plug', async () => {
    fake.reply('vm.add-disk', { status: 200, body: { id: '_disk0', bdf: '0000:00:03.0' } });
    expect(await client.addDisk({ path: '/d.img' })).toEqual({ id: '_disk0', bdf: '0000:00:03.0' });
    expect(await client.addNet({ tap: 'tap0' })).toBeUndefined();
  });

  it('reuses one connection for consecutive requests', async () => {
    const ports = new Set<unknown>();
    fake.reply('vm.boot', (req, res) => {
      ports.add(req.socket);
      res.writeHead(204).end();
    });
    await client.boot();
    await client.boot();
    await client.boot();
    expect(ports.size).toBe(1);
  });
});

describe('VmmClient errors', () => {
  it('turns a JSON error body into an ResponseError that keeps the server message and code', async () => {
    fake.reply('vm.boot', { status: 404, body: { message: 'VM is not created', code: 'ERR_VMM_VM_NOT_CREATED' } });
    const err = await client.boot().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResponseError);
    expect(err).toBeInstanceOf(VmmError);
    const api = err as ResponseError;
    expect(api.status).toBe(404);
    expect(api.kind).toBe('not-found');
    expect(api.code).toBe('ERR_VMM_RESPONSE_NOT_FOUND');
    expect(api.route).toBe('vm.boot');
    expect(api.method).toBe('PUT');
    expect(api.serverMessage).toBe('VM is not created');
    expect(api.serverCode).toBe('ERR_VMM_VM_NOT_CREATED');
    expect(api.message).toBe('PUT vm.boot failed with 404 Not Found: VM is not created');
  });

  it('keeps the field a validation error names', async () => {
    fake.reply('vm.create', { status: 400, body: { message: 'cpus.boot_vcpus must be >= 1', code: 'ERR_VMM_API_INVALID_BODY', field: 'cpus.boot_vcpus' } });
    await expect(client.create({ payload: {} })).rejects.toMatchObject({ kind: 'bad-request', field: 'cpus.boot_vcpus', serverCode: 'ERR_VMM_API_INVALID_BODY' });
  });

  it.each([
    [400, 'bad-request'],
    [405, 'not-allowed'],
    [409, 'conflict'],
    [429, 'too-many-requests'],
    [500, 'internal'],
    [501, 'not-implemented'],
    [418, 'unexpected-status'],
  ] as const)('maps status %i to kind %s', async (status, kind) => {
    fake.reply('vm.pause', { status, body: { message: 'nope' } });
    await expect(client.pause()).rejects.toMatchObject({ kind, status, serverMessage: 'nope' });
  });

  it('keeps a plain-text error body (Cloud Hypervisor style) as the message', async () => {
    fake.reply('vm.resume', { status: 405, raw: 'InvalidStateTransition(Running, Running)\n' });
    await expect(client.resume()).rejects.toMatchObject({ serverMessage: 'InvalidStateTransition(Running, Running)', kind: 'not-allowed' });
  });

  it('falls back to the status text for an empty error body', async () => {
    fake.reply('vm.shutdown', { status: 500 });
    await expect(client.shutdown()).rejects.toMatchObject({ serverMessage: 'Internal Server Error' });
  });

  it('rejects a 2xx body that is not JSON as bad-response', async () => {
    fake.reply('vm.info', { status: 200, raw: '<html>' });
    await expect(client.info()).rejects.toMatchObject({ kind: 'bad-response', status: 200 });
  });

  it('rejects an empty answer where a JSON document is expected', async () => {
    fake.reply('vmm.ping', { status: 204 });
    await expect(client.ping()).rejects.toMatchObject({ kind: 'bad-response', route: 'vmm.ping' });
  });

  it('reports a missing socket as a ConnectionError naming the path', async () => {
    const missing = join(tmpdir(), `wv-missing-${process.pid}.sock`);
    const c = connect(missing);
    const err = await c.ping().catch((e: unknown) => e);
    await c.destroy();
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err).toMatchObject({ kind: 'no-socket', socketPath: missing, route: 'vmm.ping', code: 'ERR_VMM_CONNECTION_NO_SOCKET' });
    expect((err as Error).message).toContain(missing);
    expect((err as Error).message).toContain('--api-socket');
  });

  it('reports a path nobody listens on as refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wv-refused-'));
    const path = join(dir, 'api.sock');
    // connect(2) to a path that is not a listening socket fails with ECONNREFUSED.
    writeFileSync(path, '');
    const c = connect(path);
    try {
      await expect(c.ping()).rejects.toMatchObject({ kind: 'refused', socketPath: path });
    } finally {
      await c.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a connection dropped mid-request as closed', async () => {
    fake.reply('vm.reboot', (req) => req.socket.destroy());
    await expect(client.reboot()).rejects.toMatchObject({ kind: 'closed', route: 'vm.reboot' });
    // The client reconnects for the next request.
    await expect(client.ping()).resolves.toMatchObject({ version: 'fake-0.1.0' });
  });

  it('times out when the server does not answer', async () => {
    const c = connect(fake.socketPath, { timeoutMs: 150 });
    fake.reply('vm.snapshot', () => {});
    try {
      await expect(c.snapshot({ destination_url: 'file:///x' })).rejects.toMatchObject({ kind: 'timeout' });
    } finally {
      await c.destroy();
    }
  });

  it('refuses requests after close()', async () => {
    await client.close();
    await client.close();
    expect(client.closed).toBe(true);
    await expect(client.ping()).rejects.toMatchObject({ kind: 'client-closed' });
  });
});

describe('parseErrorBody', () => {
  it.each([
    ['{"message":"m","code":"C","kind":"k"}', { message: 'm', code: 'C', kind: 'k' }],
    ['{"message":"m","code":"C","field":"cpus.boot_vcpus"}', { message: 'm', code: 'C', field: 'cpus.boot_vcpus' }],
    ['{"error":"e"}', { message: 'e' }],
    ['"quoted"', { message: 'quoted' }],
    ['plain text', { message: 'plain text' }],
    ['{"other":1}', { message: '{"other":1}' }],
    ['', { message: 'Bad Request' }],
  ])('reads %j', (text, expected) => {
    expect(parseErrorBody(400, text)).toEqual(expected);
  });
});
