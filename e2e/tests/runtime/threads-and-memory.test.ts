// The runtime's core promises, checked in-process: one worker thread per vCPU running KVM_RUN,
// guest RAM shared by the core and every worker through one SharedArrayBuffer.
import { threadId } from 'node:worker_threads';
import { afterEach, expect, it } from 'vitest';
import { currentTid } from '@workervisor/native';
import { bootMachine, describeKvm, guestPath, type TestMachine } from '../../framework/index.js';

const COUNTER_MAGIC_ADDR = 0x20_0000;
const COUNTER_MAGIC = 0xc0ffee01;

describeKvm('vCPU threads and shared guest memory', () => {
  let vm: TestMachine | undefined;
  afterEach(async () => {
    await vm?.close();
    vm = undefined;
  });

  it('runs each vCPU in KVM_RUN on its own worker thread, none on the main thread', async () => {
    vm = await bootMachine(guestPath('smp.elf'), { vcpus: 4, cmdline: 'cpus=4' });
    await vm.waitSerial(/SMP OK cpus=4/);
    const stats = await vm.machine.vcpuStats();
    expect(stats).toHaveLength(4);
    const tids = stats.map((s) => s.tid);
    expect(new Set(tids).size).toBe(4);
    expect(tids).not.toContain(currentTid());
    expect(tids.every((t) => t > 0)).toBe(true);
    const workerThreads = stats.map((s) => s.threadId);
    expect(new Set(workerThreads).size).toBe(4);
    expect(workerThreads).not.toContain(threadId);
    // Every vCPU entered KVM_RUN at least once (the APs after their SIPI).
    expect(stats.every((s) => s.runs > 0)).toBe(true);
    const ids = [...vm.serial().matchAll(/CPU (\d+) online/g)].map((m) => Number(m[1]));
    expect(new Set(ids)).toEqual(new Set([0, 1, 2, 3]));
  });

  it('shows a word the guest wrote to the core and to every worker through the same SharedArrayBuffer', async () => {
    vm = await bootMachine(guestPath('counter.elf'), { vcpus: 3 });
    await vm.waitSerial(/COUNTER-READY/);
    const mem = vm.machine.parts.memory;
    expect(mem.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(mem.readU32(COUNTER_MAGIC_ADDR)).toBe(COUNTER_MAGIC);
    for (const vcpu of vm.machine.vcpus) {
      const bytes = await vcpu.readMemory(COUNTER_MAGIC_ADDR, 4);
      expect(new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true)).toBe(COUNTER_MAGIC);
    }
    // And the other way: a word the core writes is what a worker reads.
    mem.writeU32(COUNTER_MAGIC_ADDR + 0x100, 0x1234_5678);
    const back = await vm.machine.vcpus[2]!.readMemory(COUNTER_MAGIC_ADDR + 0x100, 4);
    expect(Array.from(back)).toEqual([0x78, 0x56, 0x34, 0x12]);
  });

  it('refuses to read outside guest RAM from a worker', async () => {
    vm = await bootMachine(guestPath('counter.elf'));
    await expect(vm.machine.vcpus[0]!.readMemory(0xc000_0000, 4)).rejects.toThrow(/outside guest RAM/);
  });
});
