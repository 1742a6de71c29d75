// Disk image locks with the real addon (no /dev/kvm needed): who excludes whom, what the message
// says about the holder, and what each lock_granularity covers.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tryOfdLock } from '@workervisor/native';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskLockError, lockDiskImage, lockRange } from './disk-lock.js';

let dir: string;
let image: string;
const fds: number[] = [];
const children: ChildProcess[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wv-disk-lock-'));
  image = join(dir, 'disk.img');
  writeFileSync(image, Buffer.alloc(8192));
});
afterEach(() => {
  for (const fd of fds.splice(0)) closeSync(fd);
  for (const c of children.splice(0)) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function open(readonly = false): number {
  const fd = openSync(image, readonly ? 'r' : 'r+');
  fds.push(fd);
  return fd;
}

function refusal(fn: () => void): DiskLockError {
  try {
    fn();
  } catch (err) {
    if (err instanceof DiskLockError) return err;
    throw err;
  }
  throw new Error('expected a DiskLockError');
}

const RW = { readonly: false, granularity: 'ByteRange' } as const;
const RO = { readonly: true, granularity: 'ByteRange' } as const;

/** A process that holds an OFD write lock on `path` until killed; resolves with it once locked. */
async function lockHolder(path: string): Promise<ChildProcess> {
  const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
  const script = `import { openSync } from 'node:fs'; import { tryOfdLock } from '@workervisor/native';
    const fd = openSync(${JSON.stringify(path)}, 'r+'); if (!tryOfdLock(fd, 'write', { start: 0, length: 0 })) process.exit(3);
    console.log('locked'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
  return child;
}

describe('lockDiskImage', () => {
  it('lets one read-write user exclude every other user, naming this VMM when it attached the image twice', () => {
    lockDiskImage(open(), image, RW);
    for (const [readonly, mode] of [[false, 'read-write'], [true, 'read-only']] as const) {
      const err = refusal(() => lockDiskImage(open(readonly), image, readonly ? RO : RW));
      expect(err.code).toBe('ERR_VMM_DISK_LOCK_LOCKED');
      expect(err.message).toBe(
        `disk image ${image} is in use and cannot be opened ${mode}: this VMM (pid ${process.pid}) holds a write lock (a read-write user) on it already: the image is attached twice; ` +
          (readonly ? 'a read-only disk shares the image only with other read-only users' : 'a read-write disk needs the image to itself'),
      );
      expect(err.details).toEqual({ path: image, pid: process.pid });
    }
  });

  it('lets read-only users share, and keeps a read-write user out while they are there', () => {
    lockDiskImage(open(true), image, RO);
    lockDiskImage(open(true), image, RO);
    expect(refusal(() => lockDiskImage(open(), image, RW)).message).toMatch(/holds a read lock \(a read-only user\) on it already/);
  });

  it('names the pid of another process holding the image (an OFD lock, found through /proc fdinfo)', async () => {
    const holder = await lockHolder(image);
    const err = refusal(() => lockDiskImage(open(true), image, RO));
    expect(err.message).toMatch(new RegExp(`: pid ${holder.pid} holds a write lock \\(a read-write user\\) on it; `));
    expect(err.details?.['pid']).toBe(holder.pid);
  });

  it('releases the lock when the image is closed', () => {
    const fd = openSync(image, 'r+');
    lockDiskImage(fd, image, RW);
    closeSync(fd);
    lockDiskImage(open(), image, RW);
  });

  it('covers the image bytes with ByteRange and the whole file, past its end, with Full', () => {
    // Something locking past the image's end (a snapshot tool's own range) does not stop ByteRange.
    const other = open();
    expect(tryOfdLock(other, 'write', { start: 1 << 20, length: 0 })).toBe(true);
    const a = open();
    expect(lockRange(a, 'ByteRange')).toEqual({ start: 0, length: 8192 });
    lockDiskImage(a, image, RW);
    closeSync(fds.splice(fds.indexOf(a), 1)[0]!);
    expect(lockRange(open(), 'Full')).toEqual({ start: 0, length: 0 });
    expect(() => lockDiskImage(open(), image, { readonly: false, granularity: 'Full' })).toThrow(DiskLockError);
  });
});
