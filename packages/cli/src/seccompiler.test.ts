import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadFilterFile } from '@workervisor/seccomp';
import { evaluate } from '@workervisor/seccomp/testing';
import { main } from './main.js';
import { parseSeccompiler } from './seccompiler.js';

let dir: string;
let stderr: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wv-seccompiler-'));
  stderr = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

const FILTERS = { vmm: { default_action: 'trap', filter_action: 'allow', filter: [{ syscall: 'read' }, { syscall: 'getppid', comment: 'allowed here' }] } };

describe('workervisor seccompiler', () => {
  it('compiles a JSON filter file into a compiled file that --seccomp-filter loads', async () => {
    const input = join(dir, 'filters.json');
    const output = join(dir, 'filters.bpf');
    writeFileSync(input, JSON.stringify(FILTERS));
    expect(await main(['seccompiler', '--input', input, '--target-arch', 'x86_64', '--output', output])).toBe(0);
    expect(stderr).toBe('');
    const bytes = readFileSync(output);
    expect(bytes.subarray(0, 8).toString()).toBe('WVSECBPF');
    const vmm = loadFilterFile(bytes).get('vmm')!;
    expect(evaluate(vmm, { nr: 110 })).toBe('allow'); // getppid
    expect(evaluate(vmm, { nr: 59 })).toBe('trap'); // execve
  });

  it('accepts Firecracker\'s --input-file/--output-file spellings and --flag=VALUE', () => {
    expect(parseSeccompiler(['--input-file=a.json', '--target-arch=x86_64', '--output-file', 'b.bpf'])).toEqual({ kind: 'seccompiler', options: { input: 'a.json', output: 'b.bpf', arch: 'x86_64' } });
  });

  it('exits 2 with a message for a bad flag, a missing flag or another arch', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--input', 'a', '--target-arch', 'x86_64', '--output', 'b', '--basic'], /unknown flag '--basic'/],
      [['--input', 'a', '--output', 'b'], /--target-arch is required/],
      [['--input', 'a', '--target-arch', 'aarch64', '--output', 'b'], /--target-arch aarch64: only x86_64 is supported/],
      [['--input', '--target-arch', 'x86_64'], /--input needs a value/],
      [['--input', 'a', '--input', 'b'], /--input given twice/],
      [['filters.json'], /unexpected argument 'filters.json'/],
    ];
    for (const [args, re] of cases) {
      stderr = '';
      expect(await main(['seccompiler', ...args]), args.join(' ')).toBe(2);
      expect(stderr).toMatch(re);
    }
  });

  it('exits 1 naming the filter, rule and field when the input does not compile', async () => {
    const input = join(dir, 'bad.json');
    writeFileSync(input, JSON.stringify({ vcpu: { ...FILTERS.vmm, filter: [{ syscall: 'read' }, { syscall: 'ioctl', args: [{ index: 1, type: 'dword', op: 'eq', val: -4 }] }] } }));
    expect(await main(['seccompiler', '--input', input, '--target-arch', 'x86_64', '--output', join(dir, 'out.bpf')])).toBe(1);
    expect(stderr).toBe('workervisor: filter "vcpu", rule 1 (ioctl), args[0].val: must be a whole number from 0 to 4294967295 for a dword, not -4\n');
    stderr = '';
    expect(await main(['seccompiler', '--input', '/dev/zero', '--target-arch', 'x86_64', '--output', join(dir, 'out.bpf')])).toBe(1);
    expect(stderr).toMatch(/seccompiler input \/dev\/zero is a character device, not a regular file/);
  });

  it('has a help text', async () => {
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    expect(await main(['seccompiler', '--help'])).toBe(0);
    expect(out).toMatch(/--input FILE --target-arch x86_64 --output FILE/);
  });
});
