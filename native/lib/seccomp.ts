// seccomp(2) for the calling thread: install a compiled classic BPF program (the addon's
// seccompInstall, after PR_SET_NO_NEW_PRIVS), and read the thread's seccomp state back from
// /proc/thread-self/status. The programs come from @workervisor/seccomp; no policy here.
import { readFileSync } from 'node:fs';
import { binding } from './binding.js';
import { wrap } from './errors.js';

export interface SeccompInstallOptions {
  /** SECCOMP_FILTER_FLAG_TSYNC: every thread of the process gets the filter, or none does. */
  readonly allThreads?: boolean;
  /** SECCOMP_FILTER_FLAG_LOG: log every action but allow to the audit log. */
  readonly logActions?: boolean;
  /** The thread's name in the violation report (reportSeccompViolations): `vmm`, `vcpu0`, `api`. */
  readonly label?: string;
}

/**
 * Sets no_new_privs and installs `program` (struct sock_filter[], 8 bytes each) on the calling
 * thread, or with allThreads on all of them. Irreversible: filters stack for the thread's life.
 * Throws KvmError('seccomp') with errnoName (EINVAL for a program the kernel refuses, EFAULT,
 * EACCES, ESRCH when a thread cannot be synchronized).
 */
export function installSeccompFilter(program: Uint8Array, options: SeccompInstallOptions = {}): void {
  const b = binding();
  const flags = (options.allThreads === true ? b.SECCOMP_FILTER_FLAG.TSYNC : 0) | (options.logActions === true ? b.SECCOMP_FILTER_FLAG.LOG : 0);
  wrap('seccomp', `installing a seccomp filter of ${program.length / 8} instructions${options.allThreads === true ? ' on every thread' : ''}`, () => b.seccompInstall(program, flags, options.label ?? ''));
}

/**
 * Installs the process's SIGSYS handler for SECCOMP_RET_TRAP: it writes one ERROR line naming the
 * thread (its install label) and the syscall (`names[nr]`) to `logFd`, then exits with `exitCode`.
 * Call on the main thread before installing filters that trap.
 */
export function reportSeccompViolations(names: readonly string[], options: { logFd: number; exitCode: number }): void {
  wrap('seccomp', 'installing the SIGSYS handler', () => binding().seccompReportViolations([...names], options.logFd, options.exitCode));
}

/** The calling thread's `Seccomp:` (0 none, 1 strict, 2 filter) and `NoNewPrivs:` (proc(5)). */
export function threadSeccompStatus(): { mode: number; noNewPrivs: boolean } {
  const status = readFileSync('/proc/thread-self/status', 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { mode: field('Seccomp'), noNewPrivs: field('NoNewPrivs') === 1 };
}
