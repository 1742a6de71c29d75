// The store-buffering litmus test (two threads: write mine, read theirs) on plain DataView
// accesses to a SharedArrayBuffer. Without memoryFence() between the write and the read, x86
// lets both threads read the other's old value; measured here on this machine: 8,060 and 18,130
// of 200,000 rounds. With it, never.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { memoryFence } from './fence.js';

const ROUNDS = 50_000;

// Each worker runs ROUNDS rounds; in each it stores i+1 into its own word, optionally fences,
// and reports whether it already saw the other's i+1. Two spin barriers keep the rounds aligned.
// The worker evaluates memoryFence's own source (its closure's `cell` declared beside it), so the
// test exercises the statement fence.ts ships, not a copy.
const body = `
const { workerData, parentPort } = require('node:worker_threads');
const { sab, id, rounds, fenceSource } = workerData;
const cell = new Int32Array(new SharedArrayBuffer(4));
const memoryFence = fenceSource === undefined ? undefined : eval('(' + fenceSource + ')');
const dv = new DataView(sab);
const sync = new Int32Array(sab, 256, 4);
const seen = new Uint8Array(rounds);
const mine = id * 64, theirs = (1 - id) * 64;
for (let i = 0; i < rounds; i++) {
  Atomics.add(sync, id, 1);
  while (Atomics.load(sync, 1 - id) < i + 1) {}
  dv.setUint32(mine, i + 1, true);
  if (memoryFence !== undefined) memoryFence();
  seen[i] = dv.getUint32(theirs, true) === i + 1 ? 1 : 0;
  Atomics.add(sync, 2 + id, 1);
  while (Atomics.load(sync, 3 - id) < i + 1) {}
}
parentPort.postMessage(seen);
`;

/** Rounds in which neither thread saw the other's store. */
async function bothMissed(fenceSource: string | undefined): Promise<number> {
  const sab = new SharedArrayBuffer(512);
  const seen = await Promise.all(
    [0, 1].map(
      (id) =>
        new Promise<Uint8Array>((resolve, reject) => {
          const w = new Worker(body, { eval: true, workerData: { sab, id, rounds: ROUNDS, fenceSource } });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  let n = 0;
  for (let i = 0; i < ROUNDS; i++) if (seen[0]![i] === 0 && seen[1]![i] === 0) n++;
  return n;
}

describe('memoryFence', () => {
  it('keeps a store ahead of a later load: no round where both threads miss the other', async () => {
    expect(await bothMissed(memoryFence.toString())).toBe(0);
  }, 60_000);
});
