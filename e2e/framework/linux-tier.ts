// Runs the Linux tier (vitest project `linux`) where this host can: directly on hardware
// KVM, inside the nested runner on a nested-PVM host, or not at all, saying why.
// `npm test` and `npm run test:linux` end with this. Extra arguments go to vitest.
// Exit status: vitest's (or the nested job's); 0 with a printed reason when skipped.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isNestedPvm, kvmStatus } from './kvm.js';
import { nestedOutDir, nestedRunnerStatus, runNested } from './nested.js';
import { repoRoot } from './paths.js';

/** The whole nested run (L1 boot + every Linux test) is killed after this. */
const NESTED_TIMEOUT_MS = Number(process.env['WORKERVISOR_NESTED_TIMEOUT_MS'] ?? 38 * 60_000);

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
  const env: Record<string, string> = { WORKERVISOR_IN_NESTED_L1: '1' };
  if (process.stdout.isTTY) env['FORCE_COLOR'] = '1';
  const result = await runNested({ command: [process.execPath, ...vitest], env, timeoutMs: NESTED_TIMEOUT_MS, logFile });
  const seconds = (result.durationMs / 1000).toFixed(1);
  if (result.kind === 'failed') {
    console.error(`[workervisor] the nested Linux tier failed after ${seconds} s: ${result.reason}`);
    return 1;
  }
  say(`nested Linux tier: exit code ${result.exitCode} after ${seconds} s (L1 boot included)`);
  return result.exitCode;
}

process.exitCode = await main(process.argv.slice(2));
