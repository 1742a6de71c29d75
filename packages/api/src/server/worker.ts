// The API worker thread: node:http on the Unix socket. Each routed request goes to the main thread
// as { request: VmmAction, reply } and the answer on `reply` becomes the HTTP response. It loads
// no part of the core: vmm-core's action types are imported as types only.
import { createServer } from 'node:http';
import { MessageChannel, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { configureLogging, createLogger, toErrorData } from '@workervisor/base';
import { ApiError } from '../errors.js';
import type { ActionResult, VmmAction } from '@workervisor/vmm-core';
import { failure } from '../protocol.js';
import { createApiRouter } from '../routes/index.js';
import { createRequestHandler, createUpgradeHandler, handleClientError } from './http-handler.js';
import type { ApiWorkerData, MainToWorker, WorkerToMain } from './messages.js';
import { bindPrivateSocket, removeBoundSocket, type BoundSocket } from './socket.js';

const data = workerData as ApiWorkerData;
if (parentPort === null) throw new Error('server/worker.js must run as a worker thread');
const port: MessagePort = parentPort;
configureLogging(data.logLevel, data.logFd === undefined ? undefined : { fd: data.logFd });
const log = createLogger('api');

const post = (msg: WorkerToMain, transfer: MessagePort[] = []) => port.postMessage(msg, transfer);
let closing = false;

/** Sends an action to the core over a fresh channel and waits for the one answer. */
function dispatch(request: VmmAction): Promise<ActionResult> {
  if (closing) return Promise.resolve(failure(new ApiError('unavailable', 'The API server is shutting down')));
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    let answered = false;
    port1.once('message', (response: ActionResult) => {
      answered = true;
      port1.close();
      resolve(response);
    });
    // The core dropped the port without answering (it exited, or a bug).
    port1.once('close', () => {
      if (!answered) resolve(failure(new ApiError('unavailable', `The VMM did not answer ${request.type}`)));
    });
    post({ kind: 'request', request, reply: port2 }, [port2]);
  });
}

const inFlight = new Set<Promise<void>>();
const server = createServer(
  // No Host needed: a Unix socket has no host to name, and Cloud Hypervisor does not ask for one
  // (node:http would answer a bare 400 with an empty body).
  { requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000, requireHostHeader: false },
  (req, res) => {
    if (closing) res.shouldKeepAlive = false;
    const done = new Promise<void>((resolve) => res.once('close', resolve));
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
    handler(req, res);
  },
);
const router = createApiRouter();
const handler = createRequestHandler({
  router,
  dispatch,
  maxBodyBytes: data.maxBodyBytes,
  onResponse: (method, path, status) => log.debug('request', { method, path: path.slice(0, 128), status }),
});
server.on('clientError', handleClientError);
const upgrade = createUpgradeHandler(router);
server.on('connect', upgrade);
server.on('upgrade', upgrade);

let bound: BoundSocket | undefined;

async function close(): Promise<void> {
  closing = true;
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const grace = new Promise<void>((resolve) => setTimeout(resolve, data.closeGraceMs).unref());
  await Promise.race([Promise.all(inFlight), grace]);
  server.closeAllConnections();
  await stopped;
  if (bound !== undefined) await removeBoundSocket(bound).catch((err: unknown) => log.warn('cannot remove socket', { err: String(err) }));
  log.info('API server closed', { socketPath: data.socketPath });
  post({ kind: 'closed' });
  port.close();
}

port.on('message', (msg: MainToWorker) => {
  if (msg.kind === 'close') void close();
});

try {
  bound = await bindPrivateSocket(server, data.socketPath);
  if (data.seccomp !== undefined) {
    // After the socket is bound and the installer loaded, so the filter needs only what serving takes.
    const installer = (await import(data.seccomp.installerUrl)) as { installSeccompFilter(program: Uint8Array, options: { label: string }): void };
    installer.installSeccompFilter(data.seccomp.program, { label: 'api' });
    log.info('seccomp filter installed', { instructions: data.seccomp.program.length / 8 });
  }
  log.info('API server listening', { socketPath: data.socketPath });
  post({ kind: 'listening', socketPath: data.socketPath });
} catch (err) {
  post({ kind: 'start-failed', error: toErrorData(err) });
  port.close();
}
