// An Actix-style router: a route declares typed extractors (path param, query, JSON body, header)
// and guards, and its handler receives the extracted values as typed arguments, any number of them.
// Transport-free: the HTTP server builds a RequestContext and turns thrown ApiErrors into responses.
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { ApiError, type ApiErrorKind } from './errors.js';

export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

/** One HTTP request as the router sees it; `body` is already read (and size-capped). */
export interface RequestContext {
  readonly method: string;
  /** The path without the query string, e.g. `/api/v1/vm.info`. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-case header names, as node:http gives them. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly body: Uint8Array;
}

/** A matched request: the context plus the path parameters of the route's pattern. */
export interface MatchedRequest extends RequestContext {
  readonly params: Readonly<Record<string, string>>;
}

/** Where an extractor takes its value from; openapi.ts reads this. */
export type ExtractorSource =
  | { in: 'body'; schema: TSchema }
  | { in: 'query'; schema: TSchema }
  | { in: 'path'; name: string; schema?: TSchema }
  | { in: 'header'; name: string };

/** Produces one typed handler argument, or throws an ApiError (a 4xx). */
export interface Extractor<T> {
  readonly source: ExtractorSource;
  extract(req: MatchedRequest): T;
}

/** Accepts or rejects a request before any extractor runs; throws an ApiError to reject. */
export interface Guard {
  readonly description: string;
  check(req: MatchedRequest): void;
}

/** The handler arguments for a tuple of extractors. */
export type Extracted<E extends readonly Extractor<unknown>[]> = {
  -readonly [K in keyof E]: E[K] extends Extractor<infer T> ? T : never;
};

/** Documentation attached to a route (rendered by openapi.ts). */
export interface RouteDoc {
  summary?: string;
  /** HTTP status -> description and, for JSON responses, the body schema. */
  responses?: Readonly<Record<number, { description: string; schema?: TSchema }>>;
}

export interface Route<R> {
  readonly method: HttpMethod;
  /** Pattern relative to the router prefix; `{name}` segments are path parameters. */
  readonly path: string;
  readonly extractors: readonly Extractor<unknown>[];
  readonly guards: readonly Guard[];
  readonly doc: RouteDoc;
  /** Runs guards, extractors and the handler. */
  invoke(req: MatchedRequest): R;
}

/**
 * Declares a route. The handler's parameter list is derived from `extractors`:
 * `route('PUT', '/vm.resize', [body(VmResizeSchema), query(Q)], (resize, q) => ...)`.
 */
export function route<const E extends readonly Extractor<unknown>[], R>(
  method: HttpMethod,
  path: string,
  extractors: E,
  handler: (...args: Extracted<E>) => R,
  options: { guards?: readonly Guard[]; doc?: RouteDoc } = {},
): Route<R> {
  const guards = options.guards ?? [];
  return {
    method,
    path,
    extractors,
    guards,
    doc: options.doc ?? {},
    invoke(req) {
      for (const g of guards) g.check(req);
      const args = extractors.map((e) => e.extract(req)) as Extracted<E>;
      return handler(...args);
    },
  };
}

// ---- extractors ------------------------------------------------------------------------------

/** Compiles a schema on first use (the worker starts faster; most routes are never hit). */
function lazyCheck(schema: TSchema): () => TypeCheck<TSchema> {
  let compiled: TypeCheck<TSchema> | undefined;
  return () => (compiled ??= TypeCompiler.Compile(schema));
}

/** `/disks/0/path` -> `disks[0].path`. */
export function fieldPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  }
  return out;
}

/**
 * For a union failure (e.g. `T | null`), the most specific error among its variants: the one at
 * the deepest path, so `{"vcpu_count": "2"}` blames `vcpu_count`, not the enclosing object.
 * Enum-like unions (all literals) are kept as they are.
 */
function mostSpecific(e: ValueError): ValueError {
  if (e.type !== ValueErrorType.Union || e.errors.length === 0) return e;
  const variants = (e.schema as { anyOf?: { const?: unknown }[] }).anyOf ?? [];
  if (variants.every((v) => v.const !== undefined)) return e;
  let best = e;
  for (const variant of e.errors) {
    const first = variant.First();
    if (first === undefined) continue;
    const inner = mostSpecific(first);
    if (inner.path.length > best.path.length || (best === e && inner.path === e.path && inner.type !== ValueErrorType.Null)) best = inner;
  }
  return best;
}

