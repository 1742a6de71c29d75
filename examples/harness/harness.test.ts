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
