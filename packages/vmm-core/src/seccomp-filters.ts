// The VMM's seccomp filters, one per thread category as in Firecracker's filter files: `vmm` (the
// core on the main thread, installed with TSYNC so Node's and libuv's helper threads get it too),
// `api` (the API worker) and `vcpu` (each vCPU worker). A worker starts under the vmm filter and
// stacks its own on top, so its calls must pass both (the kernel runs every filter of a thread).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { logFileDescriptor, readHostFile } from '@workervisor/base';
import { installSeccompFilter, reportSeccompViolations } from '@workervisor/native';
import { encodeProgram, loadFilterFile, MAX_FILTER_FILE_BYTES, SeccompError, withLogActions, X86_64_SYSCALLS } from '@workervisor/seccomp';

export const SECCOMP_THREADS = ['vmm', 'api', 'vcpu'] as const;
export type SeccompThread = (typeof SECCOMP_THREADS)[number];

/** `--seccomp true` (a stopped call traps and ends the VMM) or `log` (the kernel logs it, it goes on). */
export type SeccompMode = 'enforce' | 'log';

/** Compiled programs (struct sock_filter[] bytes) ready for installSeccompFilter. */
export interface ThreadFilters {
  readonly mode: SeccompMode;
  readonly programs: Readonly<Record<SeccompThread, Uint8Array>>;
}

/**
 * An ES module exporting installSeccompFilter(program, { label }), for threads of packages that do
 * not load the addon themselves (the API worker: ApiServerOptions.seccomp.installerUrl).
 */
export const SECCOMP_INSTALLER_URL = installerUrl();

/** The compiled module next to this one in dist, or dist's copy when this module runs from src (tests). */
function installerUrl(): string {
  const sibling = new URL('./seccomp-installer.js', import.meta.url);
  return existsSync(fileURLToPath(sibling)) ? sibling.href : new URL('../dist/seccomp-installer.js', import.meta.url).href;
}

/** The exit status after a filter trapped a syscall: 128 + SIGSYS, as a shell reports SIGSYS. */
export const SECCOMP_VIOLATION_EXIT_CODE = 159;

/**
 * Workervisor's default filters (Firecracker's JSON), measured from the test suite by
 * scripts/seccomp/measure.sh; in the package, outside src and dist, so both find it at ../seccomp.
 */
export const DEFAULT_FILTER_PATH = fileURLToPath(new URL('../seccomp/default-filters.json', import.meta.url));

/** The default filters (DEFAULT_FILTER_PATH), compiled for `mode`. */
export function defaultThreadFilters(mode: SeccompMode): ThreadFilters {
  return threadFilters(readHostFile(DEFAULT_FILTER_PATH, { what: 'the default seccomp filters', maxBytes: MAX_FILTER_FILE_BYTES }), mode, `the default seccomp filters (${DEFAULT_FILTER_PATH})`);
}

/** Reads `--seccomp-filter FILE`: Firecracker's JSON or `workervisor seccompiler`'s output. */
export function loadThreadFilters(path: string, mode: SeccompMode): ThreadFilters {
  return threadFilters(readHostFile(path, { what: '--seccomp-filter', maxBytes: MAX_FILTER_FILE_BYTES }), mode, `--seccomp-filter ${path}`);
}

/** The file's filters for Workervisor's threads: exactly vmm, api and vcpu, each refused by name when missing or unknown. */
export function threadFilters(bytes: Uint8Array, mode: SeccompMode, what = 'the seccomp filter file'): ThreadFilters {
  const programs = loadFilterFile(bytes);
  for (const name of programs.keys()) {
    if (!(SECCOMP_THREADS as readonly string[]).includes(name)) {
      throw new SeccompError('invalid-filter', `${what}: filter ${JSON.stringify(name)} is not one of Workervisor's thread categories (${SECCOMP_THREADS.join(', ')})`);
    }
  }
  const out = {} as Record<SeccompThread, Uint8Array>;
  for (const name of SECCOMP_THREADS) {
    const program = programs.get(name);
    if (program === undefined) throw new SeccompError('invalid-filter', `${what} has no "${name}" filter (it needs one for each of ${SECCOMP_THREADS.join(', ')})`);
    out[name] = encodeProgram(mode === 'log' ? withLogActions(program) : program);
  }
  return { mode, programs: out };
}

/**
 * On the main thread, before the API or any vCPU worker starts: the SIGSYS report (a trapped call
 * is one ERROR line naming the thread and the syscall, then exit 159), then the vmm filter on every
 * thread of the process (TSYNC). A worker started later inherits it and adds its own.
 */
export function installProcessFilter(filters: ThreadFilters): void {
  const names: string[] = [];
  for (const [name, nr] of X86_64_SYSCALLS) names[nr] = name;
  reportSeccompViolations(names, { logFd: logFileDescriptor() ?? 2, exitCode: SECCOMP_VIOLATION_EXIT_CODE });
  installSeccompFilter(filters.programs.vmm, { allThreads: true, label: 'vmm' });
}
