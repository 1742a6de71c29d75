// An integration-test suite as a Workervisor user writes one: every test gets its own VM, booted
// from the default guest image, with commands and files through the guest agent. It runs in the
// Linux tier (npm test), or on any KVM host with `npx vitest run examples/harness`.
import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { ExecTimeoutError } from '@workervisor/sdk';
import { vmTest } from '@workervisor/testing';

const test = vmTest({ memory: '512M' });

test('the guest runs the kernel it booted', async ({ vm }) => {
  const r = await vm.exec(['uname', '-r']);
  expect(r.exitCode).toBe(0);
  expect(r.stdout.trim()).toBe((await vm.waitReady()).release);
});

test('/proc/cpuinfo lists the vCPU', async ({ vm }) => {
  const { stdout } = await vm.exec('cat /proc/cpuinfo');
  expect(stdout).toMatch(/^processor\s*: 0$/m);
  expect(stdout).toMatch(/^flags\s*:.* lm /m);
});

test('a file written from the host reads back, and the guest sees the same bytes', async ({ vm }) => {
  const data = randomBytes(1024 * 1024);
  await vm.files.write('/tmp/from-host', data);
  const sha = createHash('sha256').update(data).digest('hex');
  expect((await vm.exec(['sha256sum', '/tmp/from-host'])).stdout.split(' ')[0]).toBe(sha);
  expect(createHash('sha256').update(await vm.files.read('/tmp/from-host')).digest('hex')).toBe(sha);
});

test("a failing command's exit code and stderr come back", async ({ vm }) => {
  const r = await vm.exec('ls /nonexistent');
  expect(r.exitCode).not.toBe(0);
  expect(r.stderr).toContain('/nonexistent');
});

test('a command that outlives its timeout is killed', async ({ vm }) => {
  const started = Date.now();
  await expect(vm.exec('sleep 60', { timeoutMs: 1000 })).rejects.toBeInstanceOf(ExecTimeoutError);
  expect(Date.now() - started).toBeLessThan(30_000);
  expect((await vm.exec('echo still-alive')).stdout).toBe('still-alive\n');
});

test('10 commands run concurrently in one VM', async ({ vm }) => {
  const started = Date.now();
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => vm.exec(`sleep 2; echo ${i}`)));
  expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 10 }, (_, i) => `${i}\n`));
  // One after another they would take 20 s.
  expect(Date.now() - started).toBeLessThan(15_000);
});

test('environment variables and the working directory reach the command', async ({ vm }) => {
  const r = await vm.exec('echo "$GREETING from $(pwd)"', { env: { GREETING: 'hello' }, cwd: '/tmp' });
  expect(r.stdout).toBe('hello from /tmp\n');
});

test("stdin is the command's input", async ({ vm }) => {
  expect((await vm.exec('wc -c', { stdin: 'twelve bytes' })).stdout.trim()).toBe('12');
});

test('an exit status other than 0 or 1 comes back exactly', async ({ vm }) => {
  expect((await vm.exec(['sh', '-c', 'exit 42'])).exitCode).toBe(42);
});

test('a command ended by a signal reports the signal, not an exit code', async ({ vm }) => {
  const r = await vm.exec(['sh', '-c', 'kill -9 $$']);
  expect(r.exitCode).toBeNull();
  expect(r.signal).toBe('SIGKILL');
});

test('stdout and stderr stay apart', async ({ vm }) => {
  const r = await vm.exec('echo to-out; echo to-err >&2');
  expect([r.stdout, r.stderr]).toEqual(['to-out\n', 'to-err\n']);
});

test('a megabyte of output arrives whole', async ({ vm }) => {
  const r = await vm.exec("head -c 1048576 /dev/zero | tr '\\0' a");
  expect(r.stdout.length).toBe(1 << 20);
  expect(/^a+$/.test(r.stdout)).toBe(true);
});

test('every byte value survives a file round trip', async ({ vm }) => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  await vm.files.write('/tmp/bytes', all);
  expect((await vm.exec('od -An -tx1 -v /tmp/bytes | wc -w')).stdout.trim()).toBe('256');
  expect([...(await vm.files.read('/tmp/bytes'))]).toEqual([...all]);
});

test('a file the guest writes reads back on the host', async ({ vm }) => {
  await vm.exec('echo written-in-the-guest > /tmp/guest-file');
  expect((await vm.files.read('/tmp/guest-file')).toString()).toBe('written-in-the-guest\n');
});

test('mkdir and stat see the guest filesystem', async ({ vm }) => {
  await vm.files.mkdir('/tmp/a/b/c', { parents: true });
  expect(await vm.files.stat('/tmp/a/b/c')).toMatchObject({ isDirectory: true, isFile: false });
  await vm.files.write('/tmp/a/b/c/f', 'xyz', { mode: 0o640 });
  expect(await vm.files.stat('/tmp/a/b/c/f')).toMatchObject({ isFile: true, size: 3, mode: expect.any(Number) as number });
  expect((await vm.files.stat('/tmp/a/b/c/f')).mode & 0o777).toBe(0o640);
});

test('a spawned command streams its output before it ends', async ({ vm }) => {
  const p = await vm.spawn('echo first; sleep 2; echo second');
  const first = await new Promise<string>((resolve) => p.stdout.once('data', (d: Buffer) => resolve(d.toString())));
  expect(first).toBe('first\n');
  expect((await p.exited).exitCode).toBe(0);
});

test('each test gets a VM of its own: nothing another test wrote is here', async ({ vm }) => {
  expect((await vm.exec('ls /tmp/from-host /tmp/bytes /tmp/guest-file /tmp/a')).exitCode).not.toBe(0);
});

test('the guest has the RAM the fixture gave it', async ({ vm }) => {
  const kib = Number(/MemTotal:\s+(\d+) kB/.exec((await vm.exec('cat /proc/meminfo')).stdout)?.[1]);
  expect(kib).toBeGreaterThan(400 * 1024);
  expect(kib).toBeLessThanOrEqual(512 * 1024);
});

test('the agent reports the guest kernel and a running clock', async ({ vm }) => {
  const info = await vm.waitReady();
  expect(info.machine).toBe('x86_64');
  expect(info.release).toMatch(/^\d+\.\d+/);
  const up = Number((await vm.exec("cut -d' ' -f1 /proc/uptime")).stdout);
  expect(up).toBeGreaterThan(0);
});

test("the guest booted with the image's command line", async ({ vm }) => {
  expect((await vm.exec('cat /proc/cmdline')).stdout).toMatch(/console=ttyS0/);
});
