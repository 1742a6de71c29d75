// startApiServer: runs the HTTP API in its own worker thread and serves its requests from the
// main thread by calling the backend, one reply port per request (DESIGN.md "Control plane").
import { existsSync } from 'node:fs';
import { channel } from 'node:diagnostics_channel';
import { fileURLToPath } from 'node:url';
import { Worker, type MessagePort } from 'node:worker_threads';
import { createLogger, fromErrorData, logFileDescriptor, logLevel, type LogLevel } from '@workervisor/base';
import { ApiError } from '../errors.js';
import type { ActionResult, VmmAction } from '@workervisor/vmm-core';
import { failure, type ApiBackend } from '../protocol.js';
import { ApiServerError } from './errors.js';
import { DEFAULT_MAX_BODY_BYTES } from './http-handler.js';
import type { ApiSeccomp, ApiWorkerData, MainToWorker, WorkerToMain } from './messages.js';

const log = createLogger('api');
/** Published for every request answered: `{ request, response }`. */
const requestChannel = channel('workervisor:api:request');

export interface ApiServerOptions {
  /** Unix socket path (created with mode 0600; a stale socket there is replaced). */
  socketPath: string;
  backend: ApiBackend;
  /** Log level inside the worker; defaults to this thread's level. */
  logLevel?: LogLevel;
  /** Request body cap in bytes (413 beyond it); default 1 MiB. */
  maxBodyBytes?: number;
  /** How long close() lets in-flight requests finish, ms; default 2000. */
  closeGraceMs?: number;
  /** The compiled worker module; defaults to dist/server/worker.js. */
  workerUrl?: URL;
  /** The api seccomp filter (--seccomp-filter), installed on the worker's thread once it listens. */
  seccomp?: ApiSeccomp;
}

export interface ApiServerHandle {
  readonly socketPath: string;
  /** Stops accepting, lets in-flight requests finish, removes the socket, ends the worker. */
  close(): Promise<void>;
}

/** The compiled worker: next to this module in dist, or dist's copy when running from src. */
function defaultWorkerUrl(): URL {
  const sibling = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(sibling))) return sibling;
  return new URL('../../dist/server/worker.js', import.meta.url);
}

async function serve(backend: ApiBackend, request: VmmAction, reply: MessagePort): Promise<void> {
  let response: ActionResult;
  try {
    response = await backend.handle(request);
  } catch (err) {
    // A backend should answer { ok: false }; a throw is still reported, never a hang.
    log.warn('backend threw', { type: request.type, err: String(err) });
    response = failure(err);
  }
  try {
    reply.postMessage(response);
  } catch (err) {
    reply.postMessage(failure(new ApiError('internal', `The ${request.type} response cannot be sent`, { cause: err })));
  }
  reply.close();
  if (requestChannel.hasSubscribers) requestChannel.publish({ request, response });
}

/** Starts the API server; resolves once the socket accepts connections. */
export function startApiServer(options: ApiServerOptions): Promise<ApiServerHandle> {
  const logFd = logFileDescriptor();
  const workerData: ApiWorkerData = {
    socketPath: options.socketPath,
    logLevel: options.logLevel ?? logLevel(),
    // The worker writes to this thread's log file rather than opening it again.
    ...(logFd === undefined ? {} : { logFd }),
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    closeGraceMs: options.closeGraceMs ?? 2_000,
    ...(options.seccomp === undefined ? {} : { seccomp: options.seccomp }),
  };
  const worker = new Worker(options.workerUrl ?? defaultWorkerUrl(), { workerData, name: 'workervisor-api' });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));

  return new Promise((resolve, reject) => {
    let started = false;
    worker.on('message', (msg: WorkerToMain) => {
      switch (msg.kind) {
        case 'request':
          void serve(options.backend, msg.request, msg.reply);
          break;
        case 'listening':
          started = true;
          resolve(handle);
          break;
        case 'start-failed':
          reject(fromErrorData(msg.error));
          break;
        case 'closed':
          // Everything is released; do not wait for stray handles to drain.
          setTimeout(() => void worker.terminate(), 1_000).unref();
          break;
      }
    });
    worker.on('error', (err) => {
      log.error('API worker failed', { err: String(err) });
      if (!started) reject(new ApiServerError('worker-failed', 'The API worker failed to start', { cause: err }));
    });
    void exited.then((code) => {
      if (!started) reject(new ApiServerError('worker-failed', `The API worker exited with code ${code} before listening`));
    });

    let closed: Promise<void> | undefined;
    const handle: ApiServerHandle = {
      socketPath: options.socketPath,
      close() {
        closed ??= (async () => {
          worker.postMessage({ kind: 'close' } satisfies MainToWorker);
          await exited;
        })();
        return closed;
      },
    };
  });
}
