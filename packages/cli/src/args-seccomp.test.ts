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
  it('installs no filters without them, or with --seccomp false', () => {
    expect(run([]).seccomp).toBeUndefined();
    expect(run(['--seccomp', 'false']).seccomp).toBeUndefined();
  });

  it('enforces a filter file (alone or with --seccomp true), or only logs with --seccomp log', () => {
    expect(run(['--seccomp-filter', 'f.json']).seccomp).toEqual({ mode: 'enforce', filterFile: 'f.json' });
    expect(run(['--seccomp=true', '--seccomp-filter', 'f.bpf']).seccomp).toEqual({ mode: 'enforce', filterFile: 'f.bpf' });
    expect(run(['--seccomp', 'log', '--seccomp-filter', 'f.json']).seccomp).toEqual({ mode: 'log', filterFile: 'f.json' });
  });

  it('refuses true or log without a file (no default filters yet), a file with false, and other values, by name', () => {
    expect(fails(['--seccomp', 'true'])).toMatchObject({ kind: 'requires', message: expect.stringMatching(/^--seccomp true needs --seccomp-filter FILE: Workervisor ships no default filters yet/) });
    expect(fails(['--seccomp', 'log']).message).toMatch(/^--seccomp log needs --seccomp-filter FILE/);
    expect(fails(['--seccomp', 'false', '--seccomp-filter', 'f.json'])).toMatchObject({ kind: 'conflict', message: '--seccomp false conflicts with --seccomp-filter: drop one of them' });
    expect(fails(['--seccomp', 'on']).message).toMatch(/^--seccomp on: expected true .*, false .* or log/);
    expect(fails(['--seccomp', 'true', '--seccomp', 'false']).kind).toBe('duplicate-flag');
  });
});
