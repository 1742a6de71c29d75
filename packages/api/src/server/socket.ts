// The API socket's file: refuse to replace anything but a stale socket, bind privately with mode
// 0600 before the name appears, and remove it on close only if it is still ours.
import { randomBytes } from 'node:crypto';
import { chmod, link, lstat, mkdir, rmdir, unlink } from 'node:fs/promises';
import { connect, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { ApiServerError } from './errors.js';

/** sun_path is 108 bytes including the terminating NUL (unix(7)). */
const SUN_PATH_MAX = 107;

/** True if something accepts connections on `path`; false on ECONNREFUSED (a stale socket). */
export function probeSocket(path: string, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = connect({ path });
    const done = (alive: boolean | Error) => {
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
 * is unlinked. Anything else (a file, a directory, a live socket) is an ApiServerError.
 */
export async function prepareSocketPath(path: string): Promise<void> {
  if (Buffer.byteLength(path) > SUN_PATH_MAX) {
    throw new ApiServerError('path-too-long', `Socket path is ${Buffer.byteLength(path)} bytes; the limit is ${SUN_PATH_MAX}`, {
      details: { path },
    });
  }
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) {
    throw new ApiServerError('path-exists', `${path} exists and is not a socket; refusing to replace it`, { details: { path } });
  }
  if (await probeSocket(path)) {
    throw new ApiServerError('socket-in-use', `Another server is listening on ${path}`, { details: { path } });
  }
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** Identity of the socket file we created, so close never removes someone else's. */
export interface BoundSocket {
  readonly path: string;
  readonly ino: number;
  readonly dev: number;
}

function listenOn(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen({ path, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * Binds `server` to `path` with mode 0600. The socket is created in a fresh 0700 directory, made
 * 0600, then hard-linked to `path` (link fails if anything appeared there meanwhile), so no other
 * user can connect in the window between bind and chmod. Falls back to bind + chmod in place when
 * the private name would not fit in sun_path.
 */
export async function bindPrivateSocket(server: Server, path: string): Promise<BoundSocket> {
  await prepareSocketPath(path);
  const privateDir = join(dirname(path), `.wv-api-${randomBytes(6).toString('hex')}`);
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
  } catch (err) {
    if (server.listening) server.close();
    if (err instanceof ApiServerError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ApiServerError(code === 'EEXIST' || code === 'EADDRINUSE' ? 'socket-in-use' : 'listen-failed', `Cannot listen on ${path}`, {
      cause: err,
      details: { path },
    });
  }
  const st = await lstat(path);
  return { path, ino: st.ino, dev: st.dev };
}

/** Unlinks the socket file if it is still the one `bindPrivateSocket` created. */
export async function removeBoundSocket(bound: BoundSocket): Promise<void> {
  try {
    const st = await lstat(bound.path);
    if (st.ino === bound.ino && st.dev === bound.dev) await unlink(bound.path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
