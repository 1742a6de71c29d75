// Guest RAM from the addon: a memfd mapping exposed as a SharedArrayBuffer. Needs the built
// addon only, not /dev/kvm.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { allocateGuestRam, pageSize, releaseGuestRam } from './memory.js';

const MIB = 1024 * 1024;

/** Resolves with the worker's first message; the worker is always terminated. */
async function runWorker(source: string, workerData: unknown): Promise<unknown> {
  const worker = new Worker(source, { eval: true, workerData });
  try {
    return await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`worker exited with code ${code} before answering`)));
    });
  } finally {
    await worker.terminate();
  }
}

describe('pageSize', () => {
  it('is the host page size, a power of two of at least 4 KiB', () => {
    const size = pageSize();
    expect(size).toBeGreaterThanOrEqual(4096);
    expect(size & (size - 1)).toBe(0);
  });
});

describe('allocateGuestRam', () => {
  it('returns a SharedArrayBuffer of exactly the requested size', () => {
    const ram = allocateGuestRam(2 * MIB);
    expect(ram).toBeInstanceOf(SharedArrayBuffer);
    expect(ram.byteLength).toBe(2 * MIB);
  });

  it('returns zero-filled memory', () => {
    const words = new BigUint64Array(allocateGuestRam(MIB));
    expect(words.every((w) => w === 0n)).toBe(true);
  });

  it('is writable and readable everywhere, first byte to last', () => {
    const size = 4 * pageSize();
    const bytes = new Uint8Array(allocateGuestRam(size));
    bytes[0] = 0x11;
    bytes[pageSize()] = 0x22;
    bytes[size - 1] = 0x33;
    expect([bytes[0], bytes[pageSize()], bytes[size - 1]]).toEqual([0x11, 0x22, 0x33]);
    const view = new DataView(bytes.buffer);
    view.setBigUint64(size - 8, 0x0123_4567_89ab_cdefn, true);
    expect(view.getBigUint64(size - 8, true)).toBe(0x0123_4567_89ab_cdefn);
  });

  it('gives separate memory on each call', () => {
    const a = new Uint8Array(allocateGuestRam(pageSize()));
    const b = new Uint8Array(allocateGuestRam(pageSize()));
    a[0] = 1;
    expect(b[0]).toBe(0);
  });

  it('reserves a large size without touching it (MAP_NORESERVE)', () => {
    const ram = allocateGuestRam(1024 * MIB);
    expect(ram.byteLength).toBe(1024 * MIB);
    new Uint8Array(ram)[1024 * MIB - 1] = 0xff;
  });

  it.each([
    ['not a page multiple', 4096 + 1],
    ['half a page', 2048],
    ['zero', 0],
  ])('rejects a size that is %s with a TypeError saying so', (_name, size) => {
    expect(() => allocateGuestRam(size)).toThrow(new TypeError('size must be a non-zero multiple of the page size'));
  });

  it.each([
    ['negative', -4096],
    ['fractional', 4096.5],
  ])('rejects a %s size with a TypeError', (_name, size) => {
    expect(() => allocateGuestRam(size)).toThrow(TypeError);
  });

  it('shares its bytes with a worker it is posted to, both ways', async () => {
    const ram = allocateGuestRam(pageSize());
    const bytes = new Uint8Array(ram);
    bytes[0] = 0x5a;
    const seen = await runWorker(
      `
      const { parentPort, workerData } = require('node:worker_threads');
      const bytes = new Uint8Array(workerData.ram);
      const first = bytes[0];
      bytes[1] = 0xa5;
      bytes[workerData.last] = 0x77;
      parentPort.postMessage({ first, shared: workerData.ram instanceof SharedArrayBuffer });
      `,
      { ram, last: ram.byteLength - 1 },
    );
    expect(seen).toEqual({ first: 0x5a, shared: true });
    expect(bytes[1]).toBe(0xa5);
    expect(bytes[ram.byteLength - 1]).toBe(0x77);
  });

  it('shares its bytes with a worker through postMessage too', async () => {
    const ram = allocateGuestRam(pageSize());
    const worker = new Worker(
      `
      const { parentPort } = require('node:worker_threads');
      parentPort.once('message', (ram) => {
        const words = new Int32Array(ram);
        Atomics.store(words, 1, 1234);
        parentPort.postMessage('written');
      });
      `,
      { eval: true },
    );
    try {
      const answered = new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      worker.postMessage(ram);
      expect(await answered).toBe('written');
      expect(Atomics.load(new Int32Array(ram), 1)).toBe(1234);
    } finally {
      await worker.terminate();
    }
  });
});

describe('releaseGuestRam', () => {
  it('frees the pages now: the buffer reads zeros afterwards and a second release is a no-op', () => {
    const sab = allocateGuestRam(1 << 20);
    const bytes = new Uint8Array(sab);
    bytes.fill(0xab);
    expect(releaseGuestRam(sab)).toBe(true);
    expect(bytes[0]).toBe(0);
    expect(bytes[(1 << 20) - 1]).toBe(0);
    expect(releaseGuestRam(sab)).toBe(false);
    // Still a valid mapping: writing works (new zero pages), nothing faults.
    bytes[10] = 7;
    expect(bytes[10]).toBe(7);
  });

  it('refuses a buffer it did not allocate', () => {
    expect(releaseGuestRam(new SharedArrayBuffer(4096))).toBe(false);
  });
});
