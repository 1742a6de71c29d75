// Vitest globalSetup of the e2e project: builds the test guests once per run
// (`bash e2e/guests/build.sh`). WORKERVISOR_SKIP_GUEST_BUILD=1 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

const BUILD_SCRIPT = 'e2e/guests/build.sh';

export default function setup(): void {
  if (process.env['WORKERVISOR_SKIP_GUEST_BUILD'] === '1') {
    console.warn(`[workervisor] WORKERVISOR_SKIP_GUEST_BUILD=1: not running ${BUILD_SCRIPT}`);
    return;
  }
  if (!existsSync(join(repoRoot, BUILD_SCRIPT))) {
    console.warn(`[workervisor] ${BUILD_SCRIPT} does not exist yet: test guests not built`);
    return;
  }
  const result = spawnSync('bash', [BUILD_SCRIPT], { cwd: repoRoot, stdio: 'inherit' });
  if (result.error !== undefined) {
    throw new Error(`cannot run bash ${BUILD_SCRIPT}: ${result.error.message}`);
  }
  if (result.status !== 0) {
    const how = result.signal !== null ? `signal ${result.signal}` : `exit code ${result.status}`;
    throw new Error(`bash ${BUILD_SCRIPT} failed (${how}); the e2e tier needs the test guests`);
  }
}
