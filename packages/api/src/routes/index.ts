// The route table of the Cloud Hypervisor-compatible API under /api/v1, gathered from the route
// files; the endpoint of each action is derived from it.
import type { VmmActionType } from '@workervisor/vmm-core';
import type { ActionRoute } from '../action-route.js';
import { endpointName } from '../outcome.js';
import { Router } from '../router.js';
import { vmDeviceRoutes } from './vm-devices.js';
import { vmLifecycleRoutes } from './vm-lifecycle.js';
import { vmStateRoutes } from './vm-state.js';
import { vmmRoutes } from './vmm.js';

export const API_PREFIX = '/api/v1';

const ROUTES = [...vmmRoutes, ...vmLifecycleRoutes, ...vmDeviceRoutes, ...vmStateRoutes];

// Every action has a route: an action added to VmmAction without one fails to compile here.
type Unrouted = Exclude<VmmActionType, (typeof ROUTES)[number]['action']>;
const everyActionRouted: [Unrouted] extends [never] ? true : Unrouted = true;
void everyActionRouted;

/** Every route; each translates an HTTP request into one VmmAction. */
export const API_ROUTES: readonly ActionRoute[] = ROUTES;

const ROUTE_OF_ACTION: ReadonlyMap<VmmActionType, ActionRoute> = (() => {
  const byAction = new Map<VmmActionType, ActionRoute>();
  for (const r of API_ROUTES) {
    const other = byAction.get(r.action);
    if (other !== undefined) throw new Error(`${r.action} has two routes: ${other.method} ${other.path} and ${r.method} ${r.path}`);
    byAction.set(r.action, r);
  }
  return byAction;
})();

/** The route that produces `action`. */
export function routeOf(action: VmmActionType): ActionRoute | undefined {
  return ROUTE_OF_ACTION.get(action);
}

/** The endpoint of an action, for messages: `endpointOf('VmBoot') === 'PUT /api/v1/vm.boot'`. */
export function endpointOf(action: VmmActionType): string {
  const r = ROUTE_OF_ACTION.get(action);
  return r === undefined ? action : endpointName(r, API_PREFIX);
}

/** The router for API_ROUTES under API_PREFIX. */
export function createApiRouter(): Router<ActionRoute> {
  return new Router(API_ROUTES, API_PREFIX);
}
