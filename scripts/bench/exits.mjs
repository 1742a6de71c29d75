// PIO exit cost by where the access is handled: in C inside the vCPU thread, in the vCPU worker's
// JS, or forwarded to the core's bus (what production does). Measured in steady state: the guest
// loops on port writes far longer than the window, and the cost per exit is the window's wall
// (and process CPU) time over the accesses completed in it. Boot, worker start-up and teardown
// stay outside the window: their run-to-run jitter (tens of ms) swamped the old n1/n2 difference.
import { buildMachine } from '@workervisor/vmm-core';
import { hrUs, round } from './stats.mjs';

const BENCH_PORT = 0x81;
/** More writes than any window sees: the VM is closed mid-loop. */
const LOOP_WRITES = 1_000_000_000;

async function windowOnce(kernel, handling, { warmupMs, windowMs }) {
  const m = await buildMachine(
    { vcpus: 1, memoryBytes: 64 << 20, kernel, cmdline: `n=${LOOP_WRITES}`, serial: { kind: 'off' } },
    { reset() {}, powerOff() {}, panic() {} },
  );
  let coreCount = 0;
  m.parts.devices.pio.insert({ read: (_o, d) => d.fill(0), write: () => void coreCount++ }, BENCH_PORT, 1, 'bench-sink');
  await m.vcpus[0].setPortHandling(BENCH_PORT, handling);
  // The baselines complete the accesses in the vCPU worker (vcpu-worker protocol.ts PortHandling).
  const handled = async () => (handling === 'forward' ? coreCount : (await m.vcpuStats())[0].baselineAccesses);
  try {
    await m.resume();
    await new Promise((r) => setTimeout(r, warmupMs));
    const n0 = await handled();
    const cpu0 = process.cpuUsage();
    const t0 = hrUs();
    await new Promise((r) => setTimeout(r, windowMs));
    const n1 = await handled();
    const wallUs = hrUs() - t0;
    const cpu = process.cpuUsage(cpu0);
    const n = n1 - n0;
    if (n <= 0) throw new Error(`${handling}: no accesses completed in the window`);
    return { wall: wallUs / n, user: cpu.user / n, sys: cpu.system / n };
  } finally {
    await m.close();
  }
}

/** Rounds alternate the three handlings, so each round's figures share the host's load; medians are reported. */
export async function benchExits(kernel, { rounds = 3, warmupMs = 300, windowMs = 1_000 } = {}) {
  const handlings = ['native', 'worker', 'forward'];
  const per = Object.fromEntries(handlings.map((h) => [h, { wall: [], user: [], sys: [] }]));
  const ratios = { forward_over_worker: [], forward_over_c: [], worker_over_c: [] };
  for (let r = 0; r < rounds; r++) {
    const got = {};
    for (const h of handlings) {
      got[h] = await windowOnce(kernel, h, { warmupMs, windowMs });
      for (const k of ['wall', 'user', 'sys']) per[h][k].push(got[h][k]);
    }
    ratios.forward_over_worker.push(got.forward.wall / got.worker.wall);
    ratios.forward_over_c.push(got.forward.wall / got.native.wall);
    ratios.worker_over_c.push(got.worker.wall / got.native.wall);
  }
  const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const out = {};
  for (const h of handlings) {
    out[h] = { wall_us_per_exit: round(med(per[h].wall)), user_cpu_us_per_exit: round(med(per[h].user)), sys_cpu_us_per_exit: round(med(per[h].sys)) };
  }
  // Each ratio is taken within one round (the same few seconds of host load), then the median.
  out.ratios = {
    forward_over_worker_wall: round(med(ratios.forward_over_worker)),
    forward_over_c_wall: round(med(ratios.forward_over_c)),
    worker_js_over_c_wall: round(med(ratios.worker_over_c)),
    forward_minus_worker_wall_us: round(out.forward.wall_us_per_exit - out.worker.wall_us_per_exit),
  };
  out.rounds = rounds;
  return out;
}
