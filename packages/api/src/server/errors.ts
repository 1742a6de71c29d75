// Failures of the API server itself (socket path, worker start), as opposed to per-request errors.
import { VmmError } from '@workervisor/base';

export type ApiServerErrorKind = 'path-exists' | 'socket-in-use' | 'path-too-long' | 'listen-failed' | 'worker-failed';

/** Code `ERR_VMM_API_SERVER_<KIND>`, e.g. `ERR_VMM_API_SERVER_SOCKET_IN_USE`. */
export class ApiServerError extends VmmError<ApiServerErrorKind> {
  constructor(kind: ApiServerErrorKind, message: string, options?: { cause?: unknown; details?: Record<string, string | number | boolean> }) {
    super('API_SERVER', kind, message, options);
  }
}
