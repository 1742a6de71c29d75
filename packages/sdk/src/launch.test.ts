import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError, LaunchError, SerialWaitError } from './errors.js';
import { bootFlags, launch, resolveCliBinary, restore, spawnVmm, vmmArgs, type Vm } from './launch.js';
import { startFakeVmm } from './testing/fake-vmm.js';

// A stand-in for the workervisor CLI: serves the API on --api-socket (after a delay, so launch
// has to poll), prints its argv and a login prompt on the "serial console" (stdout), echoes stdin.
const FAKE_VMM = `
import http from 'node:http';
const argv = process.argv.slice(2);
const flag = (name) => argv.find((a) => a.startsWith('--' + name + '='))?.slice(name.length + 3);
if (argv.includes('--fail')) { console.error('fatal: cannot open /nope/vmlinux'); process.exit(3); }
if (argv.includes('--hang')) { setInterval(() => {}, 1000); }
else {
  const stubborn = argv.includes('--stubborn');
  if (stubborn) process.on('SIGTERM', () => {});
  const server = http.createServer((req, res) => {
    if (req.url === '/api/v1/vmm.ping') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ version: 'fake', pid: process.pid }));
    } else if (req.url === '/api/v1/vmm.shutdown') {
      res.writeHead(204).end(() => { if (!stubborn) process.exit(0); });
    } else if (req.url === '/api/v1/vm.restore') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (body.includes('refuse')) return res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'not a snapshot', code: 'ERR_VMM_SNAPSHOT_NOT_FOUND' }));
        res.writeHead(204).end();
        process.stdout.write('restore ' + body + '\\n');
      });
    } else if (req.url === '/api/v1/vm.pause' && argv.includes('--die-on-pause')) {
      console.error('thread vcpu0 made syscall 999, which its seccomp filter does not allow');
      process.exit(159);
    } else if (req.url === '/api/v1/vm.boot') {
      res.writeHead(204).end();
      process.stdout.write('Linux version fake\\nlogin: ');
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'no VM' }));
    }
  });
  setTimeout(() => server.listen(flag('api-socket'), () => {
    process.stdout.write('argv ' + JSON.stringify(argv) + '\\n');
    if (flag('kernel') !== undefined) process.stdout.write('Linux version fake\\nlogin: ');
  }), 150);
  process.stdin.on('data', (d) => process.stdout.write('echo:' + d));
}
`;

let dir: string;
let binary: string;
const vms: Vm[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wv-launch-'));
  binary = join(dir, 'fake-vmm.mjs');
  writeFileSync(binary, FAKE_VMM);
});

afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.kill()));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function start(options: Parameters<typeof launch>[0] = {}): Promise<Vm> {
  const vm = await launch({ binary, ...options });
  vms.push(vm);
  return vm;
}

