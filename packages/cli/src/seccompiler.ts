// `workervisor seccompiler --input FILE --target-arch x86_64 --output FILE`: Firecracker's
// seccompiler-bin. Compiles a seccompiler JSON filter file into Workervisor's compiled filter file
// (packages/seccomp/src/compiled-file.ts), which `--seccomp-filter` takes as well as the JSON.
import { writeFileSync } from 'node:fs';
import { readHostFile } from '@workervisor/base';
import { compileFilterFile, encodeCompiledFilters, MAX_FILTER_FILE_BYTES, parseTargetArch, SeccompError, type TargetArch } from '@workervisor/seccomp';
import { CliError } from './args.js';

export const SECCOMPILER_HELP = `workervisor seccompiler: compile seccomp filters (Firecracker's seccompiler JSON format)

Usage:
  workervisor seccompiler --input FILE --target-arch x86_64 --output FILE

  --input FILE          A JSON file of filters keyed by thread category, each with default_action,
                        filter_action and filter (rules of syscall + args conditions), as
                        Firecracker's resources/seccomp/*.json (--input-file is the same flag)
  --target-arch ARCH    x86_64 (the only target)
  --output FILE         The compiled filters: Workervisor's compiled filter file ("WVSECBPF",
                        one classic BPF program per thread category; see the README)
                        (--output-file is the same flag)

A malformed file is an error naming the filter, the rule (index and syscall) and the field.
Exit status: 0 when the output is written, 1 when the input does not compile, 2 for a bad flag.
`;

export interface SeccompilerOptions {
  input: string;
  output: string;
  arch: TargetArch;
}

const ALIASES: Record<string, 'input' | 'output' | 'target-arch'> = {
  input: 'input',
  'input-file': 'input',
  output: 'output',
  'output-file': 'output',
  'target-arch': 'target-arch',
};

/** `workervisor seccompiler ...` (argv after `seccompiler`). Throws CliError. */
export function parseSeccompiler(argv: readonly string[]): { kind: 'help'; text: string } | { kind: 'seccompiler'; options: SeccompilerOptions } {
  if (argv.includes('--help') || argv.includes('-h')) return { kind: 'help', text: SECCOMPILER_HELP };
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new CliError('unexpected-argument', `seccompiler: unexpected argument '${arg}' (see workervisor seccompiler --help)`);
    const eq = arg.indexOf('=');
    const given = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const name = ALIASES[given];
    if (name === undefined) throw new CliError('unknown-flag', `seccompiler: unknown flag '--${given}' (flags: --input, --target-arch, --output)`);
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '' || (eq < 0 && value.startsWith('--'))) throw new CliError('missing-value', `seccompiler: --${given} needs a value`);
    if (values.has(name)) throw new CliError('duplicate-flag', `seccompiler: --${name} given twice`);
    values.set(name, value);
  }
  for (const flag of ['input', 'target-arch', 'output']) {
    if (!values.has(flag)) throw new CliError('missing-argument', `seccompiler: --${flag} is required (workervisor seccompiler --input FILE --target-arch x86_64 --output FILE)`);
  }
  let arch: TargetArch;
  try {
    arch = parseTargetArch(values.get('target-arch')!);
  } catch (err) {
    throw new CliError('invalid-value', `seccompiler: --target-arch ${values.get('target-arch')!}: only x86_64 is supported`, err instanceof SeccompError ? undefined : err);
  }
  return { kind: 'seccompiler', options: { input: values.get('input')!, output: values.get('output')!, arch } };
}

/** Compiles and writes; returns the thread categories written. Throws SeccompError or HostFileError. */
export function runSeccompiler(o: SeccompilerOptions): string[] {
  const text = readHostFile(o.input, { what: 'seccompiler input', maxBytes: MAX_FILTER_FILE_BYTES }).toString('utf8');
  const programs = compileFilterFile(text, o.arch);
  writeFileSync(o.output, encodeCompiledFilters(programs, o.arch));
  return [...programs.keys()];
}
