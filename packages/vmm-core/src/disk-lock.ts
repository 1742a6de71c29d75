// Disk image locks as Cloud Hypervisor takes them (block/src/fcntl.rs): an OFD lock on the open
// image, a write lock for a read-write disk (it excludes everyone), a read lock for a read-only
// one (read-only users share), held until the image is closed.
import { fstatSync, readdirSync, readFileSync } from 'node:fs';
import { VmmError } from '@workervisor/base';
import type { ErrorKind } from '@workervisor/base';
import { ofdLockConflict, tryOfdLock, type OfdLockConflict, type OfdLockRange } from '@workervisor/native';

/** Cloud Hypervisor's DiskConfig.lock_granularity. */
export type LockGranularity = 'ByteRange' | 'Full';

export type DiskLockErrorKind = ErrorKind<'DISK_LOCK'>;

/** Code `ERR_VMM_DISK_LOCK_LOCKED`; `details.path` is the image, `details.pid` the holder when known. */
export class DiskLockError extends VmmError<'DISK_LOCK'> {
  constructor(message: string, details: Record<string, string | number>) {
    super('DISK_LOCK', 'locked', message, { details });
  }
}

/**
 * The range to lock. 'Full': the whole file, past its end too. 'ByteRange' (Cloud Hypervisor's
 * default): [0, max(size, allocated bytes)), so tools that lock other ranges of the file (a
 * snapshotter) are not excluded.
 */
export function lockRange(fd: number, granularity: LockGranularity): OfdLockRange {
  if (granularity === 'Full') return { start: 0, length: 0 };
  const st = fstatSync(fd);
  // st_blocks is in 512-byte units whatever the filesystem's block size (stat(2)).
  const length = Math.max(st.size, st.blocks * 512);
  // An empty image has no bytes to lock; length 0 would mean "to EOF", which is what we want.
  return { start: 0, length };
}

export interface DiskLockOptions {
  readonly readonly: boolean;
  readonly granularity: LockGranularity;
}

/**
 * Locks the open image `fd` (at `path`) or throws DiskLockError naming the image and, when it can
 * be found, the holder: the pid F_OFD_GETLK reports for a classic lock, else the processes whose
 * /proc/PID/fdinfo lists an OFD lock on the image (the kernel reports no pid for those).
 */
export function lockDiskImage(fd: number, path: string, options: DiskLockOptions): void {
  const range = lockRange(fd, options.granularity);
  const type = options.readonly ? 'read' : 'write';
  if (tryOfdLock(fd, type, range)) return;
  const conflict = ofdLockConflict(fd, type, range);
  const holders = conflict?.pid !== undefined ? [conflict.pid] : ofdLockHolders(fd);
  throw new DiskLockError(lockedMessage(path, options.readonly, conflict, holders), { path, ...(holders.length === 0 ? {} : { pid: holders[0]! }) });
}

function lockedMessage(path: string, readonly: boolean, conflict: OfdLockConflict | undefined, holders: readonly number[]): string {
  const mode = readonly ? 'read-only' : 'read-write';
  const theirs = conflict === undefined ? 'a lock' : conflict.type === 'write' ? 'a write lock (a read-write user)' : 'a read lock (a read-only user)';
  let who: string;
  if (holders.length === 0) who = `another process holds ${theirs} on it`;
  else if (holders.includes(process.pid)) who = `this VMM (pid ${process.pid}) holds ${theirs} on it already: the image is attached twice`;
  else who = `pid ${holders.join(', pid ')} holds ${theirs} on it`;
  const why = readonly ? 'a read-only disk shares the image only with other read-only users' : 'a read-write disk needs the image to itself';
  return `disk image ${path} is in use and cannot be opened ${mode}: ${who}; ${why}`;
}

/**
 * Pids whose open files hold an OFD lock on the same inode as `fd`, from /proc/PID/fdinfo/FD
 * "lock:" lines (`1: OFDLCK ADVISORY WRITE -1 fe:00:2146363 0 EOF`). Best effort: processes we may
 * not inspect are skipped. Only called on a conflict, so the scan's cost does not matter.
 */
function ofdLockHolders(fd: number): number[] {
  const st = fstatSync(fd, { bigint: true });
  const dev = st.dev;
  // The kernel prints MAJOR:MINOR of s_dev as %02x:%02x (fs/locks.c lock_get_status).
  const major = Number((dev >> 8n) & 0xfffn);
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & 0xfff00n));
  const key = ` ${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${st.ino} `;
  const holders = new Set<number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return [];
  }
  for (const pid of pids) {
    let entries: string[];
    try {
      entries = readdirSync(`/proc/${pid}/fdinfo`);
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (Number(pid) === process.pid && Number(entry) === fd) continue;
      try {
        const info = readFileSync(`/proc/${pid}/fdinfo/${entry}`, 'utf8');
        if (info.split('\n').some((l) => l.startsWith('lock:') && l.includes('OFDLCK') && l.includes(key))) holders.add(Number(pid));
      } catch {
        // gone, or not ours to read
      }
    }
  }
  return [...holders].sort((a, b) => a - b);
}
