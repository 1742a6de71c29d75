// The base of every Workervisor error: a stable code, a kind per failure, the cause chained.
// Errors cross threads as plain data (structured clone drops classes), see toErrorData.
import { ERR_VMM_INTERNAL, errorCode, type ErrorKind, type ErrorPrefix } from './error-codes.js';

/** Plain-data form of an error, safe to post between threads and to serialize as JSON. */
export interface ErrorData {
  readonly name: string;
  readonly code: string;
  readonly kind: string;
  readonly message: string;
  readonly cause?: ErrorData;
  /** Extra fields (errno, syscall, ioctl, field, ...). JSON-safe. */
  readonly details?: Record<string, string | number | boolean>;
}

/**
 * Base class of every Workervisor error: the prefix names the class's entry in ERROR_CODES
 * (error-codes.ts) and the kind one of its failures.
 * `new BusError('overlap', 'range 0x3f8+8 overlaps COM1')` has code `ERR_VMM_BUS_OVERLAP`.
 */
export class VmmError<P extends ErrorPrefix = ErrorPrefix> extends Error {
  readonly prefix: P;
  readonly kind: ErrorKind<P>;
  readonly code: string;
  readonly details: Record<string, string | number | boolean> | undefined;

  constructor(
    prefix: P,
    kind: ErrorKind<P>,
    message: string,
    options?: { cause?: unknown; details?: Record<string, string | number | boolean> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.prefix = prefix;
    this.kind = kind;
    this.code = errorCode(prefix, kind);
    this.details = options?.details;
  }
}

/** Converts any thrown value into plain data for postMessage / JSON. */
export function toErrorData(err: unknown): ErrorData {
  if (err instanceof Error) {
    const e = err as Error & { code?: unknown; kind?: unknown; details?: unknown; errno?: unknown; errnoName?: unknown; syscall?: unknown; ioctl?: unknown };
    let details: Record<string, string | number | boolean> | undefined;
    if (e.details !== null && typeof e.details === 'object') details = { ...(e.details as Record<string, string | number | boolean>) };
    for (const k of ['errno', 'errnoName', 'syscall', 'ioctl'] as const) {
      const v = e[k];
      if (typeof v === 'string' || typeof v === 'number') (details ??= {})[k] = v;
    }
    return {
      name: e.name,
      code: typeof e.code === 'string' ? e.code : ERR_VMM_INTERNAL,
      kind: typeof e.kind === 'string' ? e.kind : 'internal',
      message: e.message,
      ...(e.cause === undefined ? {} : { cause: toErrorData(e.cause) }),
      ...(details === undefined ? {} : { details }),
    };
  }
  return { name: 'Error', code: ERR_VMM_INTERNAL, kind: 'internal', message: String(err) };
}

/** An error rebuilt on the receiving side of a thread boundary. */
export class RemoteError extends Error {
  readonly code: string;
  readonly kind: string;
  readonly details: Record<string, string | number | boolean> | undefined;
  constructor(data: ErrorData) {
    super(data.message, data.cause === undefined ? undefined : { cause: new RemoteError(data.cause) });
    this.name = data.name;
    this.code = data.code;
    this.kind = data.kind;
    this.details = data.details;
  }
}

/** Rebuilds an error from its data form. */
export function fromErrorData(data: ErrorData): RemoteError {
  return new RemoteError(data);
}
