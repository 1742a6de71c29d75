// The route table of the Cloud Hypervisor-compatible API under /api/v1.
import type { ApiRequest } from '../protocol.js';
import { Router, type Route } from '../router.js';
import { vmDeviceRoutes } from './vm-devices.js';
import { vmLifecycleRoutes } from './vm-lifecycle.js';
import { vmStateRoutes } from './vm-state.js';
import { vmmRoutes } from './vmm.js';

export const API_PREFIX = '/api/v1';

/** Every route; each translates an HTTP request into one ApiRequest. */
export const API_ROUTES: readonly Route<ApiRequest>[] = [...vmmRoutes, ...vmLifecycleRoutes, ...vmDeviceRoutes, ...vmStateRoutes];

/** The router for API_ROUTES under API_PREFIX. */
export function createApiRouter(): Router<ApiRequest> {
  return new Router(API_ROUTES, API_PREFIX);
}