/** A one-sentence message for the first schema violation, naming the field. */
export function describeViolation(violation: ValueError, what: string): { message: string; field: string } {
  const e = mostSpecific(violation);
  const field = fieldPath(e.path);
  const at = field === '' ? what : `'${field}'`;
  const enumValues = (e.schema as { anyOf?: { const?: unknown }[] }).anyOf?.map((s) => s.const);
  if (e.type === ValueErrorType.ObjectAdditionalProperties) return { message: `Unknown field ${at} in ${what}`, field };
  if (e.type === ValueErrorType.ObjectRequiredProperty) return { message: `Missing required field ${at} in ${what}`, field };
  if (enumValues !== undefined && enumValues.every((v) => typeof v === 'string')) {
    return { message: `Field ${at} must be one of ${enumValues.join(', ')}`, field };
  }
  return { message: `Invalid ${field === '' ? what : `field ${at}`}: ${e.message.toLowerCase()}`, field };
}

function validate<S extends TSchema>(check: TypeCheck<S>, value: unknown, kind: ApiErrorKind, what: string): Static<S> {
  if (check.Check(value)) return value;
  const first = check.Errors(value).First();
  const { message, field } = first === undefined ? { message: `Invalid ${what}`, field: '' } : describeViolation(first, what);
  throw new ApiError(kind, message, { details: { field } });
}

const JSON_CACHE = new WeakMap<RequestContext, unknown>();

function headerValue(req: RequestContext, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : v?.[0];
}

/**
 * True for `application/json`, `application/<x>+json` and `application/x-www-form-urlencoded`, with
 * any parameters. The last is what `curl -d` sends by default; Cloud Hypervisor ignores the header,
 * so `curl --unix-socket S -X PUT -d '{...}'` must work here too (the body must still be JSON).
 */
export function isJsonMediaType(contentType: string): boolean {
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || type === 'application/x-www-form-urlencoded' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

/**
 * The JSON request body validated against `schema`: unknown fields, wrong types and missing
 * required fields are 400s naming the field. A Content-Type other than JSON (or curl's default
 * form type) is a 415; a missing Content-Type is accepted (Cloud Hypervisor does not check it).
 */
export function body<S extends TSchema>(schema: S): Extractor<Static<S>> {
  const check = lazyCheck(schema);
  return {
    source: { in: 'body', schema },
    extract(req) {
      const type = headerValue(req, 'content-type');
      if (type !== undefined && !isJsonMediaType(type)) {
        throw new ApiError('unsupported-media-type', `Content-Type '${type}' is not supported; send application/json`);
      }
      let value = JSON_CACHE.get(req);
      if (value === undefined) {
        if (req.body.byteLength === 0) throw new ApiError('invalid-body', 'A JSON request body is required', { details: { field: '' } });
        try {
          value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(req.body)) as unknown;
        } catch (err) {
          throw new ApiError('invalid-json', `Request body is not valid JSON: ${(err as Error).message}`, { details: { field: '' } });
        }
        JSON_CACHE.set(req, value);
      }
      return validate(check(), value, 'invalid-body', 'the request body');
    },
  };
}

/**
 * The query string as an object validated against `schema` (an object schema): values are
 * converted to the schema's types (`?n=2` -> 2); a repeated key becomes an array.
 */
