import { describe, expect, it } from 'vitest';
import { CliError, parseArgs, type RunOptions } from './args.js';

function run(args: string[]): RunOptions {
  const parsed = parseArgs(['--api-socket', '/tmp/wv.sock', ...args]);
  if (parsed.kind !== 'run') throw new Error(`expected run, got ${parsed.kind}`);
  return parsed.options;
}

function fails(args: string[]): CliError {
  try {
    run(args);
  } catch (err) {
    if (err instanceof CliError) return err;
    throw err;
  }
  throw new Error(`expected a CliError for ${args.join(' ')}`);
}

describe('--seccomp and --seccomp-filter', () => {
  it('enforces the default filters without them (Cloud Hypervisor defaults to true), and installs none with --seccomp false', () => {
    expect(run([]).seccomp).toEqual({ mode: 'enforce' });
    expect(run(['--seccomp', 'true']).seccomp).toEqual({ mode: 'enforce' });
    expect(run(['--seccomp', 'log']).seccomp).toEqual({ mode: 'log' });
    expect(run(['--seccomp', 'false']).seccomp).toBeUndefined();
  });

  it('enforces a filter file (alone or with --seccomp true), or only logs with --seccomp log', () => {
    expect(run(['--seccomp-filter', 'f.json']).seccomp).toEqual({ mode: 'enforce', filterFile: 'f.json' });
    expect(run(['--seccomp=true', '--seccomp-filter', 'f.bpf']).seccomp).toEqual({ mode: 'enforce', filterFile: 'f.bpf' });
    expect(run(['--seccomp', 'log', '--seccomp-filter', 'f.json']).seccomp).toEqual({ mode: 'log', filterFile: 'f.json' });
  });

  it('refuses a file with false, and other values, by name', () => {
    expect(fails(['--seccomp', 'false', '--seccomp-filter', 'f.json'])).toMatchObject({ kind: 'conflict', message: '--seccomp false conflicts with --seccomp-filter: drop one of them' });
    expect(fails(['--seccomp', 'on']).message).toMatch(/^--seccomp on: expected true .*, false .* or log/);
    expect(fails(['--seccomp', 'true', '--seccomp', 'false']).kind).toBe('duplicate-flag');
  });
});

describe('--landlock and --landlock-rules', () => {
  it('is off without --landlock, and collects every --landlock-rules with it', () => {
    expect(run([]).landlock).toBeUndefined();
    expect(run(['--landlock']).landlock).toEqual({ rules: [] });
    expect(run(['--landlock', '--landlock-rules', 'path=/a,access=r', '--landlock-rules=path=/b,access=rw']).landlock).toEqual({
      rules: [
        { path: '/a', access: 'r' },
        { path: '/b', access: 'rw' },
      ],
    });
  });

  it('refuses rules without --landlock, a bad access and a rule missing a key, by name', () => {
    expect(fails(['--landlock-rules', 'path=/a,access=r'])).toMatchObject({ kind: 'requires', message: expect.stringMatching(/^--landlock-rules needs --landlock/) });
    expect(fails(['--landlock', '--landlock-rules', 'path=/a,access=x']).message).toBe('--landlock-rules path=/a,access=x: access is x, expected r, w or rw');
    expect(fails(['--landlock', '--landlock-rules', 'path=/a']).message).toMatch(/^--landlock-rules path=\/a: path=PATH and access=r\|w\|rw are both required/);
  });
});
