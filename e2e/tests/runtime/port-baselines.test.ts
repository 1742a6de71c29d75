// The benchmark's port-handling baselines (scripts/bench/exits.mjs): accesses to one port completed
// in the vCPU worker's JS or in C inside KVM_RUN's loop, and production forwarding every access to
// the core's bus, where no baseline counts anything.
import { afterEach, expect, it } from 'vitest';
import { buildMachine, type Machine } from '@workervisor/vmm-core';
import type { PortHandling } from '@workervisor/vcpu-worker';
import { describeKvm, guestPath } from '../../framework/index.js';

/** The port pio-bench.elf writes `n` times (scripts/bench/exits.mjs). */
const BENCH_PORT = 0x81;
const N = 300;

describeKvm('port-handling baselines', () => {
  let machine: Machine | undefined;
  afterEach(async () => {
    await machine?.close();
    machine = undefined;
  });

  it.each<PortHandling>(['forward', 'worker', 'native'])('completes every access with %s handling, counted where it happened', async (handling) => {
    let done!: () => void;
    const exited = new Promise<void>((resolve) => (done = resolve));
    machine = await buildMachine(
      { vcpus: 1, memoryBytes: 64 << 20, kernel: guestPath('pio-bench.elf'), cmdline: `n=${N}`, serial: { kind: 'off' } },
      { reset: () => done(), powerOff: () => done(), panic: () => done() },
    );
    machine.onGuestExit(() => done());
    let atCore = 0;
    machine.parts.devices.pio.insert({ read: (_o: number, d: Uint8Array) => d.fill(0), write: () => void atCore++ }, BENCH_PORT, 1, 'bench-sink');
    await machine.vcpus[0]!.setPortHandling(BENCH_PORT, handling);
    await machine.resume();
    await exited;
    const [stats] = await machine.vcpuStats();
    expect(handling === 'forward' ? atCore : stats!.baselineAccesses).toBe(N);
    expect(handling === 'forward' ? stats!.baselineAccesses : atCore).toBe(0);
  });
});
