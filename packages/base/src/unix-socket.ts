// The file of a Unix socket the VMM serves (the API, a serial or console socket): never take over
// a path another process listens on, bind with mode 0600 before the name appears, and on close
// remove the path only if it is still the socket we created. Path limit: unix(7) sun_path.
import { randomBytes } from 'node:crypto';
import { lstatSync, unlinkSync } from 'node:fs';
import { chmod, link, lstat, mkdir, rmdir, unlink } from 'node:fs/promises';
import { connect, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { VmmError } from './errors.js';
import type { ErrorKind } from './error-codes.js';

export type UnixSocketErrorKind = ErrorKind<'UNIX_SOCKET'>;

/** Code `ERR_VMM_UNIX_SOCKET_<KIND>`; `details.path` is the socket path. */
export class UnixSocketError extends VmmError<'UNIX_SOCKET'> {
  constructor(kind: UnixSocketErrorKind, message: string, path: string, cause?: unknown) {
    super('UNIX_SOCKET', kind, message, { details: { path }, ...(cause === undefined ? {} : { cause }) });
  }
}

/** sun_path is 108 bytes including the terminating NUL (unix(7)). */
export const SUN_PATH_MAX = 107;

/** How long a probe waits for a connect to be accepted or refused, in ms. */
const PROBE_TIMEOUT_MS = 1_000;

/** True if something accepts connections on `path`; false on ECONNREFUSED or ENOENT (a stale socket or none). */
export function probeSocket(path: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = connect({ path });
    const done = (alive: boolean | Error): void => {
      s.destroy();
      clearTimeout(timer);
      if (alive instanceof Error) reject(alive);
      else resolve(alive);
    };
    // A listener whose backlog is full does not refuse; treat a slow accept as alive.
    const timer = setTimeout(() => done(true), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? false : err));
  });
}

/**
 * Makes `path` free for a new socket: nothing there, or a stale socket (nobody listening), which
 * is unlinked. A file, a directory or a live socket is a UnixSocketError. `what` names the socket
 * in messages ("API socket", "serial socket").
 */
export async function prepareSocketPath(path: string, what: string): Promise<void> {
  const bytes = Buffer.byteLength(path);
  if (bytes > SUN_PATH_MAX) throw new UnixSocketError('path-too-long', `${what} ${path} is ${bytes} bytes long; the limit is ${SUN_PATH_MAX}`, path);
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new UnixSocketError('listen-failed', `${what} ${path}: cannot stat the path`, path, err);
  }
  if (!st.isSocket()) throw new UnixSocketError('path-exists', `${what} ${path}: the path exists and is not a socket; refusing to replace it`, path);
  // Probed before unlinking: a second VMM given the same path must not steal the first one's socket.
  if (await probeSocket(path)) {
    throw new UnixSocketError('socket-in-use', `${what} ${path}: another process is listening on it; refusing to take it over`, path);
  }
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw new UnixSocketError('listen-failed', `${what} ${path}: cannot remove the stale socket`, path, err);
  });
}

/** Identity of the socket file we created, so closing never removes someone else's. */
export interface BoundSocket {
  readonly path: string;
  readonly ino: number;
  readonly dev: number;
}

function listenOn(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ path, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * Prepares `path` (prepareSocketPath), then makes `server` listen on it with mode 0600. The socket
 * is bound in a fresh 0700 directory, made 0600, then hard-linked to `path` (link fails if anything
 * appeared there meanwhile), so no other user can connect in the window between bind and chmod.
 * Falls back to bind + chmod in place when the private name would not fit in sun_path.
 */
export async function listenPrivately(server: Server, path: string, what: string): Promise<BoundSocket> {
  await prepareSocketPath(path, what);
  const privateDir = join(dirname(path), `.wv-sock-${randomBytes(6).toString('hex')}`);
  const privatePath = join(privateDir, 's');
  try {
    if (Buffer.byteLength(privatePath) <= SUN_PATH_MAX) {
      await mkdir(privateDir, { mode: 0o700 });
      try {
        await listenOn(server, privatePath);
        await chmod(privatePath, 0o600);
        await link(privatePath, path);
      } finally {
        await unlink(privatePath).catch(() => {});
        await rmdir(privateDir).catch(() => {});
      }
    } else {
      await listenOn(server, path);
      await chmod(path, 0o600);
    }
    const st = await lstat(path);
    return { path, ino: st.ino, dev: st.dev };
  } catch (err) {
    if (server.listening) server.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'EADDRINUSE') throw new UnixSocketError('socket-in-use', `${what} ${path}: another process created the path while we bound it`, path, err);
    throw new UnixSocketError('listen-failed', `${what} ${path}: cannot listen`, path, err);
  }
}

/** Unlinks the socket file if it is still the one listenPrivately created. */
export async function removeBoundSocket(bound: BoundSocket): Promise<void> {
  try {
    const st = await lstat(bound.path);
    if (st.ino === bound.ino && st.dev === bound.dev) await unlink(bound.path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** removeBoundSocket for a synchronous close(); a failure other than ENOENT is thrown. */
export function removeBoundSocketSync(bound: BoundSocket): void {
  try {
    const st = lstatSync(bound.path);
    if (st.ino === bound.ino && st.dev === bound.dev) unlinkSync(bound.path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
