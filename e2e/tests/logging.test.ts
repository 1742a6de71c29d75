// Where the VMM's log goes and at what level: WORKERVISOR_LOG and WORKERVISOR_LOG_FILE apply when no
// flag says otherwise, -v wins over them, and a Firecracker `logger` section reaches the vCPU and
// API workers as well as the main thread.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { cliPath, describeKvm, guestPath, itKvm } from '../framework/index.js';

const dir = mkdtempSync(join(tmpdir(), 'wv-logging-'));
const hello = guestPath('hello.elf');

/** Boots hello.elf to its power-off with an API socket (so the API worker runs too). */
function run(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stderr: string } {
  const socket = join(mkdtempSync(join(dir, 'api-')), 'api.sock');
  const r = spawnSync(process.execPath, [cliPath, '--api-socket', socket, '--serial', 'off', ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    killSignal: 'SIGKILL',
    env: { ...process.env, WORKERVISOR_LOG: undefined, WORKERVISOR_LOG_FILE: undefined, ...env },
  });
  return { code: r.status, stderr: r.stderr };
}

/** The scopes ("vmm", "vcpu0", "api") that wrote `level` lines, worker threads included. */
function scopes(log: string, level: string): Set<string> {
  return new Set([...log.matchAll(new RegExp(`^\\S+ ${level.toUpperCase()} +\\[([a-z0-9-]+)(?:#\\d+)?\\]`, 'gm'))].map((m) => m[1] as string));
}

describeKvm('log level and destination', () => {
  itKvm('follows WORKERVISOR_LOG without -v, in the core and in the vCPU and API workers', () => {
    const r = run(['--kernel', hello, '--memory', '64M'], { WORKERVISOR_LOG: 'debug' });
    expect(r.code, r.stderr).toBe(0);
    const debug = scopes(r.stderr, 'debug');
    expect(debug).toContain('vcpu0');
    expect(scopes(r.stderr, 'info')).toContain('api');
  });

  itKvm('writes to WORKERVISOR_LOG_FILE, and -v wins over WORKERVISOR_LOG', () => {
    const file = join(dir, 'env.log');
    const r = run(['--kernel', hello, '--memory', '64M', '-v'], { WORKERVISOR_LOG: 'error', WORKERVISOR_LOG_FILE: file });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const log = readFileSync(file, 'utf8');
    expect(scopes(log, 'info')).toContain('vmm');
    expect(scopes(log, 'debug').size).toBe(0);
  });

  itKvm("applies a Firecracker config's logger section to the vCPU and API workers", () => {
    const file = join(dir, 'fc.log');
    const config = join(dir, 'fc.json');
    writeFileSync(config, JSON.stringify({ 'boot-source': { kernel_image_path: hello }, 'machine-config': { vcpu_count: 2, mem_size_mib: 64 }, logger: { log_path: file, level: 'Debug' } }));
    const r = run(['--config-file', config], { WORKERVISOR_LOG: 'error' });
    expect(r.code, r.stderr).toBe(0);
    const log = readFileSync(file, 'utf8');
    for (const scope of ['vcpu0', 'vcpu1']) expect(scopes(log, 'debug')).toContain(scope);
    expect(scopes(log, 'info')).toContain('api');
  });
});
