// Failures of the API server itself (socket path, worker start), as opposed to per-request errors.
import { VmmError } from '@workervisor/base';
import type { ErrorKind } from '@workervisor/base';

export type ApiServerErrorKind = ErrorKind<'API_SERVER'>;

/** Code `ERR_VMM_API_SERVER_<KIND>`, e.g. `ERR_VMM_API_SERVER_SOCKET_IN_USE`. */
export class ApiServerError extends VmmError<'API_SERVER'> {
  constructor(kind: ApiServerErrorKind, message: string, options?: { cause?: unknown; details?: Record<string, string | number | boolean> }) {
    super('API_SERVER', kind, message, options);
  }
}
