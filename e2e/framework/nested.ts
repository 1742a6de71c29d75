// The nested runner: on a nested-PVM host, where a stock Linux kernel cannot boot, runs one
// command inside "L1" — Debian's generic kernel under QEMU's TCG with `-cpu max` (SVM with
// nested paging), which loads kvm_amd and has a real /dev/kvm. L1 sees the host's / over
// virtio-9p under a tmpfs overlay, so it runs this host's node against this checkout.
// DESIGN.md "The machine, and how tests cope", tier 3. L1 itself is built by
// e2e/nested/build.sh; its /init runs `job.sh` from a shared job directory and writes
// `status` there (`exit N`, or `error: REASON` when L1 could not run the job).
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { Readiness } from './kvm.js';
import { lockupReport, lockupSummary } from './l1-console.js';
import { repoRoot } from './paths.js';

export const QEMU_BINARY = 'qemu-system-x86_64';

/** Output directory of e2e/nested/build.sh (it honours the same variable). */
export const nestedOutDir: string = (() => {
  const dir = process.env['WORKERVISOR_NESTED_OUT'];
  if (dir === undefined || dir === '') return join(repoRoot, 'e2e/nested/out');
  return isAbsolute(dir) ? dir : join(repoRoot, dir);
})();

/** L1's kernel (Debian's generic bzImage) and initramfs. */
export const nestedL1 = {
  kernel: join(nestedOutDir, 'vmlinuz'),
  initramfs: join(nestedOutDir, 'initramfs.cpio.gz'),
} as const;

export interface NestedRunOptions {
  /** argv of the command to run inside L1 (through `sh -c` when it is one string). */
  command: string | readonly string[];
  /** Working directory inside L1; it is the same path as on the host. Default: the repo. */
  cwd?: string;
  /** Variables for the command (PATH, HOME, CI and WORKERVISOR_* are passed on by default). */
  env?: Record<string, string>;
  /** Kill L1 after this long. */
  timeoutMs: number;
  /** L1's kernel console goes here, with the job's output after it. */
  logFile: string;
  /** The job's stdout+stderr as it arrives (hvc0); default: this process's stdout. */
  onOutput?: (chunk: Buffer) => void;
  /** L1 vCPUs (QEMU TCG threads); default: this host's CPU count, at most 4. */
  cpus?: number;
  /** L1 RAM in MiB; default 8192 (the tmpfs overlay lives in it). */
  memoryMiB?: number;
  /**
   * Give the job this process's terminal (stdin and stdout through hvc0) instead of a pipe and
   * /dev/null; its output then goes to the terminal only, not to `onOutput` or the log.
   */
  interactive?: boolean;
  /** Files the job writes in its directory (`/nested-job/NAME` in L1) to read back when L1 ends. */
  collect?: readonly string[];
}

/** `collected`: the `collect` files the job wrote, by name (absent ones left out). */
export type NestedRunResult =
  | { kind: 'exited'; exitCode: number; durationMs: number; collected: Record<string, string> }
  /** `lockup`: L1's kernel reported a CPU stuck (its report), and L1 was killed for it. */
  | { kind: 'failed'; reason: string; durationMs: number; collected: Record<string, string>; lockup?: string };

/** How often the runner reads L1's console for a lockup report. */
const LOCKUP_POLL_MS = 5_000;
/** After the first lockup line, how long L1 may go on (the other CPUs' backtraces follow it). */
const LOCKUP_GRACE_MS = 15_000;

/** Why the nested runner cannot run here, or `usable`. Checks QEMU and the built L1. */
export function nestedRunnerStatus(): Readiness {
  const probe = spawnSync(QEMU_BINARY, ['-device', 'help'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    return { usable: false, reason: `${QEMU_BINARY} is not installed (apt-get install qemu-system-x86)` };
  }
  if (!probe.stdout.includes('virtio-9p-pci')) {
    return { usable: false, reason: `${QEMU_BINARY} has no virtio-9p-pci device (built without virtfs)` };
  }
  const missing = Object.values(nestedL1).filter((file) => !existsSync(file));
  if (missing.length > 0) {
    return { usable: false, reason: `${missing.join(', ')} missing: run \`bash e2e/nested/build.sh\`` };
  }
  return { usable: true };
}

/** Variables of this process that the job inherits unless `env` overrides them. */
const PASSED_ENV = /^(PATH|HOME|LANG|TERM|CI|NO_COLOR|FORCE_COLOR|WORKERVISOR_[A-Z0-9_]+)$/;

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** job.sh: `cd`, the environment, then the command; its exit status is the job's. */
export function jobScript(options: Pick<NestedRunOptions, 'command' | 'cwd' | 'env'>, base: NodeJS.ProcessEnv = process.env): string {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(base)) {
    if (value !== undefined && PASSED_ENV.test(key)) env[key] = value;
  }
  Object.assign(env, options.env);
  const lines = ['# written by e2e/framework/nested.ts', `cd ${shellQuote(options.cwd ?? repoRoot)} || exit 125`];
  for (const [key, value] of Object.entries(env).sort()) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`invalid environment variable name '${key}'`);
    lines.push(`export ${key}=${shellQuote(value)}`);
  }
  const command = typeof options.command === 'string' ? options.command : options.command.map(shellQuote).join(' ');
  lines.push(`exec ${command}`);
  return `${lines.join('\n')}\n`;
}

