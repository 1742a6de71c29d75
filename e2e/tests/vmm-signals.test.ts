// Signals a local user can send to a VMM (issue 9): SIGUSR1 must not open Node's inspector, and
// stop signals end the VMM in order (socket removed) with 128 + the signal number.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cliPath } from '../framework/index.js';

interface Vmm {
  child: ChildProcess;
  socket: string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const dirs: string[] = [];
let current: Vmm | undefined;

afterEach(() => {
  if (current !== undefined && current.child.exitCode === null && current.child.signalCode === null) current.child.kill('SIGKILL');
  current = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Starts `workervisor --api-socket S` (no VM) and resolves once the socket accepts connections. */
async function startVmm(env: NodeJS.ProcessEnv = {}): Promise<Vmm> {
  const dir = mkdtempSync(join(tmpdir(), 'wv-signals-'));
  dirs.push(dir);
  const socket = join(dir, 'api.sock');
  const child = spawn(process.execPath, [cliPath, '--api-socket', socket, '-v'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  current = { child, socket, stderr: () => stderr, exit };
  const deadline = Date.now() + 15_000;
  while (!(await accepts(socket))) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the VMM exited before listening: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`the VMM did not listen on ${socket} in 15 s: ${stderr}`);
    await sleep(50);
  }
  return current;
}

function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** TCP ports `pid` listens on: LISTEN rows of /proc/net/tcp{,6} whose socket inode is one of its fds. */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m !== null) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of [`/proc/${pid}/net/tcp`, `/proc/${pid}/net/tcp6`]) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is f[1] (HEX_IP:HEX_PORT), st is f[3] (0A = LISTEN), inode is f[9].
      if (f.length > 9 && f[3] === '0A' && inodes.has(f[9]!)) ports.push(parseInt(f[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('SIGUSR1 and the Node inspector', () => {
  it('does not open the inspector on SIGUSR1, and the VMM keeps running', async () => {
    const portWasFree = !(await tcpAccepts(9229));
    const vmm = await startVmm();
    vmm.child.kill('SIGUSR1');
    // Node opens the inspector within a few ms of the signal; give it ample time.
    await sleep(750);
    expect(listeningPorts(vmm.child.pid!)).toEqual([]);
    if (portWasFree) expect(await tcpAccepts(9229)).toBe(false);
    expect(vmm.child.exitCode).toBeNull();
    expect(vmm.child.signalCode).toBeNull();
    expect(await accepts(vmm.socket)).toBe(true);
    expect(vmm.stderr()).toMatch(/SIGUSR1 ignored/);
  });

  it('closes an inspector opened through NODE_OPTIONS', async () => {
    const vmm = await startVmm({ NODE_OPTIONS: '--inspect=127.0.0.1:0' });
    expect(listeningPorts(vmm.child.pid!)).toEqual([]);
    expect(vmm.stderr()).toMatch(/closed the Node inspector/);
  });
});

describe('stop signals', () => {
  for (const signal of ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR2'] as const) {
    it(`stops in order on ${signal}: exit 128+${constants.signals[signal]}, the API socket removed`, async () => {
      const vmm = await startVmm();
      vmm.child.kill(signal);
      expect(await vmm.exit).toEqual({ code: 128 + constants.signals[signal], signal: null });
      expect(existsSync(vmm.socket)).toBe(false);
      expect(vmm.stderr()).toContain(`${signal}: stopping the VM`);
    });
  }
});
