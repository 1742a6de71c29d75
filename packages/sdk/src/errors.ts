// Errors of the SDK: the VMM answered with an error (ResponseError), the VMM could not be reached
// (ConnectionError), or a launched VMM did not come up (LaunchError).
import { STATUS_CODES } from 'node:http';
import { VmmError } from '@workervisor/base';
import type { ErrorKind } from '@workervisor/base';

export type ResponseErrorKind = ErrorKind<'RESPONSE'>;

const KIND_BY_STATUS: ReadonlyMap<number, ResponseErrorKind> = new Map([
  [400, 'bad-request'],
  [404, 'not-found'],
  // Cloud Hypervisor answers 405 when the VM is in the wrong state for the action.
  [405, 'not-allowed'],
  [409, 'conflict'],
  [429, 'too-many-requests'],
  [500, 'internal'],
  [501, 'not-implemented'],
]);

/** What the server said, as far as the body could be parsed. */
export interface ServerErrorBody {
  message: string;
  /** The server's own error code (`ERR_VMM_...`) when its body carried one. */
  code?: string;
  kind?: string;
  /** The request-body field at fault (Workervisor's validation errors), e.g. `cpus.boot_vcpus`. */
  field?: string;
}

/**
 * The VMM answered a request with a non-2xx status (or a 2xx whose body was not the JSON the
 * route promises). `serverMessage` is the server's message verbatim; `message` prefixes it with
 * the route and status.
 */
export class ResponseError extends VmmError<'RESPONSE'> {
  /** HTTP status, e.g. 404. */
  readonly status: number;
  readonly method: string;
  /** Route name as in the spec, e.g. `vm.boot`. */
  readonly route: string;
  readonly serverMessage: string;
  /** The server's error code, when its JSON body had one. */
  readonly serverCode: string | undefined;
  /** The request-body field the server blamed, when it named one. */
  readonly field: string | undefined;

  constructor(
    method: string,
    route: string,
    status: number,
    body: ServerErrorBody,
    options?: { kind?: ResponseErrorKind; cause?: unknown },
  ) {
    const kind = options?.kind ?? KIND_BY_STATUS.get(status) ?? 'unexpected-status';
    const details: Record<string, string | number> = { status, method, route };
    if (body.code !== undefined) details['serverCode'] = body.code;
    if (body.field !== undefined) details['field'] = body.field;
    const statusText = STATUS_CODES[status];
    super('RESPONSE', kind, `${method} ${route} failed with ${status}${statusText === undefined ? '' : ` ${statusText}`}: ${body.message}`, {
      details,
      ...(options?.cause === undefined ? {} : { cause: options.cause }),
    });
    this.status = status;
    this.method = method;
    this.route = route;
    this.serverMessage = body.message;
    this.serverCode = body.code;
    this.field = body.field;
  }
}

/**
 * Reads an error body: Workervisor sends `{ "message", "code", "field"? }`; Cloud
 * Hypervisor itself sends plain text (or a JSON string). An empty body falls back to the status text.
 */
export function parseErrorBody(status: number, text: string): ServerErrorBody {
  const trimmed = text.trim();
  if (trimmed === '') return { message: STATUS_CODES[status] ?? `HTTP ${status}` };
  try {
    const parsed: unknown = JSON.parse(trimmed);
    if (typeof parsed === 'string') return { message: parsed };
    if (parsed !== null && typeof parsed === 'object') {
      const o = parsed as Record<string, unknown>;
      const message = typeof o['message'] === 'string' ? o['message'] : typeof o['error'] === 'string' ? o['error'] : undefined;
      if (message !== undefined) {
        return {
          message,
          ...(typeof o['code'] === 'string' ? { code: o['code'] } : {}),
          ...(typeof o['kind'] === 'string' ? { kind: o['kind'] } : {}),
          ...(typeof o['field'] === 'string' ? { field: o['field'] } : {}),
        };
      }
    }
  } catch {
    // Not JSON: plain text is the message.
  }
  return { message: trimmed };
}

export type ConnectionErrorKind = ErrorKind<'CONNECTION'>;

const CONNECTION_HINTS: Record<ConnectionErrorKind, string> = {
  'no-socket': 'no such socket; is the VMM running with --api-socket at that path?',
  refused: 'connection refused; the socket exists but no VMM is listening on it',
  closed: 'the VMM closed the connection before answering',
  timeout: 'the VMM did not answer in time',
  failed: 'the connection failed',
  'client-closed': 'this client was closed; connect() again',
};

/** The VMM's API socket could not be reached, or the connection broke mid-request. */
/** How a launched VMM ended, when that explains a lost connection. */
export interface VmmEnd {
  /** e.g. `code 159` or `signal SIGKILL`. */
  readonly exit: string;
  /** The end of its stderr (its log lines and fatal errors). */
  readonly stderr: string;
}

export class ConnectionError extends VmmError<'CONNECTION'> {
  readonly socketPath: string;
  readonly route: string;
  /** Set when the SDK launched the VMM and it had exited: how, and its stderr. */
  readonly vmmEnd: VmmEnd | undefined;
  constructor(kind: ConnectionErrorKind, socketPath: string, route: string, cause?: unknown, vmmEnd?: VmmEnd) {
    const errno = errnoOf(cause);
    const ended = vmmEnd === undefined ? '' : `; the VMM exited (${vmmEnd.exit}), its stderr ends: ${vmmEnd.stderr.trim().slice(-2000) || '(empty)'}`;
    super('CONNECTION', kind, `cannot reach the VMM API at ${socketPath} (${route}): ${CONNECTION_HINTS[kind]}${errno === undefined ? '' : ` [${errno}]`}${ended}`, {
      details: { socketPath, route, ...(vmmEnd === undefined ? {} : { vmmExit: vmmEnd.exit }) },
      ...(cause === undefined ? {} : { cause }),
    });
    this.socketPath = socketPath;
    this.route = route;
    this.vmmEnd = vmmEnd;
  }
}

function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps an undici / socket failure to a ConnectionError kind. */
export function connectionErrorKind(err: unknown): ConnectionErrorKind {
  switch (errnoOf(err)) {
    case 'ENOENT':
    case 'ENOTDIR':
      return 'no-socket';
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return 'closed';
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'timeout';
    default:
      return 'failed';
  }
}

export type LaunchErrorKind = ErrorKind<'LAUNCH'>;

/** `launch()` could not bring a VMM up; the message carries the child's stderr tail when it has one. */
export class LaunchError extends VmmError<'LAUNCH'> {
  /** The child's stderr (last 64 KiB) at the time of failure. */
  readonly stderr: string;
  constructor(kind: LaunchErrorKind, message: string, options?: { cause?: unknown; stderr?: string }) {
    super('LAUNCH', kind, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.stderr = options?.stderr ?? '';
  }
}

export type SerialWaitErrorKind = ErrorKind<'SERIAL_WAIT'>;

/** `Vm.waitForSerial` gave up; the message quotes the tail of the console output. */
export class SerialWaitError extends VmmError<'SERIAL_WAIT'> {
  constructor(kind: SerialWaitErrorKind, message: string) {
    super('SERIAL_WAIT', kind, message);
  }
}