export function query<S extends TSchema>(schema: S): Extractor<Static<S>> {
  const check = lazyCheck(schema);
  return {
    source: { in: 'query', schema },
    extract(req) {
      const raw: Record<string, string | string[]> = {};
      for (const [k, v] of req.query) {
        const prev = raw[k];
        raw[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
      }
      return validate(check(), Value.Convert(schema, raw), 'invalid-query', 'the query string');
    },
  };
}

/** A `{name}` path parameter: a string, or converted and validated when `schema` is given. */
export function param(name: string): Extractor<string>;
export function param<S extends TSchema>(name: string, schema: S): Extractor<Static<S>>;
export function param(name: string, schema?: TSchema): Extractor<unknown> {
  const check = schema === undefined ? undefined : lazyCheck(schema);
  return {
    source: schema === undefined ? { in: 'path', name } : { in: 'path', name, schema },
    extract(req) {
      const value = req.params[name];
      if (value === undefined) throw new ApiError('invalid-param', `Route has no path parameter '${name}'`, { details: { field: name } });
      if (check === undefined || schema === undefined) return value;
      return validate(check(), Value.Convert(schema, value), 'invalid-param', `path parameter '${name}'`);
    },
  };
}

/** A request header (lower-case name), or undefined when absent. */
export function header(name: string): Extractor<string | undefined> {
  const lower = name.toLowerCase();
  return { source: { in: 'header', name: lower }, extract: (req) => headerValue(req, lower) };
}

// ---- guards ----------------------------------------------------------------------------------

/** Rejects requests whose Content-Type is not one of `types` (415). */
export function contentType(...types: string[]): Guard {
  const wanted = types.map((t) => t.toLowerCase());
  return {
    description: `Content-Type: ${types.join(' | ')}`,
    check(req) {
      const type = headerValue(req, 'content-type')?.split(';')[0]?.trim().toLowerCase();
      if (type === undefined || !wanted.includes(type)) {
        throw new ApiError('unsupported-media-type', `Content-Type '${type ?? ''}' is not supported; send ${types.join(' or ')}`);
      }
    },
  };
}

/** Requires a header, optionally with an exact value (400 otherwise). */
export function requireHeader(name: string, value?: string): Guard {
  const lower = name.toLowerCase();
  return {
    description: value === undefined ? `${name} present` : `${name}: ${value}`,
    check(req) {
      const got = headerValue(req, lower);
      if (got === undefined || (value !== undefined && got !== value)) {
        throw new ApiError('invalid-param', `Header '${name}' ${value === undefined ? 'is required' : `must be '${value}'`}`, {
          details: { field: lower },
        });
      }
    },
  };
}

// ---- the router ------------------------------------------------------------------------------

interface CompiledPath<Rt> {
  readonly segments: readonly string[];
  readonly byMethod: Map<string, Rt>;
}

/** What the routes of type `Rt` produce: `RouteResult<Route<string>>` is string. */
export type RouteResult<Rt extends Route<unknown>> = Rt extends Route<infer R> ? R : never;

/**
 * Matches a method + path to one route: unknown path -> 404, known path, other method -> 405.
 * `Rt` is the route type, so a route carrying more than Route (the API's ActionRoute) comes back whole.
 */
export class Router<Rt extends Route<unknown>> {
  private readonly exact = new Map<string, CompiledPath<Rt>>();
  private readonly patterns: CompiledPath<Rt>[] = [];
  readonly routes: readonly Rt[];

  /** `prefix` (e.g. `/api/v1`) is prepended to every route path. */
  constructor(
    routes: readonly Rt[],
    readonly prefix = '',
  ) {
    this.routes = routes;
    for (const r of routes) {
      const full = prefix + r.path;
      const parametric = /\{[^}]+\}/.test(full);
      let entry = parametric ? this.patterns.find((p) => p.segments.join('/') === full.split('/').join('/')) : this.exact.get(full);
      if (entry === undefined) {
        entry = { segments: full.split('/'), byMethod: new Map() };
        if (parametric) this.patterns.push(entry);
        else this.exact.set(full, entry);
      }
      if (entry.byMethod.has(r.method)) throw new Error(`duplicate route ${r.method} ${full}`);
      entry.byMethod.set(r.method, r);
    }
  }

  /**
   * The route for `method` + `path` and its path parameters. Throws ApiError `not-found` (404) or
   * `method-not-allowed` (405, `details.allow` lists the methods for the Allow header).
   */
  match(method: string, path: string): { route: Rt; params: Record<string, string> } {
    let entry = this.exact.get(path);
    let params: Record<string, string> = {};
    if (entry === undefined) {
      for (const p of this.patterns) {
        const got = matchSegments(p.segments, path.split('/'));
        if (got !== undefined) {
          entry = p;
          params = got;
          break;
        }
      }
    }
    if (entry === undefined) throw new ApiError('not-found', `No route for ${truncate(path)}`);
    const route = entry.byMethod.get(method);
    if (route === undefined) {
      const allow = [...entry.byMethod.keys()].sort().join(', ');
      throw new ApiError('method-not-allowed', `Method ${truncate(method)} is not allowed on ${truncate(path)}; use ${allow}`, {
        details: { allow },
      });
    }
    return { route, params };
  }

  /** Matches and invokes: the handler's result, or a thrown ApiError for a 4xx. */
  handle(req: RequestContext): RouteResult<Rt> {
    const { route, params } = this.match(req.method, req.path);
    return route.invoke({ ...req, params }) as RouteResult<Rt>;
  }
}

function matchSegments(pattern: readonly string[], actual: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] ?? '';
    const a = actual[i] ?? '';
    if (p.startsWith('{') && p.endsWith('}')) {
      if (a === '') return undefined;
      try {
        params[p.slice(1, -1)] = decodeURIComponent(a);
      } catch {
        return undefined;
      }
    } else if (p !== a) return undefined;
  }
  return params;
}

/** Keeps attacker-sized strings out of messages. */
function truncate(s: string, max = 128): string {
  return s.length <= max ? s : `${s.slice(0, max)}...`;
}
