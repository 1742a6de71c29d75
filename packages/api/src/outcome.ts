// The core's answer to a route's action -> the HTTP answer: the route's success status (200 with
// the value as JSON, or 204), or the error's status from the one code table (errors.ts).
import { errorCode, type ErrorData } from '@workervisor/base';
import type { ActionRoute } from './action-route.js';
import { errorBody, statusForCode, type ErrorBody } from './errors.js';

const VM_NOT_SUPPORTED = errorCode('VM', 'not-supported');

/** A route's endpoint as a client calls it, for messages: `PUT /api/v1/vm.boot`. */
export function endpointName(route: Pick<ActionRoute, 'method' | 'path'>, prefix: string): string {
  return `${route.method} ${prefix}${route.path}`;
}

/**
 * The message a client reads for `data`. The core refuses an unsupported action by name
 * (`details.action`, `details.reason`); the client is told the endpoint it called instead.
 */
function clientMessage(data: ErrorData, endpoint: string | undefined): string {
  const reason = data.details?.['reason'];
  if (endpoint === undefined || data.code !== VM_NOT_SUPPORTED || typeof data.details?.['action'] !== 'string' || typeof reason !== 'string') return data.message;
  return `${endpoint} is not supported by this VMM yet: ${reason}`;
}

/**
 * The HTTP answer for an error: its status, JSON body and, for a 405, the Allow header value.
 * `endpoint` (endpointName) is the route whose action failed, when the core answered.
 */
export function errorAnswer(data: ErrorData, endpoint?: string): { status: number; error: ErrorBody; allow?: string } {
  const status = statusForCode(data.code);
  const allow = data.details?.['allow'];
  return { status, error: errorBody({ ...data, message: clientMessage(data, endpoint) }), ...(status === 405 && typeof allow === 'string' ? { allow } : {}) };
}

/** The HTTP answer for `route`'s action succeeding with `value`. */
export function successAnswer(route: ActionRoute, value: unknown): { status: 204 } | { status: 200; body: unknown } {
  // A 200 route's action may still answer nothing (a cold-added device): Cloud Hypervisor's 204.
  if (route.status === 204 || value === undefined) return { status: 204 };
  return { status: 200, body: value };
}
