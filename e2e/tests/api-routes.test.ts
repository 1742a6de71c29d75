// `curl --unix-socket` against every route of the API table on a real VMM: each answers with the
// status the spec gives, or with the documented 501 "not supported" naming the route.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { API_ROUTES } from '@workervisor/api';
import { launch, type Vm } from '@workervisor/sdk';
import { describeKvm, guestPath } from '../framework/index.js';

const hasCurl = spawnSync('curl', ['--version']).status === 0;

function curl(socket: string, method: string, path: string, body?: unknown): { status: number; json: Record<string, unknown> | undefined } {
  const args = ['-s', '-o', '-', '-w', '\n%{http_code}', '--unix-socket', socket, '-X', method, `http://localhost/api/v1${path}`];
  // Plain `-d` (curl's default form content type), as people type it.
  if (body !== undefined) args.push('-d', JSON.stringify(body));
  const r = spawnSync('curl', args, { encoding: 'utf8', timeout: 30_000 });
  const lines = r.stdout.trimEnd().split('\n');
  const status = Number(lines.pop());
  const text = lines.join('\n');
  return { status, json: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>) };
}

const COUNTER = { payload: { kernel: guestPath('counter.elf') }, cpus: { boot_vcpus: 1, max_vcpus: 1 }, memory: { size: 64 * 1024 * 1024 } };
const NOT_SUPPORTED: Array<[string, unknown]> = [
  ['/vm.add-device', { path: '/sys/bus/pci/devices/0000:01:00.0' }],
  ['/vm.add-user-device', { socket: '/tmp/s' }],
  ['/vm.add-disk', { path: '/tmp/d', readonly: true }],
  ['/vm.add-fs', { tag: 't', socket: '/tmp/s', num_queues: 1, queue_size: 1024 }],
  ['/vm.add-generic-vhost-user', { socket: '/tmp/s', queue_sizes: [256], device_type: 2 }],
  ['/vm.add-pmem', { file: '/tmp/p' }],
  ['/vm.add-net', { tap: 'tap0' }],
  ['/vm.add-vsock', { cid: 3, socket: '/tmp/v' }],
  ['/vm.add-vdpa', { path: '/dev/vhost-vdpa-0', num_queues: 1 }],
  ['/vm.remove-device', { id: 'disk0' }],
  ['/vm.resize-disk', { id: 'disk0', desired_size: 1 << 20 }],
  ['/vm.resize-zone', { id: 'z', desired_ram: 1 << 30 }],
  ['/vm.coredump', { destination_url: 'file:///tmp/c' }],
  ['/vm.receive-migration', { receiver_url: 'unix:/tmp/m' }],
  ['/vm.send-migration', { destination_url: 'unix:/tmp/m' }],
  ['/vm.nmi', undefined],
];

describeKvm('every API route over curl', () => {
  let vm: Vm;
  const seen = new Set<string>();
  const call = (method: string, path: string, body?: unknown) => {
    seen.add(`${method} ${path}`);
    return curl(vm.socketPath, method, path, body);
  };
  beforeAll(async () => {
    vm = await launch({ serial: 'off' });
  });
  afterAll(async () => {
    await vm?.close();
  });

  it.skipIf(!hasCurl)('answers each route per the spec, in lifecycle order', async () => {
    expect(call('GET', '/vmm.ping')).toMatchObject({ status: 200, json: { version: expect.any(String) } });
    expect(call('GET', '/vm.info')).toMatchObject({ status: 404, json: { code: 'ERR_VMM_VM_NOT_CREATED' } });
    expect(call('PUT', '/vm.boot').status).toBe(404);
    expect(call('PUT', '/vm.create', { payload: {} }).status).toBe(400);
    expect(call('PUT', '/vm.create', { ...COUNTER, bogus: 1 })).toMatchObject({ status: 400, json: { message: expect.stringContaining('bogus') } });
    expect(call('PUT', '/vm.create', COUNTER).status).toBe(204);
    expect(call('PUT', '/vm.create', COUNTER).status).toBe(409);
    expect(call('GET', '/vm.counters').status).toBe(405);
    expect(call('PUT', '/vm.power-button')).toMatchObject({ status: 405, json: { code: 'ERR_VMM_VM_NOT_BOOTED' } });
    expect(call('PUT', '/vm.boot').status).toBe(204);
    expect(call('GET', '/vm.info')).toMatchObject({ status: 200, json: { state: 'Running', config: { payload: { kernel: COUNTER.payload.kernel } } } });
    expect(call('GET', '/vm.counters')).toMatchObject({ status: 200, json: { com1: expect.any(Object) } });
    expect(call('PUT', '/vm.pause').status).toBe(204);
    expect(call('PUT', '/vm.pause').status).toBe(409);
    expect(call('PUT', '/vm.resume').status).toBe(204);
    expect(call('PUT', '/vm.resume').status).toBe(405);
    // The counter guest runs no ACPI: the GED raises its interrupt and nothing reads the event.
    expect(call('PUT', '/vm.power-button').status).toBe(204);
    expect(call('GET', '/vm.counters')).toMatchObject({ status: 200, json: { 'acpi-ged': { powerButtonPresses: 1, interrupts: 1, eventsDelivered: 0 } } });
    expect(call('GET', '/vm.info').json?.['state']).toBe('Running');
    // Snapshots need a paused VM, and a restore a VMM without one (e2e/tests/snapshot-restore.test.ts restores).
    expect(call('PUT', '/vm.snapshot', { destination_url: 'file:///tmp/s' })).toMatchObject({ status: 405, json: { code: 'ERR_VMM_VM_NOT_PAUSED' } });
    expect(call('PUT', '/vm.restore', { source_url: 'file:///tmp/s' })).toMatchObject({ status: 409, json: { code: 'ERR_VMM_VM_ALREADY_CREATED' } });
    for (const [path, body] of NOT_SUPPORTED) {
      const r = call('PUT', path, body);
      expect(r.status, path).toBe(501);
      expect(r.json?.['code'], path).toBe('ERR_VMM_VM_NOT_SUPPORTED');
      expect(String(r.json?.['message']), path).toContain(`/api/v1${path}`);
    }
    // vm.resize: the balloon part is built, vCPU hotplug is refused by the field's name.
    expect(call('PUT', '/vm.resize', { desired_vcpus: 2 })).toMatchObject({ status: 501, json: { code: 'ERR_VMM_VM_NOT_SUPPORTED', message: expect.stringContaining('desired_vcpus 2') } });
    expect(call('PUT', '/vm.resize', { desired_balloon: 0 })).toMatchObject({ status: 400, json: { code: 'ERR_VMM_VM_INVALID_REQUEST', message: expect.stringContaining('needs a balloon device') } });
    expect(call('PUT', '/vm.reboot').status).toBe(204);
    expect(call('GET', '/vm.info').json?.['state']).toBe('Running');
    expect(call('PUT', '/vm.shutdown').status).toBe(204);
    expect(call('GET', '/vm.info').json?.['state']).toBe('Created');
    expect(call('PUT', '/vm.delete').status).toBe(204);
    expect(call('GET', '/vm.info').status).toBe(404);
    expect(call('PUT', '/vmm.shutdown').status).toBe(204);
    expect((await vm.exited).code).toBe(0);
    expect(existsSync(vm.socketPath)).toBe(false);

    // The sequence above touched every route the API serves.
    const table = new Set(API_ROUTES.map((r) => `${r.method} ${r.path}`));
    expect([...table].filter((r) => !seen.has(r))).toEqual([]);
  });
});
