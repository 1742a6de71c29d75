// Reproducers from issue 9 against a real VMM's API socket: each must now fail the attack.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, type Vm } from '@workervisor/sdk';
import { guestPath } from '../framework/index.js';

const hasCurl = spawnSync('curl', ['--version']).status === 0;

/** `curl --path-as-is`: the target goes out exactly as written, dot-segments and all. */
function curl(socket: string, method: string, target: string, body?: unknown): { status: number; json: Record<string, unknown> | undefined } {
  const args = ['-s', '-m', '10', '--path-as-is', '-o', '-', '-w', '\n%{http_code}', '--unix-socket', socket, '-X', method, `http://localhost${target}`];
  if (body !== undefined) args.push('-H', 'Content-Type: application/json', '-d', JSON.stringify(body));
  const r = spawnSync('curl', args, { encoding: 'utf8', timeout: 30_000 });
  const lines = r.stdout.trimEnd().split('\n');
  const status = Number(lines.pop());
  const text = lines.join('\n');
  return { status, json: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>) };
}

const HELLO = { payload: { kernel: guestPath('hello.elf') }, cpus: { boot_vcpus: 1, max_vcpus: 1 }, memory: { size: 64 * 1024 * 1024 } };

describe.skipIf(!hasCurl)('API paths are matched as sent', () => {
  let vm: Vm;
  beforeAll(async () => {
    vm = await launch({ serial: 'off' });
  });
  afterAll(async () => {
    await vm?.close();
  });

  it('does not delete the VM through /api/v1/%2e%2e/v1/vm.delete or other spellings of the path', () => {
    expect(curl(vm.socketPath, 'PUT', '/api/v1/vm.create', HELLO).status).toBe(204);
    for (const target of ['/api/v1/%2e%2e/v1/vm.delete', '/api/v1/../v1/vm.delete', '/api/v1/./vm.delete', '//api/v1/vm.delete', '/api/v1/vm%2edelete']) {
      const r = curl(vm.socketPath, 'PUT', target);
      expect(r.status, target).toBe(404);
      expect(r.json, target).toMatchObject({ code: 'ERR_VMM_API_NOT_FOUND' });
    }
    expect(curl(vm.socketPath, 'GET', '/api/v1/vm.info').json).toMatchObject({ state: 'Created' });
  });

  it('does not read //api/v1/vm.info as /v1/vm.info: a JSON 404', () => {
    const r = curl(vm.socketPath, 'GET', '//api/v1/vm.info');
    expect(r.status).toBe(404);
    expect(r.json).toMatchObject({ code: 'ERR_VMM_API_NOT_FOUND', message: 'No route for //api/v1/vm.info' });
  });
});

describe.skipIf(!hasCurl)('sandbox requests are refused, never accepted and ignored', () => {
  let vm: Vm;
  beforeAll(async () => {
    vm = await launch({ serial: 'off' });
  });
  afterAll(async () => {
    await vm?.close();
  });

  it('answers vm.create with landlock_enable: true with a 501 naming the key, and creates nothing', () => {
    const r = curl(vm.socketPath, 'PUT', '/api/v1/vm.create', { ...HELLO, landlock_enable: true });
    expect(r.status).toBe(501);
    expect(r.json).toMatchObject({ code: 'ERR_VMM_VM_NOT_SUPPORTED', field: 'landlock_enable' });
    expect(String(r.json?.['message'])).toMatch(/landlock_enable.*Landlock is applied only when the VMM starts .*start the VMM with --landlock/);
    expect(curl(vm.socketPath, 'GET', '/api/v1/vm.info').status).toBe(404);
  });

  it('answers landlock_rules with a 501 too', () => {
    const r = curl(vm.socketPath, 'PUT', '/api/v1/vm.create', { ...HELLO, landlock_rules: [{ path: '/tmp', access: 'rw' }] });
    expect(r.status).toBe(501);
    expect(r.json).toMatchObject({ code: 'ERR_VMM_VM_NOT_SUPPORTED', field: 'landlock_rules' });
  });
});

describe.skipIf(!hasCurl)('hostile payload files through the API', () => {
  let vm: Vm;
  beforeAll(async () => {
    vm = await launch({ serial: 'off' });
  });
  afterAll(async () => {
    await vm?.close();
  });

  it('answers vm.boot of a FIFO kernel with a quick 400, and vmm.ping keeps working', () => {
    const fifo = join(mkdtempSync(join(tmpdir(), 'wv-api-fifo-')), 'kernel');
    execFileSync('mkfifo', [fifo]);
    expect(curl(vm.socketPath, 'PUT', '/api/v1/vm.create', { ...HELLO, payload: { kernel: fifo } }).status).toBe(204);
    const started = Date.now();
    const boot = curl(vm.socketPath, 'PUT', '/api/v1/vm.boot');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(boot.status).toBe(400);
    expect(boot.json).toMatchObject({ code: 'ERR_VMM_HOST_FILE_NOT_REGULAR', message: `kernel ${fifo} is a FIFO, not a regular file` });
    expect(curl(vm.socketPath, 'GET', '/api/v1/vmm.ping').status).toBe(200);
    expect(curl(vm.socketPath, 'PUT', '/api/v1/vm.delete').status).toBe(204);
  });

  it('answers vm.boot with /proc/self/environ as the initramfs with a 400', () => {
    expect(curl(vm.socketPath, 'PUT', '/api/v1/vm.create', { ...HELLO, payload: { kernel: guestPath('hello.elf'), initramfs: '/proc/self/environ' } }).status).toBe(204);
    const boot = curl(vm.socketPath, 'PUT', '/api/v1/vm.boot');
    expect(boot.status).toBe(400);
    expect(String(boot.json?.['message'])).toMatch(/^initramfs \/proc\/self\/environ is on procfs/);
    expect(curl(vm.socketPath, 'PUT', '/api/v1/vm.delete').status).toBe(204);
  });
});
