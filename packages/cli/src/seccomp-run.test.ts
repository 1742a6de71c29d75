// The VMM process with --seccomp-filter (API-only mode, so no /dev/kvm is needed): every thread
// runs filtered, a syscall the api filter traps ends the VMM with 159 and a log line naming the
// thread and the syscall, and --seccomp false lets the same call through. Runs the built CLI.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../bin/workervisor.js', import.meta.url));
const ALLOW_ALL = { default_action: 'allow', filter_action: 'allow', filter: [] };

let dir: string;
let child: ChildProcess | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wv-seccomp-run-'));
});
afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
  rmSync(dir, { recursive: true, force: true });
});

interface Running {
  socket: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `workervisor --api-socket S ...args` and waits for the socket to answer. */
async function start(args: string[]): Promise<Running> {
  const socket = join(dir, 'api.sock');
  let stderr = '';
  child = spawn(process.execPath, [BIN, '--api-socket', socket, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (readdirSync(dir).includes('api.sock')) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the VMM did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { socket, stderr: () => stderr, exited };
}

function ping(socket: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path: '/api/v1/vmm.ping', method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

function filterFile(doc: unknown): string {
  const path = join(dir, 'filters.json');
  writeFileSync(path, JSON.stringify(doc));
  return path;
}

/** The `Seccomp:` and `NoNewPrivs:` of every thread of pid. */
function threadStates(pid: number): Array<{ name: string; seccomp: string; noNewPrivs: string }> {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    const field = (f: string): string => new RegExp(`^${f}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '?';
    return { name: field('Name'), seccomp: field('Seccomp'), noNewPrivs: field('NoNewPrivs') };
  });
}

describe('workervisor --seccomp-filter', () => {
  it('runs every thread of the VMM under a filter, with no_new_privs', async () => {
    const vmm = await start(['--seccomp-filter', filterFile({ vmm: ALLOW_ALL, api: ALLOW_ALL, vcpu: ALLOW_ALL })]);
    expect(await ping(vmm.socket)).toBe(200);
    const threads = threadStates(child!.pid!);
    expect(threads.length).toBeGreaterThan(5); // main, V8 platform workers, libuv's pool, the API worker
    expect(threads.filter((t) => t.seccomp !== '2' || t.noNewPrivs !== '1')).toEqual([]);
  });

  it('ends the VMM with 159 and names the thread and syscall when the api filter traps a call', async () => {
    // The API worker accepts each connection with accept4 (libuv); nothing else in it is stopped.
    const filters = filterFile({ vmm: ALLOW_ALL, api: { default_action: 'allow', filter_action: 'trap', filter: [{ syscall: 'accept4' }] }, vcpu: ALLOW_ALL });
    const vmm = await start(['--seccomp-filter', filters]);
    await ping(vmm.socket).catch(() => undefined);
    expect(await vmm.exited).toBe(159);
    expect(vmm.stderr()).toMatch(/ERROR \[seccomp\] thread api \(tid \d+\) made syscall accept4 \(288\), which its seccomp filter does not allow; the VMM exits with status 159\n/);
  });

  it('runs every thread under the default filters without any flag, and answers the API under them', async () => {
    const vmm = await start([]);
    expect(await ping(vmm.socket)).toBe(200);
    expect(await ping(vmm.socket)).toBe(200);
    const threads = threadStates(child!.pid!);
    expect(threads.length).toBeGreaterThan(5);
    expect(threads.filter((t) => t.seccomp !== '2' || t.noNewPrivs !== '1')).toEqual([]);
    expect(vmm.stderr()).toBe('');
  });

  it('lets the same call through with --seccomp false', async () => {
    const vmm = await start(['--seccomp', 'false']);
    expect(await ping(vmm.socket)).toBe(200);
    expect(threadStates(child!.pid!).every((t) => t.seccomp === '0')).toBe(true);
  });

  it('refuses a filter file without a filter for each thread, before starting anything (exit 2)', async () => {
    const socket = join(dir, 'api.sock');
    const c = spawn(process.execPath, [BIN, '--api-socket', socket, '--seccomp-filter', filterFile({ vmm: ALLOW_ALL, api: ALLOW_ALL })], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => c.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(/^workervisor: --seccomp-filter \S+filters\.json has no "vcpu" filter \(it needs one for each of vmm, api, vcpu\)\n$/);
  });
});
