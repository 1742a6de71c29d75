// The API socket's file, through @workervisor/base's Unix-socket helper (never take over a live
// socket, bind 0600 privately, remove on close only if still ours); failures are ApiServerErrors.
import { listenPrivately, prepareSocketPath as preparePath, UnixSocketError, type BoundSocket } from '@workervisor/base';
import type { Server } from 'node:net';
import { ApiServerError } from './errors.js';

// removeBoundSocket unlinks the path on close only if its inode is still the one we bound.
export { probeSocket, removeBoundSocket, type BoundSocket } from '@workervisor/base';

const WHAT = 'API socket';

/** The helper's failure as the API server's: same kind and message, so codes stay ERR_VMM_API_SERVER_*. */
function asApiServerError(err: unknown): unknown {
  if (!(err instanceof UnixSocketError)) return err;
  return new ApiServerError(err.kind, err.message, { ...(err.cause === undefined ? {} : { cause: err.cause }), ...(err.details === undefined ? {} : { details: err.details }) });
}

/** Makes `path` free for a new socket (nothing there, or a stale socket, unlinked); else an ApiServerError. */
export async function prepareSocketPath(path: string): Promise<void> {
  await preparePath(path, WHAT).catch((err: unknown) => {
    throw asApiServerError(err);
  });
}

/** Binds `server` to `path` with mode 0600 (listenPrivately); failures are ApiServerErrors. */
export async function bindPrivateSocket(server: Server, path: string): Promise<BoundSocket> {
  try {
    return await listenPrivately(server, path, WHAT);
  } catch (err) {
    throw asApiServerError(err);
  }
}
