// Host files the VMM reads (kernel, initramfs, config) or appends to (log, metrics), opened so that
// nothing blocks and nothing unbounded is read: a FIFO, a device or a /proc file is refused by
// name before any byte is read (issue 9: /dev/zero as a kernel, a FIFO as an initramfs).
import { closeSync, constants, fstatSync, openSync, readSync, statfsSync, statSync, writeSync, type Stats } from 'node:fs';
import { VmmError } from './errors.js';
import type { ErrorKind } from './error-codes.js';

export type HostFileErrorKind = ErrorKind<'HOST_FILE'>;

/** Code `ERR_VMM_HOST_FILE_<KIND>`; `details.path` is the file. */
export class HostFileError extends VmmError<'HOST_FILE'> {
  constructor(kind: HostFileErrorKind, message: string, path: string, cause?: unknown) {
    super('HOST_FILE', kind, message, { details: { path }, ...(cause === undefined ? {} : { cause }) });
  }
}

/** What a stat says the file is, for messages: "a FIFO", "a character device", ... */
export function fileTypeName(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Filesystems whose files are generated when read (linux/magic.h): their sizes mean nothing (0 for
 * most of /proc, 4096 for sysfs) and their contents are the host's (/proc/self/environ), never a
 * guest input.
 */
const PSEUDO_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'procfs'],
  [0x62656572, 'sysfs'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x62656570, 'configfs'],
  [0xde5e81e4, 'efivarfs'],
  [0x27e0eb, 'cgroupfs'],
  [0x63677270, 'cgroup2fs'],
  [0xcafe4a11, 'bpffs'],
  [0x6165676c, 'pstorefs'],
  [0xf97cff8c, 'selinuxfs'],
  [0x43415d53, 'smackfs'],
]);

/** The pseudo filesystem the open fd lives on, if any (statfs through /proc/self/fd: Node has no fstatfs). */
function pseudoFilesystem(fd: number): string | undefined {
  let type: number;
  try {
    type = Number(statfsSync(`/proc/self/fd/${fd}`).type);
  } catch {
    // No /proc (a jail): the zero-size rule below still refuses most pseudo files.
    return undefined;
  }
  return PSEUDO_FILESYSTEMS.get(type);
}

function errnoCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'error';
}

export interface ReadHostFileOptions {
  /** What the file is for, starting the messages: `kernel`, `initramfs`, `--config-file`. */
  readonly what: string;
  /** Largest accepted size in bytes; checked with fstat before anything is read. */
  readonly maxBytes: number;
  /** Why that is the limit, for the message (`guest RAM`). */
  readonly limit?: string;
}

/**
 * Reads a whole regular file of at most `maxBytes`. The path is stat()ed first, so no FIFO or
 * device is even opened (opening some devices has side effects), then opened O_NONBLOCK | O_NOCTTY
 * and fstat()ed again, so a file swapped in between cannot block the open or be read either.
 * Throws HostFileError naming the path and what it is.
 */
export function readHostFile(path: string, options: ReadHostFileOptions): Buffer {
  const { what, maxBytes } = options;
  let st: Stats;
  try {
    st = statSync(path);
  } catch (err) {
    throw new HostFileError('unreadable', `cannot read ${what} ${path} (${errnoCode(err)})`, path, err);
  }
  checkRegular(path, st, what);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw new HostFileError('unreadable', `cannot read ${what} ${path} (${errnoCode(err)})`, path, err);
  }
  try {
    const opened = fstatSync(fd);
    checkRegular(path, opened, what);
    const fs = pseudoFilesystem(fd);
    if (fs !== undefined) {
      throw new HostFileError('pseudo-file', `${what} ${path} is on ${fs}, whose files the host kernel generates when read; use a regular file`, path);
    }
    checkSize(path, opened, options);
    const bytes = Buffer.allocUnsafe(opened.size);
    let done = 0;
    while (done < bytes.length) {
      const n = readSync(fd, bytes, done, bytes.length - done, done);
      if (n === 0) break; // shrank under us: what is there is what was read
      done += n;
    }
    return done === bytes.length ? bytes : bytes.subarray(0, done);
  } catch (err) {
    if (err instanceof HostFileError) throw err;
    throw new HostFileError('unreadable', `cannot read ${what} ${path} (${errnoCode(err)})`, path, err);
  } finally {
    closeSync(fd);
  }
}

function checkRegular(path: string, st: Stats, what: string): void {
  if (!st.isFile()) throw new HostFileError('not-regular', `${what} ${path} is ${fileTypeName(st)}, not a regular file`, path);
}

function checkSize(path: string, st: Stats, { what, maxBytes, limit }: ReadHostFileOptions): void {
  if (st.size === 0) {
    throw new HostFileError('empty', `${what} ${path} is empty (0 bytes), or a pseudo file (such as those in /proc) whose size is unknown`, path);
  }
  if (st.size > maxBytes) {
    throw new HostFileError('too-large', `${what} ${path} is ${st.size} bytes, over the limit of ${maxBytes} bytes${limit === undefined ? '' : ` (${limit})`}`, path);
  }
}

/** An append-only output file, opened once. */
export interface HostOutputFile {
  readonly fd: number;
  /** Whether close() closes fd (false for the process's own stdout/stderr). */
  readonly owned: boolean;
  readonly kind: 'file' | 'fifo' | 'char-device';
}

/** Names that mean the process's own stdout/stderr, whatever those are (a pipe, a socket, a tty). */
const STD_STREAMS: Readonly<Record<string, number>> = { '/dev/stdout': 1, '/dev/stderr': 2 };

/**
 * Opens `path` for appending (a log or metrics file): O_WRONLY | O_APPEND | O_CREAT, mode 0600 for
 * a new file, and O_NONBLOCK, so a FIFO without a reader fails at once (ENXIO) instead of hanging
 * in open() and a full one never stalls a write (see appendNonBlocking). Accepted: regular files,
 * FIFOs (Firecracker's logger is often pointed at one) and character devices (a terminal,
 * /dev/null); /dev/stdout and /dev/stderr are the process's own fds 1 and 2. Throws HostFileError.
 */
export function openOutputFile(path: string, what: string): HostOutputFile {
  const std = STD_STREAMS[path];
  if (std !== undefined) return { fd: std, owned: false, kind: 'char-device' };
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK | constants.O_NOCTTY, 0o600);
  } catch (err) {
    const code = errnoCode(err);
    const hint = code === 'ENXIO' ? ': a FIFO with no reader, or a socket' : '';
    throw new HostFileError('unwritable', `cannot open ${what} ${path} for appending (${code}${hint})`, path, err);
  }
  const st = fstatSync(fd);
  if (st.isFile()) return { fd, owned: true, kind: 'file' };
  if (st.isFIFO()) return { fd, owned: true, kind: 'fifo' };
  if (st.isCharacterDevice()) return { fd, owned: true, kind: 'char-device' };
  closeSync(fd);
  throw new HostFileError('not-regular', `${what} ${path} is ${fileTypeName(st)}; use a regular file, a FIFO or a terminal`, path);
}

/**
 * Writes all of `bytes` unless the file would block (a full FIFO, a slow terminal) or fails: then
 * the rest is dropped and false returned. Never throws; the caller counts what was lost.
 */
export function appendNonBlocking(fd: number, bytes: Uint8Array): boolean {
  let done = 0;
  try {
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    return true;
  } catch {
    return false;
  }
}
