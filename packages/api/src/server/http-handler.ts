// The HTTP side of the API worker: reads a size-capped body, routes the request, hands the
// resulting VmmAction to `dispatch`, and writes the JSON answer. Malformed HTTP gets a JSON 400.
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { toErrorData, type ErrorData } from '@workervisor/base';
import type { ActionResult, VmmAction } from '@workervisor/vmm-core';
import type { ActionRoute } from '../action-route.js';
import { ApiError } from '../errors.js';
import { endpointName, errorAnswer, successAnswer } from '../outcome.js';
import type { Router } from '../router.js';

/** The default request body cap: 1 MiB, far above any VmConfig. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export interface HttpHandlerOptions {
  router: Router<ActionRoute>;
  /** Sends one action to the core; must resolve (errors travel as `{ ok: false }`). */
  dispatch(action: VmmAction): Promise<ActionResult>;
  maxBodyBytes?: number;
  /** Called once per finished request (logging hook). */
  onResponse?(method: string, path: string, status: number): void;
}

function sendJson(res: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Writes an error; `close` ends the connection (the request body was not fully read). */
export function sendError(res: ServerResponse, data: ErrorData, close = false, endpoint?: string): number {
  const { status, error, allow } = errorAnswer(data, endpoint);
  const headers: Record<string, string> = {};
  if (allow !== undefined) headers['Allow'] = allow;
  if (close) headers['Connection'] = 'close';
  sendJson(res, status, error, headers);
  return status;
}

function sendResult(res: ServerResponse, route: ActionRoute, endpoint: string, result: ActionResult): number {
  if (!result.ok) return sendError(res, result.error, false, endpoint);
  const answer = successAnswer(route, result.value);
  if (answer.status === 204) {
    res.writeHead(204);
    res.end();
    return 204;
  }
  let text: string;
  try {
    text = JSON.stringify(answer.body);
  } catch (err) {
    return sendError(res, toErrorData(new ApiError('internal', 'The response body is not serializable', { cause: err })));
  }
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
  return 200;
}

/** Reads the whole body, or rejects with `body-too-large` as soon as it passes `limit`. */
function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limit) {
        cleanup();
        reject(new ApiError('body-too-large', `Request body exceeds ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** How much of an oversized body is read and discarded so the client sees the 413 (lingering close). */
const DRAIN_MAX_BYTES = 16 * 1024 * 1024;
const DRAIN_MAX_MS = 5_000;

/**
 * Discards the rest of a request body, up to a bound. A client still writing when the connection
 * closes gets EPIPE and never reads the answer; draining first lets it read the 413.
 */
function drain(req: IncomingMessage): Promise<void> {
  if (req.complete) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => {
      clearTimeout(timer);
      req.off('data', onData);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.byteLength;
      if (seen > DRAIN_MAX_BYTES) done();
    };
    const timer = setTimeout(done, DRAIN_MAX_MS);
    req.on('data', onData);
    req.once('end', done);
    req.once('error', done);
    req.once('close', done);
    req.resume();
  });
}

/**
 * The path and query of a request target, exactly as sent. WHATWG URL parsing would resolve
 * `%2e%2e` and `..` segments and read `//api/...` as a host, so a route could be reached under
 * another path; the router matches the raw path instead (RFC 9112 section 3.2: origin-form, or
 * absolute-form, whose authority is dropped). Anything else (`*`, authority-form) is a 400.
 */
export function requestTarget(raw: string): { path: string; query: URLSearchParams } {
  let rest = raw;
  const absolute = /^https?:\/\/[^/?#]*/i.exec(raw);
  if (absolute !== null) rest = raw.slice(absolute[0].length) || '/';
  if (!rest.startsWith('/')) throw new ApiError('bad-request', `Request target ${truncate(raw)} is not a path (such as /api/v1/vm.info)`);
  const q = rest.indexOf('?');
  return q < 0 ? { path: rest, query: new URLSearchParams() } : { path: rest.slice(0, q), query: new URLSearchParams(rest.slice(q + 1)) };
}

/** Keeps attacker-sized strings out of messages. */
function truncate(s: string, max = 128): string {
  return s.length <= max ? s : `${s.slice(0, max)}...`;
}

/** A node:http 'request' listener serving the API. */
export function createRequestHandler(options: HttpHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const { router, dispatch } = options;

  return (req, res) => {
    const method = req.method ?? '';
    let path = '';
    const finish = (status: number) => options.onResponse?.(method, path, status);
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
    const fail = (err: unknown, close = hasBody && !req.complete) => {
      if (res.headersSent || res.destroyed) return;
      finish(sendError(res, toErrorData(err), close));
    };

    void (async () => {
      const target = requestTarget(req.url ?? '');
      path = target.path;
      const { route, params } = router.match(method, path);

      const declared = Number(req.headers['content-length'] ?? '0');
      if (declared > limit) throw new ApiError('body-too-large', `Request body of ${declared} bytes exceeds ${limit} bytes`);
      const body = hasBody ? await readBody(req, limit) : new Uint8Array(0);

      const action = route.invoke({ method, path, query: target.query, headers: req.headers, body, params });
      finish(sendResult(res, route, endpointName(route, router.prefix), await dispatch(action)));
    })().catch(async (err: unknown) => {
      if (err instanceof ApiError && err.kind === 'body-too-large') await drain(req);
      fail(err);
    });
  };
}

/** Writes a JSON error straight to a socket node:http no longer manages, and closes it. */
function endWithError(socket: Duplex, data: ErrorData): void {
  const { status, error, allow } = errorAnswer(data);
  const text = JSON.stringify(error);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n` +
      `${allow !== undefined ? `Allow: ${allow}\r\n` : ''}Connection: close\r\n\r\n${text}`,
  );
}

/**
 * node:http 'clientError' listener: answers unparseable HTTP with a JSON 400 (431 for oversized
 * headers) and closes the connection, which is all HTTP allows once the framing is lost.
 */
export function handleClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const message = tooLarge ? 'Request headers are too large' : timedOut ? 'Request timed out' : `Malformed HTTP request (${err.code ?? 'parse error'})`;
  endWithError(socket, toErrorData(new ApiError(tooLarge ? 'headers-too-large' : timedOut ? 'request-timeout' : 'bad-request', message)));
}

/**
 * node:http 'connect' and 'upgrade' listener. Without one node:http drops such a connection with no
 * answer; the API tunnels nothing and speaks only HTTP/1.1, so each gets a JSON error: a 405 (with
 * Allow) or 404 when the target is a path, else a 400.
 */
export function createUpgradeHandler(router: Router<ActionRoute>): (req: IncomingMessage, socket: Duplex) => void {
  return (req, socket) => {
    const method = req.method ?? '';
    let error: unknown;
    try {
      if (method !== 'CONNECT') throw new ApiError('bad-request', `Protocol upgrades are not supported (Upgrade: ${truncate(String(req.headers.upgrade ?? ''))}); send plain HTTP/1.1`);
      const { path } = requestTarget(req.url ?? '');
      router.match(method, path);
      error = new ApiError('method-not-allowed', `Method CONNECT is not allowed on ${truncate(path)}`);
    } catch (err) {
      error = err;
    }
    if (method === 'CONNECT' && error instanceof ApiError && error.kind === 'bad-request') {
      error = new ApiError('bad-request', `CONNECT ${truncate(req.url ?? '')}: the API tunnels nothing; send requests to paths under /api/v1`);
    }
    socket.on('error', () => socket.destroy());
    endWithError(socket, toErrorData(error));
  };
}
