// Linux boot time, Workervisor vs QEMU-KVM on the same guest in the same run: process start ->
// /init's GUEST-READY line, and -> the VMM's exit after `poweroff -f`, with `quiet` and with the
// full kernel console. Needs a real /dev/kvm (hardware, or the nested runner's L1): on a
// nested-PVM host, benchLinuxBoot() runs this file inside the nested runner and parses its JSON.
// Run by hand: `node scripts/bench/linux-boot.mjs [rounds]` prints the JSON (inside L1: via
// `npm run nested -- node scripts/bench/linux-boot.mjs`).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { benchInNested } from './in-nested.mjs';
import { median, round } from './stats.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
// The framework's VMM-neutral modules only: its index also loads vitest, which needs a test run.
const framework = `${root}e2e/dist/framework/linux-vmm.js`;
const loadFramework = async () => ({
  ...(await import(framework)),
  ...(await import(`${root}e2e/dist/framework/linux.js`)),
});
const MARK = 'LINUX-BOOT-BENCH-JSON ';

async function bootOnce(fw, vmm, verbose) {
  // The full console: the tests' command line without `quiet` (every kernel message on COM1).
  const boot = { cpus: 1, memoryMiB: 256, ...(verbose ? { cmdline: fw.LINUX_CMDLINE.replace(' quiet', '') } : {}) };
  const t0 = performance.now();
  const vm = vmm.spawn(boot);
  try {
    await vm.expectSerial(fw.GUEST_READY, { timeoutMs: 900_000 });
    const ready = performance.now() - t0;
    await vm.expectSerial(fw.GUEST_PROMPT, { timeoutMs: 60_000 });
    vm.writeSerial('poweroff -f\n');
    await vm.waitExit(60_000);
    return { ready_ms: round(ready, 0), exit_ms: round(performance.now() - t0, 0), console_chars: vm.serial.length };
  } catch (err) {
    return { error: String(err.message ?? err).split('\n')[0] };
  } finally {
    await vm.kill();
  }
}

/** Runs the boots here (needs usable, non-PVM KVM); rounds alternate ours and QEMU's. */
export async function measureLinuxBoot(rounds = 2) {
  const fw = await loadFramework();
  const result = {};
  for (const verbose of [false, true]) {
    const key = verbose ? 'full_console' : 'quiet';
    const runs = { workervisor: [], 'qemu-kvm': [] };
    for (let i = 0; i < rounds; i++) {
      for (const vmm of [fw.workervisorVmm, fw.qemuKvmVmm]) runs[vmm.name].push(await bootOnce(fw, vmm, verbose));
    }
    const ours = median(runs.workervisor.map((r) => r.ready_ms));
    const qemu = median(runs['qemu-kvm'].map((r) => r.ready_ms));
    result[key] = { runs, ready_ms_median: { workervisor: ours, 'qemu-kvm': qemu }, ratio_ready: round(ours / qemu, 2) };
  }
  return result;
}

/** `npm run bench`'s entry: directly on hardware KVM, inside the nested runner on PVM. */
export function benchLinuxBoot(rounds = 2) {
  return benchInNested({ needs: framework, measure: () => measureLinuxBoot(rounds), file: fileURLToPath(import.meta.url), args: [rounds], mark: MARK, log: 'bench-linux-boot.log' });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await measureLinuxBoot(Number(process.argv[2] ?? 2));
  console.log(`${MARK}${JSON.stringify(result)}`);
}
