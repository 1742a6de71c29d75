// API errors: one kind per failure, and the one table that maps any error code, the API's or the
// core's, to an HTTP status (fastify style). Status choices follow the per-route codes in
// routes/fixtures/cloud-hypervisor.yaml.
import { ERROR_CODES, VmmError, errorCode, type ErrorData, type ErrorKind, type ErrorPrefix } from '@workervisor/base';

export type ApiErrorKind = ErrorKind<'API'>;

/** A failure of the router or the HTTP server; `code` is `ERR_VMM_API_<KIND>` (e.g. `ERR_VMM_API_NOT_FOUND`). */
export class ApiError extends VmmError<'API'> {
  constructor(
    kind: ApiErrorKind,
    message: string,
    options?: { cause?: unknown; details?: Record<string, string | number | boolean> },
  ) {
    super('API', kind, message, options);
  }
}

/** The code of `kind`, e.g. `apiErrorCode('not-found') === 'ERR_VMM_API_NOT_FOUND'`. */
export function apiErrorCode(kind: ApiErrorKind): string {
  return errorCode('API', kind);
}

/** A status for a whole prefix, or one per kind (kinds left out are 500s). */
type PrefixStatus<P extends ErrorPrefix> = number | { readonly [K in ErrorKind<P>]?: number };

/**
 * The one error code -> HTTP status table: the API's own codes, and those of the core's failures,
 * which reach the client under their own codes (a FIFO kernel at vm.boot is
 * ERR_VMM_HOST_FILE_NOT_REGULAR, a 400). Any code not listed is a 500.
 */
const STATUS_BY_PREFIX: { readonly [P in ErrorPrefix]?: PrefixStatus<P> } = {
  API: {
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
    // The API worker is closing, or the core dropped a request without answering.
    unavailable: 503,
    internal: 500,
  },
  VM: {
    // Not an unknown route (404) and not a failure of a supported one (500): the route exists in
    // the API, or the config key in the schema, but this VMM does not implement it yet.
    'not-supported': 501,
    // vm.create (or vm.boot) with a configuration the VMM rejects.
    'invalid-config': 400,
    // An action's body the VM cannot act on (vm.resize's desired_balloon without a balloon, or past RAM).
    'invalid-request': 400,
    // The spec answers 404 for every route used before vm.create ("because it is not created").
    'not-created': 404,
    // vm.create twice; the spec documents no code, and 409 is what it uses for duplicates.
    'already-created': 409,
    // The spec answers 405 for pause/resume/shutdown/reboot/power-button/snapshot/coredump in the
    // wrong lifecycle state ("because it is not booted" / "not paused").
    'not-booted': 405,
    'not-paused': 405,
    // Other lifecycle misuse: vm.boot of a running VM, vm.pause of a paused one.
    'already-booted': 409,
    'already-paused': 409,
  },
  // The VM's kernel, initramfs, disks or memory size are unusable: the request's fault, not the VMM's.
  LOADER: 400,
  X86: 400,
  ACPI: 400,
  GUEST_MEMORY: 400,
  HOST_FILE: 400,
  // The image is held by another VMM or attached twice: a conflict with the disk's state, as for a duplicate.
  DISK_LOCK: 409,
  BUILD: { 'disk-unreadable': 400, 'net-unavailable': 400 },
  // A bad URL or snapshot is the request's fault; a device without snapshot support is "not
  // supported" like an unimplemented route; failing to write or restore is the VMM's (500).
  SNAPSHOT: {
    'invalid-url': 400,
    'unsupported-device': 501,
    'destination-exists': 409,
    'not-found': 400,
    'invalid-state': 400,
    'version-mismatch': 400,
    'cpu-mismatch': 400,
    'memory-mismatch': 400,
  },
  // A vCPU asked for its snapshot state while running: the lifecycle's fault, like vm.snapshot unpaused.
  VCPU: { 'not-paused': 405 },
};

/** Code -> HTTP status, for every code STATUS_BY_PREFIX gives a status. */
export const STATUS_BY_CODE: ReadonlyMap<string, number> = (() => {
  const table = new Map<string, number>();
  for (const [prefix, status] of Object.entries(STATUS_BY_PREFIX) as [ErrorPrefix, PrefixStatus<ErrorPrefix>][]) {
    for (const kind of ERROR_CODES[prefix].kinds as readonly ErrorKind<ErrorPrefix>[]) {
      const s = typeof status === 'number' ? status : status[kind];
      if (s !== undefined) table.set(errorCode(prefix, kind), s);
    }
  }
  return table;
})();

/** The HTTP status for an error code; any code not in the table (a failure of the VMM itself) is a 500. */
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
