// createVmm(): the VMM core in a worker thread of the test process, over comlink. The same
// lifecycle as launch()'s Vm, with typed errors, and a guest exit reported instead of ending the
// process. The counter guest spins (so pause/resume mean something); hello powers off.
import { afterEach, expect, it } from 'vitest';
import { createVmm, type InProcessVmm } from '@workervisor/sdk';
import { describeKvm, guestPath } from '../framework/index.js';

describeKvm('in-process VMM (createVmm)', () => {
  let vmm: InProcessVmm | undefined;
  afterEach(async () => {
    await vmm?.close();
    vmm = undefined;
  });

  it('creates, boots, pauses, resumes and shuts down a VM in a worker thread', async () => {
    vmm = await createVmm();
    expect((await vmm.ping()).pid).toBe(process.pid);
    await expect(vmm.boot()).rejects.toMatchObject({ code: 'ERR_VMM_VM_NOT_CREATED' });
    await vmm.create({ payload: { kernel: guestPath('counter.elf') }, memory: { size: 64 << 20 }, serial: { mode: 'Off' } });
    expect((await vmm.info()).state).toBe('Created');
    await vmm.boot();
    expect((await vmm.info()).state).toBe('Running');
    await vmm.pause();
    await expect(vmm.pause()).rejects.toMatchObject({ code: 'ERR_VMM_VM_ALREADY_PAUSED' });
    await vmm.resume();
    expect(Object.keys(await vmm.counters())).toContain('com1');
    await vmm.shutdown();
    expect((await vmm.info()).state).toBe('Created');
    await expect(vmm.exec('true')).rejects.toMatchObject({ code: 'ERR_VMM_AGENT_UNAVAILABLE_NO_CONNECTION' });
  });

  it('reports a guest power-off on `exited` and keeps this process running', async () => {
    vmm = await createVmm();
    await vmm.create({ payload: { kernel: guestPath('hello.elf') }, memory: { size: 64 << 20 }, serial: { mode: 'Off' } });
    await vmm.boot();
    expect(await vmm.exited).toBe(0);
  });
});