describe('launch', () => {
  it('starts a VMM with no VM and answers ping once the socket is up', async () => {
    const vm = await start();
    expect(await vm.ping()).toEqual({ version: 'fake', pid: vm.process.pid });
    const line = await vm.waitForSerial(/argv (.*)\n/);
    expect(JSON.parse(line[1]!)).toEqual([`--api-socket=${vm.socketPath}`]);
    expect(vm.socketPath.startsWith(tmpdir())).toBe(true);
  });

  it('passes boot flags and extra args in CLI form', async () => {
    const vm = await start({ kernel: '/k/vmlinux', initramfs: '/k/initrd', cmdline: '-- console=ttyS0', cpus: 2, memory: '256M', args: ['-vv'] });
    const line = await vm.waitForSerial(/argv (.*)\n/);
    expect(JSON.parse(line[1]!)).toEqual([
      `--api-socket=${vm.socketPath}`,
      '--kernel=/k/vmlinux',
      '--initramfs=/k/initrd',
      '--cmdline=-- console=ttyS0',
      '--cpus=boot=2',
      '--memory=size=256M',
      '--serial=tty',
      '-vv',
    ]);
  });

  it('adds a vsock for the guest agent in its private directory with agent: true', async () => {
    const vm = await start({ kernel: '/k', agent: true });
    const line = await vm.waitForSerial(/argv (.*)\n/);
    const vsock = (JSON.parse(line[1]!) as string[]).find((a) => a.startsWith('--vsock='));
    expect(vsock).toBe(`--vsock=cid=3,socket=${join(dirname(vm.socketPath), 'vsock.sock')}`);
    expect(vm.agent).toBeDefined();
  });

  it('refuses vm.exec and vm.files without an agent channel, naming the option', async () => {
    const vm = await start({ kernel: '/k' });
    await expect(vm.exec('true')).rejects.toMatchObject({ code: 'ERR_VMM_AGENT_UNAVAILABLE_NO_CONNECTION', message: expect.stringContaining('agent: true') as string });
    await expect(vm.files.read('/etc/hostname')).rejects.toMatchObject({ code: 'ERR_VMM_AGENT_UNAVAILABLE_NO_CONNECTION' });
  });

  it('waits for console output expect-style, consuming each match', async () => {
    const vm = await start({ kernel: '/k' });
    await vm.waitForSerial('login: ');
    await vm.boot();
    // The second prompt comes from the boot; the first one was consumed.
    const again = await vm.waitForSerial(/login: /);
    expect(again[0]).toBe('login: ');
    expect(vm.serialText().match(/login: /g)).toHaveLength(2);
  });

  it('writes to the guest console through the VMM stdin', async () => {
    const vm = await start();
    vm.writeSerial('root\n');
    await vm.waitForSerial('echo:root');
  });

  it('times out waiting for the console with the tail of the output', async () => {
    const vm = await start();
    const err = await vm.waitForSerial('never printed', 100).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SerialWaitError);
    expect(err).toMatchObject({ kind: 'timeout' });
    expect((err as Error).message).toContain('argv');
  });

  it('close() shuts the VMM down through the API, removes the socket directory, and is idempotent', async () => {
    const vm = await start();
    const socketDir = dirname(vm.socketPath);
    await Promise.all([vm.close(), vm.close()]);
    expect(await vm.exited).toEqual({ code: 0, signal: null });
    expect(vm.running).toBe(false);
    expect(existsSync(socketDir)).toBe(false);
    await vm.close();
  });

  it('close() kills a VMM that does not exit after vmm.shutdown', async () => {
    const vm = await start({ args: ['--stubborn'], closeTimeoutMs: 200 });
    await vm.close();
    expect(await vm.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('rejects with the VMM stderr when it exits before answering', async () => {
    const err = await start({ args: ['--fail'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LaunchError);
    expect(err).toMatchObject({ kind: 'exited', code: 'ERR_VMM_LAUNCH_EXITED' });
    expect((err as LaunchError).message).toContain('code 3');
    expect((err as LaunchError).message).toContain('fatal: cannot open /nope/vmlinux');
    expect((err as LaunchError).stderr).toContain('fatal: cannot open');
  });

  it('says how the VMM ended, with its stderr, when it dies in the middle of a request', async () => {
    const vm = await start({ args: ['--die-on-pause'] });
    const err = await vm.pause().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).vmmEnd).toEqual({ exit: 'code 159', stderr: expect.stringContaining('syscall 999') as string });
    expect((err as ConnectionError).message).toMatch(/\(vm\.pause\): .*; the VMM exited \(code 159\), its stderr ends: thread vcpu0 made syscall 999/);
    await vm.close();
  });

  it('rejects when the API does not come up in time, and kills the child', async () => {
    const t0 = Date.now();
    const err = await start({ args: ['--hang'], startTimeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'timeout' });
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('refuses a socket another VMM already answers on', async () => {
    const other = await startFakeVmm();
    other.reply('vmm.ping', { status: 200, body: { version: 'x', pid: 1 } });
    try {
      const err = await start({ apiSocket: other.socketPath, args: ['--hang'] }).catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: 'socket-taken' });
    } finally {
      await other.close();
    }
  });

  it('rejects VM flags without a kernel before spawning anything', async () => {
    await expect(launch({ binary, cpus: 2 })).rejects.toMatchObject({ kind: 'invalid-options' });
    expect(() => bootFlags({ kernel: '/k', cpus: 0 })).toThrow(/positive integer/);
    expect(() => bootFlags({ kernel: '/k', memory: -1 })).toThrow(/positive number of bytes/);
  });

  it('refuses a memory number that cannot be bytes: 64 is not 64 MiB', () => {
    expect(() => bootFlags({ kernel: '/k', memory: 64 })).toThrow("memory is in bytes, and 64 bytes is under 1 MiB; write '64M' for 64 MiB");
    expect(bootFlags({ kernel: '/k', memory: 64 * 1024 * 1024 })).toContain('--memory=size=67108864');
    expect(bootFlags({ kernel: '/k', memory: '64M' })).toContain('--memory=size=64M');
  });

  it('rejects a binary that does not exist', async () => {
    await expect(launch({ binary: join(dir, 'missing.js') })).rejects.toMatchObject({ kind: 'no-binary' });
  });

  it('turns serial off with --serial=off and no console helpers', async () => {
    expect(bootFlags({ kernel: '/k', serial: 'off' })).toEqual(['--kernel=/k', '--serial=off']);
    expect(bootFlags({ kernel: '/k', args: ['--serial', 'file=/tmp/s'] })).toEqual(['--kernel=/k']);
    const vm = await start({ serial: 'off' });
    expect(vm.serial).toBeNull();
    await expect(vm.waitForSerial('x')).rejects.toMatchObject({ kind: 'not-piped' });
    expect(() => vm.writeSerial('x')).toThrow(SerialWaitError);
  });
});

describe('launch({ restore })', () => {
  it('starts a VMM with no VM, restores the snapshot running and gives the same Vm', async () => {
    const vm = await start({ restore: join(dir, 'snap') });
    const argv = JSON.parse((await vm.waitForSerial(/argv (.*)\n/))[1]!) as string[];
    expect(argv).toEqual([`--api-socket=${vm.socketPath}`]);
    const body = JSON.parse((await vm.waitForSerial(/restore (.*)\n/))[1]!) as unknown;
    expect(body).toEqual({ source_url: `file://${join(dir, 'snap')}`, resume: true });
  });

  it('restore(dir) passes prefault and resume: false, and resolves a relative directory', async () => {
    const vm = await restore('snap-rel', { binary, prefault: true, resume: false });
    vms.push(vm);
    const body = JSON.parse((await vm.waitForSerial(/restore (.*)\n/))[1]!) as unknown;
    expect(body).toEqual({ source_url: `file://${join(process.cwd(), 'snap-rel')}`, prefault: true, resume: false });
  });

  it('rejects with the server error when the restore is refused', async () => {
    const err = await start({ restore: join(dir, 'refuse') }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, serverCode: 'ERR_VMM_SNAPSHOT_NOT_FOUND', serverMessage: 'not a snapshot' });
  });

  it('refuses the options a snapshot fixes before spawning anything', async () => {
    for (const extra of [{ kernel: '/k' }, { cpus: 2 }, { memory: '64M' }, { cmdline: 'x' }, { initramfs: '/i' }]) {
      await expect(launch({ binary, restore: '/s', ...extra })).rejects.toMatchObject({ kind: 'invalid-options', message: expect.stringContaining("is the snapshot's") as string });
    }
    await expect(launch({ binary, restore: { dir: '' } })).rejects.toMatchObject({ kind: 'invalid-options' });
    await expect(launch({ binary, restore: '/s', agent: { socket: '/v.sock' } })).rejects.toMatchObject({ kind: 'invalid-options', message: expect.stringContaining('give only port') as string });
  });

  it("reaches a restored guest's agent on the vsock socket of the snapshot's config, and refuses one without", async () => {
    const snap = join(dir, 'with-vsock');
    mkdirSync(snap, { recursive: true });
    writeFileSync(join(snap, 'config.json'), JSON.stringify({ payload: { kernel: '/k' }, vsock: { cid: 3, socket: '/run/v.sock' } }));
    const vm = await start({ restore: snap, agent: true });
    const argv = JSON.parse((await vm.waitForSerial(/argv (.*)\n/))[1]!) as string[];
    expect(argv.some((a) => a.startsWith('--vsock'))).toBe(false);
    expect(vm.agent?.socketPath).toBe('/run/v.sock');
    const bare = join(dir, 'no-vsock');
    mkdirSync(bare, { recursive: true });
    writeFileSync(join(bare, 'config.json'), JSON.stringify({ payload: { kernel: '/k' } }));
    await expect(launch({ binary, restore: bare, agent: true })).rejects.toMatchObject({ kind: 'invalid-options', message: expect.stringContaining('has no vsock') as string });
  });

  it('with ownVsock restores a view of the snapshot whose vsock is a private socket, its memory the same file', async () => {
    const snap = join(dir, 'clone-src');
    mkdirSync(snap, { recursive: true });
    writeFileSync(join(snap, 'config.json'), JSON.stringify({ payload: { kernel: '/k' }, vsock: { cid: 3, socket: '/run/v.sock' } }));
    writeFileSync(join(snap, 'state.json'), '{}');
    writeFileSync(join(snap, 'memory.bin'), 'RAM');
    const clones = await Promise.all([0, 1].map(() => start({ restore: { dir: snap, ownVsock: true }, agent: true })));
    const sockets = clones.map((vm) => vm.agent?.socketPath);
    expect(new Set(sockets).size).toBe(2);
    for (const vm of clones) {
      const body = JSON.parse((await vm.waitForSerial(/restore (.*)\n/))[1]!) as { source_url: string };
      const view = fileURLToPath(body.source_url);
      expect(view).not.toBe(snap);
      expect(JSON.parse(readFileSync(join(view, 'config.json'), 'utf8'))).toEqual({ payload: { kernel: '/k' }, vsock: { cid: 3, socket: vm.agent?.socketPath } });
      expect(readlinkSync(join(view, 'memory.bin'))).toBe(join(snap, 'memory.bin'));
      expect(readlinkSync(join(view, 'state.json'))).toBe(join(snap, 'state.json'));
    }
    // The original is untouched.
    expect(JSON.parse(readFileSync(join(snap, 'config.json'), 'utf8')).vsock.socket).toBe('/run/v.sock');
  });
});

describe('spawnVmm', () => {
  it('starts a VMM with --no-api without waiting for an API, and its console works', async () => {
    const vm = spawnVmm({ binary, kernel: '/k', args: ['--fail'] });
    expect(vm.command.slice(1)).toEqual([binary, '--no-api', '--kernel=/k', '--serial=tty', '--fail']);
    expect(await vm.exited).toEqual({ code: 3, signal: null });
    expect(vm.stderrText()).toContain('fatal: cannot open');
    expect(() => vm.writeSerial('x')).toThrow(/has exited \(code 3\)/);
    await expect(vm.waitForSerial('x', 1_000)).rejects.toMatchObject({ kind: 'exited' });
  });

  it('builds the same flags as launch, with the API socket when given one', () => {
    expect(vmmArgs({ kernel: '/k', cpus: 2, args: ['-v'] }, '/tmp/a.sock', '/bin/wv')).toEqual(['/bin/wv', '--api-socket=/tmp/a.sock', '--kernel=/k', '--cpus=boot=2', '--serial=tty', '-v']);
  });
});

describe('resolveCliBinary', () => {
  it("finds @workervisor/cli's bin script", () => {
    const bin = resolveCliBinary();
    expect(bin.endsWith(join('cli', 'bin', 'workervisor.js'))).toBe(true);
    expect(existsSync(bin)).toBe(true);
  });
});
