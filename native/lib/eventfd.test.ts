// eventfd(2) semantics through the addon, and FdWatcher's libuv dispatch. Needs the built
// addon only, not /dev/kvm.
import { readFileSync, readlinkSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { KvmError } from './errors.js';
import { EventFd, eventfdWrite, FdWatcher } from './eventfd.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function eventFd(initval?: number): EventFd {
  const fd = initval === undefined ? new EventFd() : new EventFd(initval);
  cleanups.push(() => fd.close());
  return fd;
}

function watch(fd: number, onReadable: () => void): FdWatcher {
  const watcher = new FdWatcher(fd, onReadable);
  cleanups.push(() => watcher.stop());
  return watcher;
}

/** Lets the event loop run a few poll phases. */
function turns(n = 5): Promise<void> {
  return new Promise((resolve) => {
    const step = (left: number): void => {
      if (left === 0) resolve();
      else setTimeout(() => step(left - 1), 1);
    };
    step(n);
  });
}

const EVENTFD_MAX = 0xffff_ffff_ffff_fffen;
// x86_64 open flags as /proc/<pid>/fdinfo prints them (octal).
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

/** A worker that loads the addon in its own thread and writes 9 to the eventfd it is given. */
const WRITER_SOURCE = `
  const { workerData } = require('node:worker_threads');
  require(workerData.binding).eventfdWrite(workerData.fd, 9);
`;

describe('EventFd', () => {
  it('reads 0n from a fresh eventfd without blocking', () => {
    expect(eventFd().read()).toBe(0n);
  });

  it('starts with its initial value', () => {
    const fd = eventFd(7);
    expect(fd.read()).toBe(7n);
    expect(fd.read()).toBe(0n);
  });

  it('adds writes to the counter and clears it on read', () => {
    const fd = eventFd();
    fd.write();
    fd.write(2);
    fd.write(3n);
    expect(fd.read()).toBe(6n);
    expect(fd.read()).toBe(0n);
  });

  it('holds values up to 2^64-2', () => {
    const fd = eventFd();
    fd.write(EVENTFD_MAX);
    expect(fd.read()).toBe(EVENTFD_MAX);
  });

  it('is written by fd number with eventfdWrite (what a worker does)', () => {
    const fd = eventFd();
    eventfdWrite(fd.fd);
    eventfdWrite(fd.fd, 4);
    expect(fd.read()).toBe(5n);
  });

  it('opens a non-blocking, close-on-exec fd (fdinfo flags)', () => {
    const fd = eventFd();
    const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd.fd}`, 'utf8'))?.[1];
    expect(flags).toBeDefined();
    const value = parseInt(flags ?? '0', 8);
    expect(value & O_NONBLOCK).toBe(O_NONBLOCK);
    expect(value & O_CLOEXEC).toBe(O_CLOEXEC);
    expect(readlinkSync(`/proc/self/fd/${fd.fd}`)).toBe('anon_inode:[eventfd]');
  });

  it('rejects 2^64-1, which eventfd(2) refuses, with a KvmError (EINVAL)', () => {
    const fd = eventFd();
    let err: unknown;
    try {
      fd.write(0xffff_ffff_ffff_ffffn);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KvmError);
    expect(err).toMatchObject({ kind: 'eventfd', errnoName: 'EINVAL', errno: 22, syscall: 'write', message: 'eventfd write: write failed with EINVAL' });
  });

  it('fails a write that would overflow the counter with EAGAIN instead of blocking', () => {
    const fd = eventFd();
    fd.write(EVENTFD_MAX);
    expect(() => fd.write(1)).toThrow(expect.objectContaining({ name: 'KvmError', errnoName: 'EAGAIN' }) as Error);
    expect(fd.read()).toBe(EVENTFD_MAX);
  });

  it('rejects values that are not u64 with a TypeError', () => {
    const fd = eventFd();
    expect(() => fd.write(-1)).toThrow(TypeError);
    expect(() => fd.write(1.5)).toThrow(TypeError);
    expect(() => fd.write(1n << 64n)).toThrow(TypeError);
  });

  it('reports EBADF for a read after close', () => {
    const fd = new EventFd();
    fd.close();
    expect(() => fd.read()).toThrow(expect.objectContaining({ name: 'KvmError', errnoName: 'EBADF', syscall: 'read' }) as Error);
  });
});

describe('FdWatcher', () => {
  it('calls back from the event loop when the fd is written', async () => {
    const fd = eventFd();
    const reads: bigint[] = [];
    let woke!: () => void;
    const called = new Promise<void>((resolve) => {
      woke = resolve;
    });
    watch(fd.fd, () => {
      reads.push(fd.read());
      woke();
    });
    fd.write(3);
    // Not synchronously: the callback runs from libuv's poll phase.
    expect(reads).toEqual([]);
    await called;
    expect(reads).toEqual([3n]);
  });

  it('calls back once per wake when the callback drains the fd', async () => {
    const fd = eventFd();
    const reads: bigint[] = [];
    watch(fd.fd, () => reads.push(fd.read()));
    fd.write(1);
    await turns();
    fd.write(2);
    await turns();
    expect(reads).toEqual([1n, 2n]);
  });

  it('calls back for a write made by another thread', async () => {
    const fd = eventFd();
    const called = new Promise<bigint>((resolve) => {
      watch(fd.fd, () => resolve(fd.read()));
    });
    const worker = new Worker(WRITER_SOURCE, {
      eval: true,
      workerData: { fd: fd.fd, binding: new URL('../build/Release/workervisor_kvm.node', import.meta.url).pathname },
    });
    try {
      expect(await called).toBe(9n);
    } finally {
      await worker.terminate();
    }
  });

  it('stops calling back after stop()', async () => {
    const fd = eventFd();
    let calls = 0;
    const watcher = watch(fd.fd, () => {
      calls++;
      fd.read();
    });
    fd.write();
    await turns();
    expect(calls).toBe(1);
    watcher.stop();
    fd.write();
    await turns();
    expect(calls).toBe(1);
    // The write is still there for whoever reads next.
    expect(fd.read()).toBe(1n);
  });

  it('accepts stop() twice', () => {
    const watcher = watch(eventFd().fd, () => {});
    watcher.stop();
    expect(() => watcher.stop()).not.toThrow();
  });
});

