// PIO exit cost by where the access is handled: in C inside the vCPU thread, in the vCPU worker's
// JS, or forwarded to the core's bus through the exit mailbox (what production does).
// Per-exit cost = (T(n2) - T(n1)) / (n2 - n1): fixed boot costs cancel out.
import { buildMachine } from '@workervisor/vmm-core';
import { hrUs, round } from './stats.mjs';

const BENCH_PORT = 0x81;

async function runOnce(kernel, n, handling) {
  let done;
  const exited = new Promise((r) => (done = r));
  const m = await buildMachine(
    { vcpus: 1, memoryBytes: 64 << 20, kernel, cmdline: `n=${n}`, serial: { kind: 'off' } },
    { reset: () => done(), powerOff: () => done(), panic: () => done() },
  );
  m.onGuestExit(() => done());
  let coreCount = 0;
  m.parts.devices.pio.insert({ read: (_o, d) => d.fill(0), write: () => void coreCount++ }, BENCH_PORT, 1, 'bench-sink');
  await m.vcpus[0].setPortHandling(BENCH_PORT, handling);
  const cpu0 = process.cpuUsage();
  const t0 = hrUs();
  await m.resume();
  await exited;
  const wallUs = hrUs() - t0;
  const cpu = process.cpuUsage(cpu0);
  const [stats] = await m.vcpuStats();
  await m.close();
  // The baselines complete the accesses in the vCPU worker (vcpu-worker protocol.ts PortHandling).
  const handled = handling === 'forward' ? coreCount : stats.baselineAccesses;
  if (handled !== n) throw new Error(`${handling}: expected ${n} accesses handled, saw ${handled}`);
  return { wallUs, userUs: cpu.user, sysUs: cpu.system };
}

export async function benchExits(kernel, { n1 = 2_000, n2 = 12_000, rounds = 3 } = {}) {
  const out = {};
  for (const handling of ['native', 'worker', 'forward']) {
    const per = { wall: [], user: [], sys: [] };
    for (let r = 0; r < rounds; r++) {
      const a = await runOnce(kernel, n1, handling);
      const b = await runOnce(kernel, n2, handling);
      const d = n2 - n1;
      per.wall.push((b.wallUs - a.wallUs) / d);
      per.user.push((b.userUs - a.userUs) / d);
      per.sys.push((b.sysUs - a.sysUs) / d);
    }
    const med = (xs) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    out[handling] = { wall_us_per_exit: round(med(per.wall)), user_cpu_us_per_exit: round(med(per.user)), sys_cpu_us_per_exit: round(med(per.sys)) };
  }
  out.ratios = {
    worker_js_over_c_wall: round(out.worker.wall_us_per_exit / out.native.wall_us_per_exit),
    forward_over_c_wall: round(out.forward.wall_us_per_exit / out.native.wall_us_per_exit),
    worker_js_minus_c_user_us: round(out.worker.user_cpu_us_per_exit - out.native.user_cpu_us_per_exit),
    forward_minus_c_user_us: round(out.forward.user_cpu_us_per_exit - out.native.user_cpu_us_per_exit),
    forward_minus_worker_wall_us: round(out.forward.wall_us_per_exit - out.worker.wall_us_per_exit),
  };
  return out;
}
