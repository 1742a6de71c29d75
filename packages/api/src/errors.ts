// API errors: one kind per failure, and the one table that maps an error code to an HTTP status
// (fastify style). Status choices follow the per-route codes in Cloud Hypervisor's spec
// (routes/fixtures/cloud-hypervisor.yaml).
import { VmmError, type ErrorData } from '@workervisor/base';
import type { ErrorKind } from '@workervisor/base';

export type ApiErrorKind = ErrorKind<'API'>;

/** An API failure; `code` is `ERR_VMM_API_<KIND>` (e.g. `ERR_VMM_API_NOT_SUPPORTED`). */
export class ApiError extends VmmError<'API'> {
  constructor(
    kind: ApiErrorKind,
    message: string,
    options?: { cause?: unknown; details?: Record<string, string | number | boolean> },
  ) {
    super('API', kind, message, options);
  }
}

/** The code of `kind`, e.g. `apiErrorCode('not-supported') === 'ERR_VMM_API_NOT_SUPPORTED'`. */
export function apiErrorCode(kind: ApiErrorKind): string {
  return `ERR_VMM_API_${kind.replace(/-/g, '_').toUpperCase()}`;
}

/** The code a backend returns for a route it cannot serve yet; answered with 501. */
export const ERR_NOT_SUPPORTED = apiErrorCode('not-supported');

const STATUS_BY_KIND: Readonly<Record<ApiErrorKind, number>> = {
  'bad-request': 400,
  'request-timeout': 408,
  'not-found': 404,
  'method-not-allowed': 405,
  'invalid-json': 400,
  'invalid-body': 400,
  'invalid-query': 400,
  'invalid-param': 400,
  'body-too-large': 413,
  'unsupported-media-type': 415,
  'headers-too-large': 431,
  // Not an unknown route (404) and not a failure of a supported one (500): the route exists in
  // the API but this VMM does not implement it yet.
  'not-supported': 501,
  // The spec answers 404 for every route used before vm.create ("because it is not created").
  'vm-not-created': 404,
  // The spec answers 405 for pause/resume/shutdown/reboot/power-button/snapshot/coredump in the
  // wrong lifecycle state ("because it is not booted" / "not paused").
  'vm-not-booted': 405,
  'vm-not-paused': 405,
  // vm.create twice; the spec documents no code, and 409 is what it uses for duplicates.
  'vm-already-created': 409,
  // Any other lifecycle misuse (e.g. vm.boot of a running VM).
  'invalid-state': 409,
  // add-* / restore with a configuration the VMM rejects.
  'invalid-config': 400,
  // add-*: "a device with the same identifier already exists".
  'device-exists': 409,
  // remove-device / resize-disk: "no device with the given identifier exists".
  'device-not-found': 404,
  // vm.resize: "a cpu removal is still pending".
  'resize-pending': 429,
  unavailable: 503,
  internal: 500,
};

/** Code -> HTTP status, for every ApiError code. */
export const STATUS_BY_CODE: ReadonlyMap<string, number> = new Map(
  (Object.entries(STATUS_BY_KIND) as [ApiErrorKind, number][]).map(([kind, status]) => [apiErrorCode(kind), status]),
);

/** The HTTP status for an error code; any code not in the table (a core failure) is a 500. */
export function statusForCode(code: string): number {
  return STATUS_BY_CODE.get(code) ?? 500;
}

/** The JSON body of an error response: `{ message, code, field? }`. */
export interface ErrorBody {
  message: string;
  code: string;
  field?: string;
}

export function errorBody(data: ErrorData): ErrorBody {
  const field = data.details?.['field'];
  return { message: data.message, code: data.code, ...(typeof field === 'string' ? { field } : {}) };
}
