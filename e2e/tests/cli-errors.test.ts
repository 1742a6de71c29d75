// Bad input gets one clear line on stderr and a non-zero exit, never a stack trace.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { expect, it, describe } from 'vitest';
import { cliPath, guestPath, kvmStatus } from '../framework/index.js';

function run(args: string[], env: NodeJS.ProcessEnv = {}, user?: string): { code: number | null; stderr: string; stdout: string } {
  const argv = user === undefined ? [process.execPath, cliPath, ...args] : ['runuser', '-u', user, '--', process.execPath, cliPath, ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

function expectCleanFailure(r: { code: number | null; stderr: string }, pattern: RegExp): void {
  expect(r.code).not.toBe(0);
  expect(r.code).not.toBeNull();
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).toMatch(/^workervisor: /);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const dir = mkdtempSync(join(tmpdir(), 'wv-cli-errors-'));
const hello = guestPath('hello.elf');

describe('workervisor CLI bad input', () => {
  it('names a missing kernel file', () => {
    expectCleanFailure(run(['--kernel', join(dir, 'nope')]), /cannot read kernel .*nope \(ENOENT\)/);
  });

  it('rejects a kernel that is neither ELF nor bzImage', () => {
    const junk = join(dir, 'junk.bin');
    writeFileSync(junk, Buffer.alloc(4096, 0x41));
    expectCleanFailure(run(['--kernel', junk, '--memory', '64M']), /neither an ELF file nor a bzImage/);
  });

  it('rejects a truncated ELF', () => {
    const elf = join(dir, 'short.elf');
    writeFileSync(elf, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]));
    expectCleanFailure(run(['--kernel', elf, '--memory', '64M']), /ELF|truncated/i);
  });

  it('rejects an initramfs too large for guest memory', () => {
    const big = join(dir, 'big-initrd');
    writeFileSync(big, Buffer.alloc(40 * 1024 * 1024));
    expectCleanFailure(run(['--kernel', hello, '--memory', '32M', '--initramfs', big]), /initramfs/i);
  });

  it('rejects a command line longer than the kernel accepts', () => {
    expectCleanFailure(run(['--kernel', hello, '--memory', '64M', '--cmdline', 'x'.repeat(70_000)]), /command line|cmdline/i);
  });

  it('rejects memory below 16M', () => {
    expectCleanFailure(run(['--kernel', hello, '--memory', '8M']), /--memory: memory\.size 8388608 bytes \(8M\) is below the minimum of 16M/);
  });

  it('rejects memory above what the host has', () => {
    expectCleanFailure(run(['--kernel', hello, '--memory', '4096G']), /--memory: memory\.size \d+ bytes \(4096G\) exceeds the host's \d+ bytes of RAM/);
  });

  it('rejects --cpus 0 and --cpus 255', () => {
    expectCleanFailure(run(['--kernel', hello, '--cpus', '0']), /--cpus: cpus\.boot_vcpus 0 must be between 1 and 254/);
    expectCleanFailure(run(['--kernel', hello, '--cpus', '255']), /--cpus: cpus\.boot_vcpus 255 must be between 1 and 254/);
  });

  it('names an unknown flag and suggests the fix', () => {
    expectCleanFailure(run(['--kernal', hello]), /unknown flag --kernal.*--kernel/);
  });

  it('says so when the host has no KVM device', () => {
    expectCleanFailure(run(['--kernel', hello, '--memory', '64M'], { WORKERVISOR_KVM_PATH: join(dir, 'no-kvm') }), /does not exist: this host has no KVM/);
  });

  const canDropPrivileges = process.getuid?.() === 0 && spawnSync('runuser', ['--help']).status === 0 && kvmStatus().usable;
  it.skipIf(!canDropPrivileges)('says so when the user may not open /dev/kvm', () => {
    expectCleanFailure(run(['--kernel', hello, '--memory', '64M'], {}, 'nobody'), /no permission to open \/dev\/kvm/);
  });
});
