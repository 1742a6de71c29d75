// Open file description (OFD) locks, fcntl(2) F_OFD_SETLK / F_OFD_GETLK: held by the open file,
// released when its last fd closes, never waited for. Cloud Hypervisor's disk image locks.
import { binding } from './binding.js';
import { wrap } from './errors.js';

export type OfdLockType = 'read' | 'write';

/** Bytes from `start`; `length` 0 means to the end of the file, however far it grows. */
export interface OfdLockRange {
  readonly start: number;
  readonly length: number;
}

/** A lock that stands in the way, as F_OFD_GETLK reports it. */
export interface OfdLockConflict {
  readonly type: OfdLockType;
  readonly start: number;
  readonly length: number;
  /** The holder for a classic POSIX lock; undefined for an OFD lock (the kernel reports -1). */
  readonly pid: number | undefined;
}

function typeCode(type: OfdLockType): number {
  return type === 'read' ? binding().F_RDLCK : binding().F_WRLCK;
}

/**
 * Takes a read (shared) or write (exclusive) lock on `fd`'s open file. Returns false when a
 * conflicting lock is held (EAGAIN or EACCES); other failures throw KvmError('file-lock').
 */
export function tryOfdLock(fd: number, type: OfdLockType, range: OfdLockRange): boolean {
  try {
    binding().ofdSetLock(fd, typeCode(type), range.start, range.length);
    return true;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'EAGAIN' || code === 'EACCES') return false;
    return wrap('file-lock', `taking a ${type} lock`, () => {
      throw err;
    });
  }
}

/** Drops this open file's locks on `range`. */
export function ofdUnlock(fd: number, range: OfdLockRange): void {
  wrap('file-lock', 'dropping a lock', () => binding().ofdSetLock(fd, binding().F_UNLCK, range.start, range.length));
}

/** The lock that would stop `type` on `range`, or undefined when it would be granted now. */
export function ofdLockConflict(fd: number, type: OfdLockType, range: OfdLockRange): OfdLockConflict | undefined {
  const b = binding();
  const got = wrap('file-lock', 'asking who holds a lock', () => b.ofdGetLock(fd, typeCode(type), range.start, range.length));
  if (got.type === b.F_UNLCK) return undefined;
  return { type: got.type === b.F_RDLCK ? 'read' : 'write', start: got.start, length: got.len, pid: got.pid > 0 ? got.pid : undefined };
}
