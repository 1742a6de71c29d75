// Issue 11 through the SDK: vm.snapshot(dir) of a launched counter guest (refused while it runs,
// or paused and resumed around the snapshot with { pause: true }), restore(dir) and
// launch({ restore }) giving a running Vm that counts on, and createVmm().restore(dir) in-process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createVmm, launch, restore, type InProcessVmm, type Vm } from '@workervisor/sdk';
import { describeKvm, guestPath } from '../framework/index.js';
import { COUNT_LINE, nextMultiple, PRINT_EVERY, savedCounter } from '../framework/counter-guest.js';



describeKvm('SDK snapshot and restore', () => {
  const vms: Vm[] = [];
  const inProcess: InProcessVmm[] = [];
  let work: string;
  const track = (vm: Vm): Vm => (vms.push(vm), vm);

  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'workervisor-sdk-snap-'));
  });
  afterEach(async () => {
    await Promise.all(vms.splice(0).map((v) => v.kill()));
    await Promise.all(inProcess.splice(0).map((v) => v.close()));
    rmSync(work, { recursive: true, force: true });
  });

  async function counter(): Promise<Vm> {
    const vm = track(await launch({ kernel: guestPath('counter.elf'), cmdline: `print-every=${PRINT_EVERY}`, memory: '64M' }));
    await vm.waitForSerial('COUNTER-READY');
    await vm.waitForSerial(COUNT_LINE);
    return vm;
  }

  it('snapshots a running VM only when asked to pause it, and leaves it running after', async () => {
    const vm = await counter();
    await expect(vm.snapshot(join(work, 'refused'))).rejects.toMatchObject({ status: 405, serverCode: 'ERR_VMM_VM_NOT_PAUSED' });
    const dir = join(work, 'snap');
    await vm.snapshot(dir, { pause: true });
    expect((await vm.info()).state).toBe('Running');
    // The source goes on counting past what the snapshot holds (a line printed before the pause
    // may still be unread: skip to the first one above the saved count).
    const saved = savedCounter(dir);
    let after = 0;
    while (after <= saved) after = Number((await vm.waitForSerial(COUNT_LINE))[1]);
    expect(after).toBe(nextMultiple(saved));
  });

  it('restore(dir) gives a running Vm that counts on from the snapshot, without a reboot', async () => {
    const source = await counter();
    const dir = join(work, 'snap');
    await source.pause();
    await source.snapshot(dir);
    await source.kill();
    const saved = savedCounter(dir);

    const vm = track(await restore(dir));
    expect((await vm.info()).state).toBe('Running');
    const first = Number((await vm.waitForSerial(COUNT_LINE))[1]);
    expect(first).toBe(nextMultiple(saved));
    expect(Number((await vm.waitForSerial(COUNT_LINE))[1])).toBe(first + PRINT_EVERY);
    expect(vm.serialText()).not.toContain('COUNTER-READY');
  });

  it('launch({ restore: { dir, resume: false } }) leaves the VM paused until resume()', async () => {
    const source = await counter();
    const dir = join(work, 'snap');
    await source.snapshot(dir, { pause: true });
    const saved = savedCounter(dir);
    const vm = track(await launch({ restore: { dir, resume: false, prefault: true } }));
    expect((await vm.info()).state).toBe('Paused');
    await vm.resume();
    expect(Number((await vm.waitForSerial(COUNT_LINE))[1])).toBe(nextMultiple(saved));
  });

  it('createVmm().restore(dir) restores in-process and the guest counts on in its RAM', async () => {
    const source = await counter();
    const dir = join(work, 'snap');
    await source.snapshot(dir, { pause: true });
    const saved = savedCounter(dir);
    const vmm = await createVmm({ restore: dir });
    inProcess.push(vmm);
    expect((await vmm.info()).state).toBe('Running');
    // The in-process console is this process's stdout; the guest's counter in the restored VMM
    // is read back through a second snapshot of it.
    await new Promise((r) => setTimeout(r, 1500));
    const again = join(work, 'again');
    await vmm.snapshot(again, { pause: true });
    expect(savedCounter(again)).toBeGreaterThan(saved);
    expect((await vmm.info()).state).toBe('Running');
  });
});
