// OFD locks through the addon: per open file description (so two opens in one process conflict),
// shared read locks, exclusive write locks, released on close. Needs the built addon only.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KvmError } from './errors.js';
import { ofdLockConflict, ofdUnlock, tryOfdLock } from './file-lock.js';

const WHOLE = { start: 0, length: 0 };
let dir: string;
let image: string;
const fds: number[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wv-lock-'));
  image = join(dir, 'disk.img');
  writeFileSync(image, Buffer.alloc(8192));
});
afterEach(() => {
  for (const fd of fds.splice(0)) closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});

function open(): number {
  const fd = openSync(image, 'r+');
  fds.push(fd);
  return fd;
}

describe('OFD locks', () => {
  it('gives a write lock to one open file and refuses every other lock, even in the same process', () => {
    const a = open();
    const b = open();
    expect(tryOfdLock(a, 'write', WHOLE)).toBe(true);
    expect(tryOfdLock(b, 'read', WHOLE)).toBe(false);
    expect(tryOfdLock(b, 'write', WHOLE)).toBe(false);
    // An OFD holder has no pid: the kernel reports -1.
    expect(ofdLockConflict(b, 'read', WHOLE)).toEqual({ type: 'write', start: 0, length: 0, pid: undefined });
    // The holder itself is never in its own way.
    expect(ofdLockConflict(a, 'write', WHOLE)).toBeUndefined();
  });

  it('shares read locks and refuses a write lock while one is held', () => {
    const a = open();
    const b = open();
    const c = open();
    expect(tryOfdLock(a, 'read', WHOLE)).toBe(true);
    expect(tryOfdLock(b, 'read', WHOLE)).toBe(true);
    expect(tryOfdLock(c, 'write', WHOLE)).toBe(false);
    expect(ofdLockConflict(c, 'write', WHOLE)?.type).toBe('read');
  });

  it('releases the lock when the open file is closed, or on unlock', () => {
    const a = open();
    const b = open();
    expect(tryOfdLock(a, 'write', WHOLE)).toBe(true);
    ofdUnlock(a, WHOLE);
    expect(tryOfdLock(b, 'write', WHOLE)).toBe(true);
    closeSync(fds.splice(fds.indexOf(b), 1)[0]!);
    expect(tryOfdLock(a, 'write', WHOLE)).toBe(true);
  });

  it('locks byte ranges: [0, 4096) and [4096, EOF) do not conflict', () => {
    const a = open();
    const b = open();
    expect(tryOfdLock(a, 'write', { start: 0, length: 4096 })).toBe(true);
    expect(tryOfdLock(b, 'write', { start: 4096, length: 0 })).toBe(true);
    expect(tryOfdLock(b, 'write', WHOLE)).toBe(false);
  });

  it("reports the pid of a classic POSIX lock's holder", async () => {
    // python3's fcntl.lockf takes a classic (per-process) lock; skip where python3 is missing.
    const holder = spawn('python3', ['-c', `import fcntl,sys,time\nf=open(${JSON.stringify(image)},'r+')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('locked',flush=True)\ntime.sleep(30)`], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const ready = await new Promise<boolean>((resolve) => {
        holder.stdout.once('data', () => resolve(true));
        holder.once('error', () => resolve(false));
        holder.once('exit', () => resolve(false));
      });
      if (!ready) return;
      const fd = open();
      expect(tryOfdLock(fd, 'read', WHOLE)).toBe(false);
      expect(ofdLockConflict(fd, 'read', WHOLE)).toMatchObject({ type: 'write', pid: holder.pid });
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('throws KvmError with errno and syscall for a bad fd', () => {
    let err: unknown;
    try {
      tryOfdLock(987654, 'read', WHOLE);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KvmError);
    expect(err).toMatchObject({ kind: 'file-lock', errnoName: 'EBADF', syscall: 'fcntl', ioctl: 'F_OFD_SETLK' });
  });
});
