// Runs the Linux tier (vitest project `linux`) where this host can: directly on hardware
// KVM, inside the nested runner on a nested-PVM host, or not at all, saying why.
// `npm test` and `npm run test:linux` end with this. Extra arguments go to vitest.
// Exit status: vitest's (or the nested job's); 0 with a printed reason when skipped.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isNestedPvm, kvmStatus } from './kvm.js';
import { lockupSummary } from './l1-console.js';
import { nestedOutDir, nestedRunnerStatus, runNested } from './nested.js';
import { repoRoot } from './paths.js';
import { parseProgress, remainingFiles } from './tier-progress.js';

/** The whole nested run (L1 boot + every Linux test) is killed after this. */
const NESTED_TIMEOUT_MS = Number(process.env['WORKERVISOR_NESTED_TIMEOUT_MS'] ?? 38 * 60_000);
/** How many times a locked-up L1 is replaced by a fresh one for the files left to run. */
const MAX_L1_RESTARTS = 2;
/** The progress reporter's file in the job directory. */
const PROGRESS_FILE = 'progress.jsonl';

function say(message: string): void {
  console.log(`[workervisor] ${message}`);
}

async function main(vitestArgs: readonly string[]): Promise<number> {
  // Verbose, not the default reporter: inside L1 the output is a console tty, where the default
  // reporter would redraw its status lines many times a second.
  const vitest = [join(repoRoot, 'node_modules/vitest/vitest.mjs'), 'run', '--project', 'linux', '--reporter=verbose', ...vitestArgs];
  const kvm = kvmStatus();
  if (!kvm.usable) {
    say(`skipping the Linux tier: ${kvm.reason ?? '/dev/kvm unusable'}`);
    return 0;
  }
  if (!isNestedPvm()) {
    say('Linux tier: hardware KVM, running it directly');
    const run = spawnSync(process.execPath, vitest, { cwd: repoRoot, stdio: 'inherit' });
    return run.status ?? 1;
  }
  const nested = nestedRunnerStatus();
  if (!nested.usable) {
    say(`skipping the Linux tier: /dev/kvm is nested PVM and the nested runner cannot run: ${nested.reason ?? ''}`);
    return 0;
  }
  mkdirSync(nestedOutDir, { recursive: true });
  const logFile = join(nestedOutDir, 'last-run.log');
  say(`Linux tier: /dev/kvm is nested PVM; running it inside the nested KVM (QEMU TCG L1), log in ${logFile}`);
  // A restart reruns the files left by name, which only composes with a run of the whole tier.
  return runInL1(vitest, logFile, vitestArgs.length === 0 ? MAX_L1_RESTARTS : 0);
}

/**
 * The Linux tier inside L1. When L1's kernel locks up (its CPUs stuck in a static-key patch under
 * TCG, which L1's KVM holder should now prevent: e2e/nested/README.md), L1 is killed and
 * the test files that had not finished run again in a fresh L1, at most MAX_L1_RESTARTS times
 * and within the same overall time limit. A file that finished keeps its result; the file that
 * was running when L1 stopped runs again from its start. Every lockup is printed with L1's
 * kernel report, and the final line says how many there were.
 */
async function runInL1(vitest: readonly string[], logFile: string, maxRestarts: number): Promise<number> {
  const deadline = Date.now() + NESTED_TIMEOUT_MS;
  const env: Record<string, string> = { WORKERVISOR_IN_NESTED_L1: '1', WORKERVISOR_TIER_PROGRESS: `/nested-job/${PROGRESS_FILE}` };
  if (process.stdout.isTTY) env['FORCE_COLOR'] = '1';
  const reporter = ['--reporter', join(repoRoot, 'e2e/dist/framework/progress-reporter.js')];
  const lockups: string[] = [];
  const failedEarlier: string[] = [];
  let files: string[] = [];
  for (let attempt = 0; ; attempt += 1) {
    const attemptLog = attempt === 0 ? logFile : logFile.replace(/\.log$/, `.restart-${attempt}.log`);
    const result = await runNested({ command: [process.execPath, ...vitest, ...reporter, ...files], env, timeoutMs: Math.max(60_000, deadline - Date.now()), logFile: attemptLog, collect: [PROGRESS_FILE] });
    const seconds = (result.durationMs / 1000).toFixed(1);
    const progress = parseProgress(result.collected[PROGRESS_FILE] ?? '');
    for (const [file, state] of progress.finished) if (state === 'failed') failedEarlier.push(file);
    if (result.kind === 'exited') {
      const restarts = lockups.length === 0 ? '' : `; L1 locked up ${lockups.length} time(s) and was restarted (${lockups.join('; ')})`;
      say(`nested Linux tier: exit code ${result.exitCode} after ${seconds} s (L1 boot included)${restarts}`);
      if (result.exitCode === 0 && failedEarlier.length > 0) say(`failed before a restart: ${failedEarlier.join(', ')}`);
      return result.exitCode !== 0 ? result.exitCode : failedEarlier.length > 0 ? 1 : 0;
    }
    const remaining = remainingFiles(progress);
    if (result.lockup === undefined || attempt >= maxRestarts || progress.planned.length === 0 || remaining.length === 0 || Date.now() > deadline - 120_000) {
      console.error(`[workervisor] the nested Linux tier failed after ${seconds} s: ${result.reason}`);
      return 1;
    }
    lockups.push(`${lockupSummary(result.lockup)} during ${progress.unfinished.join(', ') || 'no test file'}`);
    console.error(`[workervisor] ${result.reason}`);
    console.error(`[workervisor] L1 locked up during ${progress.unfinished.join(', ') || 'no test file'}: restarting L1 for the ${remaining.length} test file(s) that had not finished (restart ${attempt + 1} of at most ${maxRestarts}); log in ${logFile.replace(/\.log$/, `.restart-${attempt + 1}.log`)}`);
    files = remaining;
  }
}

process.exitCode = await main(process.argv.slice(2));
