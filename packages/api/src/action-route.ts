// A route of the VMM API: one HTTP method + path that produces one VmmAction, with its body schema
// and its success status. A route file declares these; the route table, the endpoint names and
// the messages that name a route are derived from them (routes/index.ts).
import type { TSchema } from '@sinclair/typebox';
import type { ActionOf, ActionValue, VmmActionType } from '@workervisor/vmm-core';
import { body as bodyExtractor, route, type Guard, type HttpMethod, type Route, type RouteDoc } from './router.js';

/**
 * The status of a success: 204 for an action that succeeds with nothing; 200 with the value as
 * JSON otherwise (a 200 route whose action answers no value, a cold-added device, still gets 204).
 */
export type SuccessStatus<T extends VmmActionType> = [ActionValue<T>] extends [undefined] ? 204 : 200;

type BodyOf<T extends VmmActionType> = ActionOf<T> extends { body: infer B } ? B : undefined;

/** The body schema an action needs: none, or one whose static type is the action's `body`. */
type BodySpec<T extends VmmActionType> = [BodyOf<T>] extends [undefined] ? { body?: never } : { body: TSchema & { static: BodyOf<T> } };

/** What a route file writes for one route. */
export type ActionRouteSpec<T extends VmmActionType> = {
  method: HttpMethod;
  /** Relative to API_PREFIX, e.g. `/vm.create`. */
  path: string;
  action: T;
  status: SuccessStatus<T>;
  doc: RouteDoc;
  guards?: readonly Guard[];
} & BodySpec<T>;

/** A route producing the action of type `T`. */
export interface ActionRouteOf<T extends VmmActionType> extends Route<ActionOf<T>> {
  readonly action: T;
  readonly status: SuccessStatus<T>;
}

/** Any API route (a union over the action types, so each keeps its own status type). */
export type ActionRoute = { [T in VmmActionType]: ActionRouteOf<T> }[VmmActionType];

/**
 * Declares a route: `actionRoute({ method: 'PUT', path: '/vm.boot', action: 'VmBoot', status: 204, doc })`.
 * A body schema is required exactly when the action has a body, and must produce its type.
 */
export function actionRoute<T extends VmmActionType>(spec: ActionRouteSpec<T>): ActionRouteOf<T> {
  const options = { doc: spec.doc, ...(spec.guards === undefined ? {} : { guards: spec.guards }) };
  // BodySpec ties the schema's type to the action's body; TypeScript cannot follow that through T.
  const r =
    spec.body === undefined
      ? route(spec.method, spec.path, [], () => ({ type: spec.action }) as ActionOf<T>, options)
      : route(spec.method, spec.path, [bodyExtractor(spec.body)], (b) => ({ type: spec.action, body: b as unknown }) as ActionOf<T>, options);
  return { ...r, action: spec.action, status: spec.status };
}
