// Issue 11, clones: three VMMs restore one snapshot at once, each counts on by itself (its guest's
// writes stay in its own copy-on-write pages), the memory file is not changed, and the pages the
// clones did not write are one copy in the page cache, shared by all three (/proc/PID/smaps).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { launch, restore, type Vm } from '@workervisor/sdk';
import { describeKvm, guestPath } from '../framework/index.js';
import { COUNT_LINE, nextMultiple, PRINT_EVERY, savedCounter } from '../framework/counter-guest.js';

const CLONES = 3;
const MEMORY = 64 << 20;


/** The first COUNT line's value above `n` (lines printed before a pause may still be unread). */
async function countAbove(vm: Vm, n: number): Promise<number> {
  for (;;) {
    const count = Number((await vm.waitForSerial(COUNT_LINE))[1]);
    if (count > n) return count;
  }
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** The smaps fields (kB) of `pid`'s mapping of `file`. */
function mappingOf(pid: number, file: string): Record<string, number> {
  const lines = readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n');
  const start = lines.findIndex((l) => /^[0-9a-f]+-[0-9a-f]+ /.test(l) && l.endsWith(` ${file}`));
  if (start < 0) throw new Error(`pid ${pid} has no mapping of ${file}`);
  const fields: Record<string, number> = {};
  for (const line of lines.slice(start + 1)) {
    const m = /^(\w+):\s+(\d+) kB$/.exec(line);
    if (m === null) {
      if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) break;
      continue;
    }
    fields[m[1]!] = Number(m[2]);
  }
  return fields;
}

describeKvm('snapshot clones', () => {
  const vms: Vm[] = [];
  let work: string;
  const track = (vm: Vm): Vm => (vms.push(vm), vm);

  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'workervisor-clones-'));
  });
  afterEach(async () => {
    await Promise.all(vms.splice(0).map((v) => v.kill()));
    rmSync(work, { recursive: true, force: true });
  });

  it(`restores ${CLONES} VMMs from one snapshot at once; each counts on alone, the file is unchanged and its pages are shared`, async () => {
    const source = track(await launch({ kernel: guestPath('counter.elf'), cmdline: `print-every=${PRINT_EVERY}`, memory: '64M' }));
    await source.waitForSerial('COUNTER-READY');
    await source.waitForSerial(COUNT_LINE);
    const dir = join(work, 'snap');
    await source.snapshot(dir, { pause: true });
    await source.kill();
    const memoryFile = join(dir, 'memory.bin');
    const hashBefore = sha256(memoryFile);
    const saved = savedCounter(dir);

    // prefault: every page of the file is mapped up front, so the sharing is measurable at once.
    const clones = await Promise.all(Array.from({ length: CLONES }, () => restore(dir, { prefault: true }).then(track)));
    for (const c of clones) expect(Number((await c.waitForSerial(COUNT_LINE))[1])).toBe(nextMultiple(saved));

    // Independent: clones 1.. are paused and their counts read back (through a snapshot of each);
    // clone 0 runs on well past them; then clones 1.. still hold exactly their own counts.
    const countOf = async (c: Vm, name: string): Promise<number> => {
      const d = join(work, name);
      await c.snapshot(d);
      return savedCounter(d);
    };
    const others = clones.slice(1);
    await Promise.all(others.map((c) => c.pause()));
    const paused = await Promise.all(others.map((c, i) => countOf(c, `paused-${i}`)));
    for (const n of paused) expect(n).toBeGreaterThan(saved);
    // Lines printed before the pauses may still be unread: wait for one past every paused count.
    const target = Math.max(...paused) + 2 * PRINT_EVERY;
    while ((await countAbove(clones[0]!, 0)) < target);
    const later = await Promise.all(others.map((c, i) => countOf(c, `later-${i}`)));
    expect(later).toEqual(paused);
    await Promise.all(others.map((c) => c.resume()));
    // Each resumed clone's first new line follows its own paused count.
    for (const [i, c] of others.entries()) expect(await countAbove(c, paused[i]!)).toBe(nextMultiple(paused[i]!));

    // Shared: each clone maps all 64 MiB, nearly all of it pages the other clones map too (clean,
    // from the page cache), so its proportional share is about a third of what it maps.
    const maps = clones.map((c) => mappingOf(c.process.pid!, memoryFile));
    console.log('clone mappings of memory.bin (kB):', JSON.stringify(maps.map((m) => ({ Rss: m['Rss'], Pss: m['Pss'], Shared_Clean: m['Shared_Clean'], Private_Dirty: m['Private_Dirty'] }))));
    for (const m of maps) {
      expect(m['Rss']).toBeGreaterThan((MEMORY >> 10) * 0.9);
      expect(m['Shared_Clean']).toBeGreaterThan(m['Rss']! * 0.9);
      expect(m['Private_Dirty']).toBeLessThan(m['Rss']! * 0.1);
      expect(m['Pss']).toBeLessThan(m['Rss']! / CLONES + m['Private_Dirty']! + 1024);
    }

    // The guests' writes never reached the file.
    expect(sha256(memoryFile)).toBe(hashBefore);
    expect(savedCounter(dir)).toBe(saved);
  });
});