/** QEMU's argv for L1 with `jobDir` shared read-write and `/` read-only. */
export function qemuArgs(jobDir: string, consoleLog: string, cpus: number, memoryMiB: number): string[] {
  return [
    '-machine', 'q35', '-accel', 'tcg,thread=multi,tb-size=1024', '-cpu', 'max',
    '-smp', String(cpus), '-m', String(memoryMiB),
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-kernel', nestedL1.kernel, '-initrd', nestedL1.initramfs,
    // loglevel=5, not quiet: a lockup's or hung task's Call Trace is printed at the default
    // level (4), which quiet hides; boot messages are level 6 and stay off the console.
    '-append', 'console=ttyS0 loglevel=5 panic=-1 softlockup_all_cpu_backtrace=1',
    '-serial', `file:${consoleLog}`,
    '-device', 'virtio-serial-pci', '-chardev', 'stdio,id=job,signal=off', '-device', 'virtconsole,chardev=job',
    // multidevs=remap: without it the host's /proc, /sys and / collide on inode numbers.
    '-virtfs', 'local,path=/,mount_tag=host,security_model=passthrough,readonly=on,multidevs=remap',
    '-virtfs', `local,path=${jobDir},mount_tag=job,security_model=none`,
    '-device', 'virtio-rng-pci',
  ];
}

/** The job's status file, parsed; `undefined` when L1 never wrote one. */
export function parseStatus(text: string | undefined): { exitCode: number } | { reason: string } | undefined {
  if (text === undefined) return undefined;
  const line = text.trim();
  const exited = /^exit (\d+)$/.exec(line);
  if (exited !== null) return { exitCode: Number(exited[1]) };
  if (line.startsWith('error: ')) return { reason: line.slice('error: '.length) };
  return { reason: `unreadable status '${line}'` };
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function lastLines(file: string, count: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-count).join('\n');
  } catch {
    return '(no console log)';
  }
}

/** Boots L1, runs the command there, and says how it ended. Never throws for L1's failures. */
export async function runNested(options: NestedRunOptions): Promise<NestedRunResult> {
  const started = Date.now();
  const ready = nestedRunnerStatus();
  if (!ready.usable) return { kind: 'failed', reason: ready.reason ?? 'not usable', durationMs: 0, collected: {} };
  const jobDir = mkdtempSync(join(tmpdir(), 'workervisor-nested-'));
  const consoleLog = join(jobDir, 'console.log');
  const log = createWriteStream(options.logFile);
  const output = options.onOutput ?? ((chunk: Buffer) => process.stdout.write(chunk));
  try {
    writeFileSync(join(jobDir, 'job.sh'), jobScript(options));
    if (options.interactive === true) writeFileSync(join(jobDir, 'interactive'), '');
    const cpus = options.cpus ?? Math.min(4, availableParallelism());
    const args = qemuArgs(jobDir, consoleLog, cpus, options.memoryMiB ?? 8192);
    log.write(`# ${QEMU_BINARY} ${args.join(' ')}\n`);
    // Interactive: QEMU's stdio chardev puts the terminal in raw mode and restores it on exit.
    const child = spawn(QEMU_BINARY, args, { stdio: [options.interactive === true ? 'inherit' : 'ignore', options.interactive === true ? 'inherit' : 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output(chunk);
      log.write(chunk);
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    let lockup: string | undefined;
    const watcher = setInterval(() => {
      if (lockup !== undefined) return;
      lockup = lockupReport(readText(consoleLog));
      if (lockup === undefined) return;
      output(Buffer.from(`\n[workervisor] L1's kernel reports a stuck CPU (${lockupSummary(lockup)}); killing L1 in ${LOCKUP_GRACE_MS / 1000} s\n`));
      setTimeout(() => child.kill('SIGKILL'), LOCKUP_GRACE_MS).unref();
    }, LOCKUP_POLL_MS);
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    clearTimeout(timer);
    clearInterval(watcher);
    const durationMs = Date.now() - started;
    log.write(`\n# L1 console (${consoleLog}):\n${existsSync(consoleLog) ? readFileSync(consoleLog, 'utf8') : ''}`);
    const collected: Record<string, string> = {};
    for (const name of options.collect ?? []) {
      const file = join(jobDir, name);
      if (existsSync(file)) collected[name] = readFileSync(file, 'utf8');
    }
    if (exit.error !== undefined) return { kind: 'failed', reason: `cannot start ${QEMU_BINARY}: ${exit.error.message}`, durationMs, collected };
    const statusFile = join(jobDir, 'status');
    const status = parseStatus(existsSync(statusFile) ? readFileSync(statusFile, 'utf8') : undefined);
    if (status !== undefined && 'exitCode' in status) return { kind: 'exited', exitCode: status.exitCode, durationMs, collected };
    if (lockup !== undefined) {
      // The report as L1 printed it once the grace period was over (it may have grown).
      const report = lockupReport(readText(consoleLog)) ?? lockup;
      return { kind: 'failed', reason: `L1's kernel reported a stuck CPU and L1 was killed: ${lockupSummary(report)}\n${report}`, durationMs, collected, lockup: report };
    }
    const tail = `last lines of L1's console:\n${lastLines(consoleLog, 15)}`;
    if (status !== undefined) return { kind: 'failed', reason: `L1 could not run the job: ${status.reason}\n${tail}`, durationMs, collected };
    if (timedOut) return { kind: 'failed', reason: `L1 did not finish within ${options.timeoutMs} ms; killed\n${tail}`, durationMs, collected };
    const how = exit.signal !== null ? `signal ${exit.signal}` : `exit code ${exit.code}`;
    return { kind: 'failed', reason: `${QEMU_BINARY} ended (${how}) before the job finished: ${stderr.trim() || '(no stderr)'}\n${tail}`, durationMs, collected };
  } finally {
    await new Promise<void>((resolve) => log.end(resolve));
    rmSync(jobDir, { recursive: true, force: true });
  }
}
