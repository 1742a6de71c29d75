// The core's answer to a route's action -> the HTTP answer: the route's success status (200 with
// the value as JSON, or 204), or the error's status from the one code table (errors.ts).
import { errorCode, type ErrorData } from '@workervisor/base';
import type { VmmActionType } from '@workervisor/vmm-core';
import type { ActionRoute } from './action-route.js';
import { errorBody, statusForCode, type ErrorBody } from './errors.js';
import { endpointOf } from './routes/index.js';

const VM_NOT_SUPPORTED = errorCode('VM', 'not-supported');

/**
 * The message a client reads for `data`. The core refuses an unsupported action by name
 * (`details.action`, `details.reason`); the client is told which endpoint it called.
 */
function clientMessage(data: ErrorData): string {
  const action = data.details?.['action'];
  const reason = data.details?.['reason'];
  if (data.code !== VM_NOT_SUPPORTED || typeof action !== 'string' || typeof reason !== 'string') return data.message;
  return `${endpointOf(action as VmmActionType)} is not supported by this VMM yet: ${reason}`;
}

/** The HTTP answer for an error: its status, JSON body and, for a 405, the Allow header value. */
export function errorAnswer(data: ErrorData): { status: number; error: ErrorBody; allow?: string } {
  const status = statusForCode(data.code);
  const allow = data.details?.['allow'];
  return { status, error: errorBody({ ...data, message: clientMessage(data) }), ...(status === 405 && typeof allow === 'string' ? { allow } : {}) };
}

/** The HTTP answer for `route`'s action succeeding with `value`. */
export function successAnswer(route: ActionRoute, value: unknown): { status: 204 } | { status: 200; body: unknown } {
  // A 200 route's action may still answer nothing (a cold-added device): Cloud Hypervisor's 204.
  if (route.status === 204 || value === undefined) return { status: 204 };
  return { status: 200, body: value };
}
