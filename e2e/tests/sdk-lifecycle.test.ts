// Issue 4's end-to-end flow through the SDK: launch, create, boot, info, pause (the guest's counter
// stops), resume (it moves), reboot, shutdown, delete, vmm.shutdown, and the socket is gone.
import { existsSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { launch, ResponseError, type Vm } from '@workervisor/sdk';
import { describeKvm, guestPath, readGuestU32 } from '../framework/index.js';

const COUNTER_ADDR = 0x20_0004;
const COUNTER_MAGIC_ADDR = 0x20_0000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeKvm('SDK lifecycle', () => {
  let vm: Vm | undefined;
  afterEach(async () => {
    await vm?.close();
    vm = undefined;
  });

  it('drives a guest from launch to vmm.shutdown', async () => {
    vm = await launch({ serial: 'pipe' });
    const pid = vm.process.pid!;
    const socket = vm.socketPath;
    expect(existsSync(socket)).toBe(true);
    expect((await vm.ping()).pid).toBe(pid);

    await expect(vm.boot()).rejects.toMatchObject({ status: 404, serverCode: 'ERR_VMM_VM_NOT_CREATED' });
    await vm.create({ payload: { kernel: guestPath('counter.elf') }, cpus: { boot_vcpus: 2, max_vcpus: 2 }, memory: { size: 64 * 1024 * 1024 } });
    await expect(vm.create({ payload: { kernel: guestPath('counter.elf') } })).rejects.toBeInstanceOf(ResponseError);
    expect((await vm.info()).state).toBe('Created');

    await vm.boot();
    await vm.waitForSerial(/COUNTER-READY/, 15_000);
    const info = await vm.info();
    expect(info.state).toBe('Running');
    expect(info.memory_actual_size).toBe(64 * 1024 * 1024);
    expect(readGuestU32(pid, COUNTER_MAGIC_ADDR)).toBe(0xc0ffee01);
    const a = readGuestU32(pid, COUNTER_ADDR)!;
    await sleep(50);
    expect(readGuestU32(pid, COUNTER_ADDR)).not.toBe(a);

    await vm.pause();
    expect((await vm.info()).state).toBe('Paused');
    const paused = readGuestU32(pid, COUNTER_ADDR);
    await sleep(150);
    expect(readGuestU32(pid, COUNTER_ADDR)).toBe(paused);
    await expect(vm.pause()).rejects.toMatchObject({ status: 409 });

    await vm.resume();
    expect((await vm.info()).state).toBe('Running');
    await sleep(50);
    expect(readGuestU32(pid, COUNTER_ADDR)).not.toBe(paused);

    const counters = await vm.counters();
    expect(counters['com1']?.['bytesOut']).toBeGreaterThan(0);

    await vm.reboot();
    await vm.waitForSerial(/COUNTER-READY/, 15_000);
    expect((await vm.info()).state).toBe('Running');

    // The counter guest has no ACPI: the press is counted and the guest keeps running.
    await vm.powerButton();
    expect((await vm.counters())['acpi-ged']?.['powerButtonPresses']).toBe(1);
    expect((await vm.info()).state).toBe('Running');

    await vm.shutdown();
    expect((await vm.info()).state).toBe('Created');
    // The machine is gone and its guest RAM was given back at once (not at some later GC).
    expect(readGuestU32(pid, COUNTER_ADDR)).toBeUndefined();
    await vm.delete();
    await expect(vm.info()).rejects.toMatchObject({ status: 404 });

    await vm.shutdownVmm();
    const exit = await vm.exited;
    expect(exit.code).toBe(0);
    expect(existsSync(socket)).toBe(false);
  });

  it('reports a guest exit: the VMM ends with 0 when the guest resets', async () => {
    vm = await launch({ serial: 'pipe' });
    await vm.create({ payload: { kernel: guestPath('hello.elf') }, memory: { size: 64 * 1024 * 1024 } });
    await vm.boot();
    await vm.waitForSerial(/DONE hello/, 15_000);
    expect((await vm.exited).code).toBe(0);
  });
});
