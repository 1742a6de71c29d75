// Hostile input files (issue 9): devices, FIFOs and /proc files as kernel, initramfs, config file
// or log file are refused at once by name, before a byte is read, and no error quotes a file.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliPath, guestPath, itKvm } from '../framework/index.js';

/** Runs the CLI; SIGKILL after timeoutMs, since a VMM stuck in open() or read() ignores SIGTERM. */
function run(args: string[], timeoutMs = 15_000): { code: number | null; signal: string | null; stderr: string; ms: number } {
  const started = Date.now();
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, signal: r.signal, stderr: r.stderr, ms: Date.now() - started };
}

function expectRefused(r: ReturnType<typeof run>, message: string | RegExp): void {
  expect(r.signal, `killed after ${r.ms} ms (stuck): ${r.stderr}`).toBeNull();
  expect(r.code).not.toBe(0);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  if (typeof message === 'string') expect(r.stderr).toContain(message);
  else expect(r.stderr).toMatch(message);
}

const dir = mkdtempSync(join(tmpdir(), 'wv-cli-inputs-'));
const hello = guestPath('hello.elf');
function fifo(name: string): string {
  const path = join(dir, name);
  if (!existsSync(path)) execFileSync('mkfifo', [path]);
  return path;
}
function configFile(name: string, config: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(config));
  return path;
}

describe('input files the VMM reads', () => {
  it('refuses /dev/zero as the kernel, initramfs and config file before reading it', () => {
    expectRefused(run(['--kernel', '/dev/zero', '--memory', '64M']), 'kernel /dev/zero is a character device, not a regular file');
    expectRefused(run(['--kernel', hello, '--memory', '64M', '--initramfs', '/dev/urandom']), 'initramfs /dev/urandom is a character device, not a regular file');
    expectRefused(run(['--config-file', '/dev/zero']), '--config-file /dev/zero is a character device, not a regular file');
  });

  it('refuses a FIFO as the kernel or initramfs at once instead of hanging in open()', () => {
    const f = fifo('kernel.fifo');
    const r = run(['--kernel', f, '--memory', '64M']);
    expectRefused(r, `kernel ${f} is a FIFO, not a regular file`);
    expect(r.ms).toBeLessThan(10_000);
    expectRefused(run(['--kernel', hello, '--memory', '64M', '--initramfs', f]), `initramfs ${f} is a FIFO`);
  });

  it("refuses /proc/self/environ as the initramfs: the VMM's environment never reaches guest RAM", () => {
    expectRefused(run(['--kernel', hello, '--memory', '64M', '--initramfs', '/proc/self/environ']), /initramfs \/proc\/self\/environ is on procfs/);
  });

  it('refuses a directory and a file over the limit by what they are', () => {
    expectRefused(run(['--kernel', dir, '--memory', '64M']), `kernel ${dir} is a directory, not a regular file`);
    const big = join(dir, 'big.json');
    writeFileSync(big, ' '.repeat(1024 * 1024 + 1));
    expectRefused(run(['--config-file', big]), `--config-file ${big} is 1048577 bytes, over the limit of 1048576 bytes`);
  });

  it('never echoes a config file that is not JSON, only where it stops being JSON', () => {
    const secret = join(dir, 'shadow');
    writeFileSync(secret, 'root:$y$j9T$TOPSECRETHASH:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n', { mode: 0o600 });
    const r = run(['--config-file', secret]);
    expectRefused(r, `--config-file ${secret}: not valid JSON (unexpected character at line 1, column 1)`);
    expect(r.stderr).not.toMatch(/root|TOPSECRET|nobody/);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"boot-source": {"kernel_image_path": "TOPSECRET" x}}');
    const b = run(['--config-file', broken]);
    expectRefused(b, 'not valid JSON (unexpected character at line 1, column 51)');
    expect(b.stderr).not.toContain('TOPSECRET');
  });
});

describe('log files', () => {
  it('fails at once when logger.log_path is a FIFO nobody reads', () => {
    const f = fifo('log.fifo');
    const config = configFile('fifo-log.json', { 'boot-source': { kernel_image_path: hello }, 'machine-config': { vcpu_count: 1, mem_size_mib: 64 }, logger: { log_path: f, level: 'Info' } });
    const r = run(['--config-file', config, '--serial', 'off']);
    expectRefused(r, `cannot open log file ${f} for appending (ENXIO: a FIFO with no reader`);
    expect(r.ms).toBeLessThan(10_000);
  });

  itKvm('creates the log file 0600, and logs a whole boot through a FIFO opened once', async () => {
    const logFile = join(dir, 'vmm.log');
    const r = run(['--kernel', hello, '--memory', '64M', '--serial', 'off', '--no-api', '-v', '--log-file', logFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(logFile).mode & 0o777).toBe(0o600);

    // Through a FIFO: the reader sees every line and sees EOF only when the VMM exits. A log file
    // reopened for each line would hand the reader an EOF after the first line's close.
    const f = fifo('boot-log.fifo');
    const config = configFile('boot.json', { 'boot-source': { kernel_image_path: hello }, 'machine-config': { vcpu_count: 1, mem_size_mib: 64 }, logger: { log_path: f, level: 'Info' } });
    const reader = spawn('sh', ['-c', `cat "${f}"`], { stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    let eofs = 0;
    reader.stdout.on('data', (c: Buffer) => (text += c.toString()));
    const readerDone = new Promise<void>((resolve) => reader.once('close', () => resolve()));
    reader.stdout.once('end', () => eofs++);
    // Let cat open the FIFO first: the VMM's non-blocking open needs a reader.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const vmm = spawn(process.execPath, [cliPath, '--config-file', config, '--serial', 'off', '--no-api'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    vmm.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const stuck = setTimeout(() => {
      vmm.kill('SIGKILL');
      reader.kill('SIGKILL');
    }, 30_000);
    const code = await new Promise<number | null>((resolve) => vmm.once('exit', resolve));
    await readerDone;
    clearTimeout(stuck);
    expect(code, stderr).toBe(0);
    expect(eofs).toBe(1);
    expect(text).toMatch(/VM created/);
    expect(text).toMatch(/VM booted/);
    expect(text).toMatch(/powered off|reset/);
  }, 60_000);
});
