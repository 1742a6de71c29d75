// A Linux guest from a snapshot vs booted: process start -> the guest's shell answers a command,
// Workervisor only (the figure issue 11 is about: sandboxes and test runners restore a booted VM
// instead of booting it). The snapshot is taken once at the shell prompt (1 vCPU, 256 MiB); rounds
// alternate a boot and a restore (`vm.restore` with resume into a fresh VMM process). Needs a real
// /dev/kvm: on a nested-PVM host benchLinuxRestore() runs this file inside the nested runner.
// By hand: `node scripts/bench/linux-restore.mjs [rounds]`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { benchInNested } from './in-nested.mjs';
import { median, round } from './stats.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dist = `${root}e2e/dist/framework`;
const loadFramework = async () => ({
  ...(await import(`${dist}/linux-vmm.js`)),
  ...(await import(`${dist}/microvm.js`)),
  ...(await import(`${dist}/paths.js`)),
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
export function benchLinuxRestore(rounds = 3) {
  return benchInNested({ needs: `${dist}/guest-shell.js`, measure: () => measureLinuxRestore(rounds), file: fileURLToPath(import.meta.url), args: [rounds], mark: MARK, log: 'bench-linux-restore.log' });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(MARK + JSON.stringify(await measureLinuxRestore(Number(process.argv[2]) || 3)));
}
