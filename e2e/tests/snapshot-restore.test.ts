// Issue 11, first milestone: a counting guest is paused, snapshotted, its VMM killed, restored into a
// new VMM (Paused), resumed, and it counts on from where it was (no reboot); with 4 vCPUs too; a
// running VM, a truncated state file, another format version or another CPU are refused by name.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { launch, type Vm } from '@workervisor/sdk';
import { describeKvm, guestPath } from '../framework/index.js';
import { apCounterAddr, COUNT_LINE, COUNTER_ADDR, memoryFileU32, nextMultiple, PRINT_EVERY } from '../framework/counter-guest.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));



/** The AP counters of a COUNT line (`COUNT n ap1=a ap2=b ...`), in AP order. */
const apCounts = (line: string) => [...line.matchAll(/ ap\d+=(\d+)/g)].map((m) => Number(m[1]));

describeKvm('vm.snapshot and vm.restore', () => {
  const vms: Vm[] = [];
  let work: string;
  const track = (vm: Vm): Vm => (vms.push(vm), vm);

  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'workervisor-snapshot-'));
  });
  afterEach(async () => {
    await Promise.all(vms.splice(0).map((v) => v.kill()));
    rmSync(work, { recursive: true, force: true });
  });

  /** Boots the counter, lets it print twice, pauses it and snapshots it into a new directory. */
  async function snapshotCounter(cpus: number): Promise<{ dir: string; lastPrinted: number; source: Vm }> {
    const source = track(await launch({ kernel: guestPath('counter.elf'), cmdline: `print-every=${PRINT_EVERY} cpus=${cpus}`, cpus, memory: '64M' }));
    await source.waitForSerial('COUNTER-READY');
    await source.waitForSerial(COUNT_LINE);
    const lastPrinted = Number((await source.waitForSerial(COUNT_LINE))[1]);
    await source.pause();
    const dir = join(work, `snap-${cpus}`);
    await source.snapshot({ destination_url: `file://${dir}` });
    return { dir, lastPrinted, source };
  }

  for (const cpus of [1, 4]) {
    it(`continues a counting guest with ${cpus} vCPU(s) in a new VMM after its own is killed`, async () => {
      const { dir, lastPrinted, source } = await snapshotCounter(cpus);
      await source.kill();
      const saved = memoryFileU32(dir, COUNTER_ADDR);
      expect(saved).toBeGreaterThanOrEqual(lastPrinted);
      const savedAps = Array.from({ length: cpus - 1 }, (_, i) => memoryFileU32(dir, apCounterAddr(i + 1)));
      // Every AP was counting when the VM was paused.
      for (const c of savedAps) expect(c).toBeGreaterThan(0);
      // Sparse: 64 MiB of guest RAM of which the guest touched well under a MiB.
      expect(statSync(join(dir, 'memory.bin')).size).toBe(64 << 20);
      expect(statSync(join(dir, 'memory.bin')).blocks * 512).toBeLessThan(8 << 20);

      const restored = track(await launch());
      await restored.restore({ source_url: `file://${dir}` });
      expect(await restored.info()).toMatchObject({ state: 'Paused', config: { cpus: { boot_vcpus: cpus } } });
      await sleep(300);
      expect(restored.serialText()).toBe('');

      await restored.resume();
      const firstLine = await restored.waitForSerial(COUNT_LINE);
      const first = Number(firstLine[1]);
      expect(first).toBe(nextMultiple(saved));
      const secondLine = await restored.waitForSerial(COUNT_LINE);
      expect(Number(secondLine[1])).toBe(first + PRINT_EVERY);
      // The APs go on from their saved counts too (a fresh start would print less than saved).
      const [aps1, aps2] = [apCounts(firstLine[0]), apCounts(secondLine[0])];
      expect(aps1).toHaveLength(cpus - 1);
      aps1.forEach((c, i) => {
        expect(c).toBeGreaterThan(savedAps[i]!);
        expect(aps2[i]).toBeGreaterThan(c);
      });
      // No reboot: the guest's start-up line never appears again.
      expect(restored.serialText()).not.toContain('COUNTER-READY');
      expect(restored.serialText()).not.toContain('FAIL');
    });
  }

  it('snapshots a restored VM again (its RAM is the first memory file, copy-on-write) and restores that running', async () => {
    const { dir, source } = await snapshotCounter(1);
    await source.kill();
    const second = track(await launch());
    await second.restore({ source_url: `file://${dir}`, prefault: true });
    await second.resume();
    await second.waitForSerial(COUNT_LINE);
    await second.pause();
    const again = join(work, 'again');
    await second.snapshot({ destination_url: `file://${again}` });
    await second.kill();
    // The first snapshot's file is untouched by the guest's writes after the restore.
    expect(memoryFileU32(dir, COUNTER_ADDR)).toBeLessThan(memoryFileU32(again, COUNTER_ADDR));

    const third = track(await launch());
    await third.restore({ source_url: `file://${again}`, resume: true });
    expect((await third.info()).state).toBe('Running');
    expect(Number((await third.waitForSerial(COUNT_LINE))[1])).toBe(nextMultiple(memoryFileU32(again, COUNTER_ADDR)));
  });

  it('refuses to snapshot a running VM with a 405 that says to pause it', async () => {
    const vm = track(await launch({ kernel: guestPath('counter.elf'), memory: '64M' }));
    await vm.waitForSerial('COUNTER-READY');
    await expect(vm.snapshot({ destination_url: `file://${join(work, 'running')}` })).rejects.toMatchObject({
      status: 405,
      serverCode: 'ERR_VMM_VM_NOT_PAUSED',
      serverMessage: 'cannot snapshot the VM: it is running; pause it first (vm.pause)',
    });
  });

  it('refuses a truncated state file, another format version and another CPU, and stays usable', async () => {
    const { dir, source } = await snapshotCounter(1);
    await source.kill();
    const statePath = join(dir, 'state.json');
    const original = readFileSync(statePath, 'utf8');
    const target = track(await launch());
    const restoreFails = () => target.restore({ source_url: `file://${dir}` });

    writeFileSync(statePath, original.slice(0, Math.floor(original.length / 2)));
    await expect(restoreFails()).rejects.toMatchObject({ status: 400, serverCode: 'ERR_VMM_SNAPSHOT_INVALID_STATE', serverMessage: expect.stringContaining('is not a complete snapshot state file') });

    const state = JSON.parse(original) as { version: number; hostCpuid: Array<{ function: number; ebx: number }> };
    writeFileSync(statePath, JSON.stringify({ ...state, version: 99 }));
    await expect(restoreFails()).rejects.toMatchObject({ status: 400, serverCode: 'ERR_VMM_SNAPSHOT_VERSION_MISMATCH', serverMessage: expect.stringContaining('is snapshot format version 99; this VMM restores version 1 only') });

    const leaf0 = state.hostCpuid.find((e) => e.function === 0)!;
    leaf0.ebx ^= 1;
    writeFileSync(statePath, JSON.stringify(state));
    await expect(restoreFails()).rejects.toMatchObject({ status: 400, serverCode: 'ERR_VMM_SNAPSHOT_CPU_MISMATCH', serverMessage: expect.stringContaining('leaf 0x0/0 ebx') });

    // Nothing was created by the refusals: the intact snapshot restores into the same VMM.
    writeFileSync(statePath, original);
    await target.restore({ source_url: `file://${dir}` });
    expect((await target.info()).state).toBe('Paused');
  });
});
