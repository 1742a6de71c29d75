// A Linux guest from a snapshot vs booted: process start -> the guest's shell answers a command,
// Workervisor only (the figure issue 11 is about: sandboxes and test runners restore a booted VM
// instead of booting it). The snapshot is taken once at the shell prompt (1 vCPU, 256 MiB); rounds
// alternate a boot and a restore (`vm.restore` with resume into a fresh VMM process). Needs a real
// /dev/kvm: on a nested-PVM host benchLinuxRestore() runs this file inside the nested runner.
// By hand: `node scripts/bench/linux-restore.mjs [rounds]`.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { round } from './stats.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dist = `${root}e2e/dist/framework`;
const loadFramework = async () => ({
  ...(await import(`${dist}/linux-vmm.js`)),
  ...(await import(`${dist}/microvm.js`)),
  ...(await import(`${dist}/paths.js`)),
  ...(await import(`${dist}/nested.js`)),
  ...(await import(`${dist}/guest-shell.js`)),
  ...(await import(`${root}packages/sdk/dist/index.js`)),
});
const MARK = 'LINUX-RESTORE-BENCH-JSON ';
const API_TIMEOUT_MS = 300_000;

async function waitForApi(client, vm) {
  const deadline = Date.now() + API_TIMEOUT_MS;
  for (;;) {
    if (vm.exitStatus !== undefined) throw new Error(`the VMM exited before its API answered: ${vm.stderr.slice(-500)}`);
    try {
      return await client.ping();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(50);
    }
  }
}

/** Boots, waits for the prompt, pauses and snapshots into `dir`; the VMM is killed after. */
async function takeSnapshot(fw, dir) {
  const api = join(dir, 'source.sock');
  const vm = fw.workervisorVmm.spawn({ cpus: 1, memoryMiB: 256, apiSocket: api });
  const client = fw.connect(api, { timeoutMs: API_TIMEOUT_MS });
  try {
    await fw.waitReady(vm, 'workervisor restore bench');
    await fw.guestCheck(vm, 'echo snapshot-taken > /tmp/marker');
    await client.pause();
    const t0 = performance.now();
    await client.snapshot(join(dir, 'snap'));
    return round(performance.now() - t0, 0);
  } finally {
    client.close();
    await vm.kill();
  }
}

async function bootOnce(fw) {
  const t0 = performance.now();
  const vm = fw.workervisorVmm.spawn({ cpus: 1, memoryMiB: 256 });
  try {
    await fw.waitReady(vm, 'workervisor boot');
    await fw.guestCheck(vm, 'true');
    return round(performance.now() - t0, 0);
  } finally {
    await vm.kill();
  }
}

async function restoreOnce(fw, dir, i) {
  const api = join(dir, `restore-${i}.sock`);
  const t0 = performance.now();
  const vm = fw.Microvm.spawnCommand(process.execPath, [fw.cliPath, `--api-socket=${api}`]);
  const client = fw.connect(api, { timeoutMs: API_TIMEOUT_MS });
  try {
    await waitForApi(client, vm);
    const apiUp = performance.now() - t0;
    await client.restore({ source_url: fw.snapshotUrl(join(dir, 'snap')), resume: true });
    const restored = performance.now() - t0;
    // The restored shell sits at its prompt: a command (and the marker written before the snapshot) answers.
    if ((await fw.guestCheck(vm, 'cat /tmp/marker')) !== 'snapshot-taken') throw new Error('the restored guest lost /tmp/marker');
    return { api_ms: round(apiUp, 0), restored_ms: round(restored, 0), shell_ms: round(performance.now() - t0, 0) };
  } finally {
    client.close();
    await vm.kill();
  }
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
};

/** Runs here (needs usable, non-PVM KVM). */
export async function measureLinuxRestore(rounds = 3) {
  const fw = await loadFramework();
  const dir = mkdtempSync(join(tmpdir(), 'workervisor-restore-bench-'));
  try {
    const snapshotMs = await takeSnapshot(fw, dir);
    const boots = [];
    const restores = [];
    for (let i = 0; i < rounds; i++) {
      boots.push(await bootOnce(fw).catch((err) => ({ error: String(err.message ?? err).split('\n')[0] })));
      restores.push(await restoreOnce(fw, dir, i).catch((err) => ({ error: String(err.message ?? err).split('\n')[0] })));
    }
    const boot = median(boots);
    const restore = median(restores.map((r) => r.shell_ms));
    return { snapshot_ms: snapshotMs, boots_ms: boots, restores, to_shell_ms_median: { boot, restore }, ratio_restore_of_boot: round(restore / boot, 3) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `npm run bench`'s entry: directly on hardware KVM, inside the nested runner on PVM. */
export async function benchLinuxRestore(rounds = 3) {
  if (!existsSync(`${dist}/guest-shell.js`)) return { skipped: 'e2e is not built (npm run build)' };
  if (!existsSync('/sys/module/kvm_pvm')) return { where: 'this host', ...(await measureLinuxRestore(rounds)) };
  const fw = await loadFramework();
  const ready = fw.nestedRunnerStatus();
  if (!ready.usable) return { skipped: `nested PVM host and no nested runner: ${ready.reason}` };
  let output = '';
  const run = await fw.runNested({
    command: [process.execPath, fileURLToPath(import.meta.url), String(rounds)],
    timeoutMs: 60 * 60_000,
    logFile: `${fw.nestedOutDir}/bench-linux-restore.log`,
    onOutput: (chunk) => (output += chunk.toString('utf8')),
  });
  const line = output.split('\n').find((l) => l.startsWith(MARK));
  if (run.kind === 'failed' || line === undefined) return { error: run.kind === 'failed' ? run.reason : `no result line; output: ${output.slice(-500)}` };
  return { where: 'nested KVM (L1 under QEMU TCG)', ...JSON.parse(line.slice(MARK.length)) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(MARK + JSON.stringify(await measureLinuxRestore(Number(process.argv[2]) || 3)));
}
