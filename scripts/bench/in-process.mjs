// Start-up of a VMM in this process (createVmm: a worker thread over comlink) vs a child process
// (launch), each from the call to the guest's power-off, on the hello guest (prints, powers off).
import { createVmm, launch } from '@workervisor/sdk';
import { hrUs, round, summary } from './stats.mjs';

async function inProcess(kernel) {
  const t0 = hrUs();
  const vmm = await createVmm();
  await vmm.create({ payload: { kernel }, memory: { size: 64 << 20 }, serial: { mode: 'Off' } });
  await vmm.boot();
  const code = await vmm.exited;
  const us = hrUs() - t0;
  await vmm.close();
  if (code !== 0) throw new Error(`in-process: the guest ended with ${code}`);
  return us;
}

async function childProcess(kernel) {
  const t0 = hrUs();
  const vm = await launch({ kernel, memory: '64M', serial: 'off' });
  const exit = await vm.exited;
  const us = hrUs() - t0;
  await vm.close();
  if (exit.code !== 0) throw new Error(`child process: the VMM ended with ${exit.code}`);
  return us;
}

export async function benchInProcess(kernel, { rounds = 5 } = {}) {
  // One warm-up each: the first createVmm also loads the SDK's and the core's modules here.
  await inProcess(kernel);
  await childProcess(kernel);
  const a = [];
  const b = [];
  for (let i = 0; i < rounds; i++) {
    a.push(await inProcess(kernel));
    b.push(await childProcess(kernel));
  }
  const inP = summary(a);
  const child = summary(b);
  return { in_process_call_to_poweroff: inP, child_process_call_to_poweroff: child, ratio_in_over_child_p50: round(inP.p50_us / child.p50_us) };
}
