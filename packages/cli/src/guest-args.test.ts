import { describe, expect, it } from 'vitest';
import { parseGuestRun, parseImage } from './guest-args.js';

describe('workervisor run', () => {
  it('takes flags, then the command after --', () => {
    expect(parseGuestRun(['--memory', '1G', '--cpus=2', '--timeout', '500', '--', 'sh', '-c', 'echo hi; exit 3'])).toEqual({
      kind: 'guest-run',
      options: { command: ['sh', '-c', 'echo hi; exit 3'], memoryBytes: 1 << 30, cpus: 2, timeoutMs: 500, console: false },
    });
  });

  it('starts the command at the first argument that is not a flag, so its own flags stay its own', () => {
    expect(parseGuestRun(['--console', 'ls', '-l', '--timeout', '1'])).toMatchObject({ options: { command: ['ls', '-l', '--timeout', '1'], console: true } });
  });

  it('refuses a missing command, an unknown flag, a bad number and --image with --kernel by name', () => {
    expect(() => parseGuestRun(['--'])).toThrow(/missing the command/);
    expect(() => parseGuestRun(['--frobnicate', 'x', '--', 'true'])).toThrow(/unknown flag '--frobnicate'/);
    expect(() => parseGuestRun(['--cpus', 'two', '--', 'true'])).toThrow(/--cpus: 'two' is not a positive whole number/);
    expect(() => parseGuestRun(['--memory', 'lots', '--', 'true'])).toThrow(/--memory 'lots' is not a size/);
    expect(() => parseGuestRun(['--image', '/i', '--kernel', '/k', '--', 'true'])).toThrow(/--image conflicts with --kernel/);
    expect(() => parseGuestRun(['--cpus', '1', '--cpus', '2', '--', 'true'])).toThrow(/--cpus given twice/);
  });

  it('has a help text and parses image default', () => {
    expect(parseGuestRun(['--help'])).toMatchObject({ kind: 'help' });
    expect(parseImage(['default'])).toEqual({ kind: 'image-default' });
    expect(parseImage(['default', '--image', '/i'])).toEqual({ kind: 'image-default', image: '/i' });
  });

  it('parses image build flags and refuses bad ones by name', () => {
    expect(parseImage(['build'])).toEqual({ kind: 'image-build', options: { packages: [], force: false } });
    expect(parseImage(['build', '--packages', 'jq, python3-minimal', '--out=/o', '--force'])).toEqual({ kind: 'image-build', options: { packages: ['jq', 'python3-minimal'], out: '/o', force: true } });
    expect(() => parseImage(['build', '--package', 'jq'])).toThrow(/image build: unknown flag '--package'/);
    expect(() => parseImage(['build', 'jq'])).toThrow(/image build: unexpected argument 'jq'/);
    expect(() => parseImage(['build', '--out'])).toThrow(/--out needs a value/);
    expect(() => parseImage(['build', '--out', 'a', '--out', 'b'])).toThrow(/--out given twice/);
    expect(() => parseImage(['bake'])).toThrow(/unknown command 'bake'/);
  });
});
