// Time to a usable VM by cold boot vs by snapshot restore, on the counter guest: from the SDK call
// (launch() with a kernel, or restore(dir), both spawning a fresh VMM process) to the guest's first
// COUNT line, which a booted guest prints once it is counting and a restored one once it counts on
// after the resume; and the same with the VMM process already up (vm.create + vm.boot vs
// vm.restore with resume, from the request to the first COUNT line), which leaves out node's and
// the VMM's start-up. Also the snapshot's time and its memory file's size (sparse).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, restore } from '@workervisor/sdk';
import { hrUs, round, summary } from './stats.mjs';

/** A COUNT line every 200 000 counts: a few ms of guest time, so "first output" is when it runs. */
const CMDLINE = 'print-every=200000';
const COUNT_LINE = /COUNT \d+/;
const MEMORY = '256M';

async function boot(kernel) {
  const t0 = hrUs();
  const vm = await launch({ kernel, cmdline: CMDLINE, memory: MEMORY });
  try {
    await vm.waitForSerial(COUNT_LINE);
    return hrUs() - t0;
  } finally {
    await vm.kill();
  }
}

async function restored(dir) {
  const t0 = hrUs();
  const vm = await restore(dir);
  try {
    await vm.waitForSerial(COUNT_LINE);
    return hrUs() - t0;
  } finally {
    await vm.kill();
  }
}

/** In a VMM already up: `build(vm)` (boot or restore requests), then the first COUNT line. */
async function inStartedVmm(build) {
  const vm = await launch();
  try {
    const t0 = hrUs();
    await build(vm);
    await vm.waitForSerial(COUNT_LINE);
    return hrUs() - t0;
  } finally {
    await vm.kill();
  }
}

const bootRequests = (kernel) => async (vm) => {
  await vm.create({ payload: { kernel, cmdline: CMDLINE }, memory: { size: 256 << 20 } });
  await vm.boot();
};
const restoreRequest = (dir) => (vm) => vm.restore({ source_url: `file://${dir}`, resume: true });

export async function benchSnapshot(kernel, { rounds = 5 } = {}) {
  const work = mkdtempSync(join(tmpdir(), 'workervisor-bench-snap-'));
  try {
    const dir = join(work, 'snap');
    const source = await launch({ kernel, cmdline: CMDLINE, memory: MEMORY });
    let snapshotUs;
    try {
      await source.waitForSerial(COUNT_LINE);
      await source.pause();
      const t0 = hrUs();
      await source.snapshot(dir);
      snapshotUs = hrUs() - t0;
    } finally {
      await source.kill();
    }
    const memory = statSync(join(dir, 'memory.bin'));
    // One warm-up each (page cache, module loads), then alternating rounds.
    await boot(kernel);
    await restored(dir);
    const b = [];
    const r = [];
    const vb = [];
    const vr = [];
    for (let i = 0; i < rounds; i++) {
      b.push(await boot(kernel));
      r.push(await restored(dir));
      vb.push(await inStartedVmm(bootRequests(kernel)));
      vr.push(await inStartedVmm(restoreRequest(dir)));
    }
    const bootSummary = summary(b);
    const restoreSummary = summary(r);
    const vmBoot = summary(vb);
    const vmRestore = summary(vr);
    return {
      guest: `counter.elf ${CMDLINE}, ${MEMORY}`,
      snapshot_us: round(snapshotUs),
      memory_file_bytes: memory.size,
      memory_file_allocated_bytes: memory.blocks * 512,
      boot_call_to_first_output: bootSummary,
      restore_call_to_first_output: restoreSummary,
      ratio_restore_over_boot_p50: round(restoreSummary.p50_us / bootSummary.p50_us),
      started_vmm_create_boot_to_first_output: vmBoot,
      started_vmm_restore_to_first_output: vmRestore,
      started_vmm_ratio_restore_over_boot_p50: round(vmRestore.p50_us / vmBoot.p50_us),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
