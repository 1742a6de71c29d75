// Issue 11 item 5 on the test-guest tier: a restore reopens the host ends from the snapshot's
// config. The serial file sink is opened again for appending (the restored guest's output follows
// the old), a writable disk is reopened and locked by path (a second clone on it is refused with
// the lock holder's pid until the first ends).
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { launch, restore, type Vm } from '@workervisor/sdk';
import { describeKvm, guestPath } from '../framework/index.js';

const PRINT_EVERY = 20_000_000;
/** Complete COUNT lines only: the pause may cut one, which the restored guest then finishes. */
const COUNTS = /COUNT (\d+)[^\n]*\n/g;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The file's text; empty while it does not exist yet (launch returns once the API answers, which can be before the boot opens the serial file). */
const textOf = (file: string): string => (existsSync(file) ? readFileSync(file, 'utf8') : '');

/** Waits until `file` holds more COUNT lines than `after`; returns all of them. */
async function countsIn(file: string, after: number, vm: Vm, timeoutMs = 30_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = [...textOf(file).matchAll(COUNTS)].map((m) => Number(m[1]));
    if (counts.length > after) return counts;
    if (Date.now() > deadline) throw new Error(`no new COUNT line in ${file} after ${after}: ${JSON.stringify(textOf(file).slice(-300))}; the VMM's stderr: ${vm.stderrText().slice(-1500)}`);
    await sleep(100);
  }
}

describeKvm('snapshot restore reopens device backends', () => {
  const vms: Vm[] = [];
  let work: string;
  const track = (vm: Vm): Vm => (vms.push(vm), vm);

  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'workervisor-snap-backends-'));
  });
  afterEach(async () => {
    await Promise.all(vms.splice(0).map((v) => v.kill()));
    rmSync(work, { recursive: true, force: true });
  });

  it('appends the restored guest to the serial file and locks the disk again, refusing a second clone on it', async () => {
    const img = join(work, 'disk.img');
    const fd = openSync(img, 'w');
    ftruncateSync(fd, 1 << 20);
    closeSync(fd);
    const serialFile = join(work, 'serial.log');
    const source = track(await launch({ kernel: guestPath('counter.elf'), cmdline: `print-every=${PRINT_EVERY}`, memory: '64M', args: ['--serial', `file=${serialFile}`, '--disk', `path=${img}`] }));
    const before = await countsIn(serialFile, 0, source);
    const dir = join(work, 'snap');
    await source.snapshot(dir, { pause: true });
    await source.kill();
    const oldText = readFileSync(serialFile, 'utf8');
    const printed = [...oldText.matchAll(COUNTS)].length;
    expect(printed).toBeGreaterThanOrEqual(before.length);

    const first = track(await restore(dir));
    const after = await countsIn(serialFile, printed, first);
    // Appended: the old lines are still there, the new ones go on from the last of them.
    expect(readFileSync(serialFile, 'utf8').startsWith(oldText)).toBe(true);
    expect(after[printed]).toBe(after[printed - 1]! + PRINT_EVERY);
    expect(readFileSync(serialFile, 'utf8')).not.toMatch(/COUNTER-READY[\s\S]*COUNTER-READY/);

    // The disk is reopened and locked by path: a second clone on it is refused, naming the holder.
    const second = track(await launch());
    await expect(second.restore({ source_url: `file://${dir}`, resume: true })).rejects.toMatchObject({
      status: 409,
      serverCode: 'ERR_VMM_DISK_LOCK_LOCKED',
      serverMessage: expect.stringContaining(`pid ${first.process.pid} holds a write lock`),
    });
    await first.kill();
    await second.restore({ source_url: `file://${dir}`, resume: true });
    expect((await second.info()).state).toBe('Running');
  });
});
