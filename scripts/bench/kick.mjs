// Kick latency: how long a control request takes to reach a vCPU spinning in ring 3 and come
// back on its reply port (post + kick out of KVM_RUN + drain + reply).
import { buildMachine } from '@workervisor/vmm-core';
import { hrUs, summary } from './stats.mjs';

export async function benchKick(kernel, { samples = 200 } = {}) {
  const m = await buildMachine({ vcpus: 1, memoryBytes: 64 << 20, kernel, cmdline: '', serial: { kind: 'off' } }, { reset() {}, powerOff() {}, panic() {} });
  await m.resume();
  await new Promise((r) => setTimeout(r, 200));
  const v = m.vcpus[0];
  const stats = [];
  const pauseResume = [];
  for (let i = 0; i < samples; i++) {
    let t = hrUs();
    await v.stats();
    stats.push(hrUs() - t);
    t = hrUs();
    await v.pause();
    pauseResume.push(hrUs() - t);
    await v.resume();
  }
  await m.close();
  return { request_roundtrip_running: summary(stats), pause_roundtrip: summary(pauseResume) };
}
