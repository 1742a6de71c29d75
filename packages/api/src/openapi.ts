// Our own OpenAPI 3.0 document, generated from the TypeBox schemas and the route table, so the
// published contract cannot drift from what the router validates.
import type { TSchema } from '@sinclair/typebox';
import { API_PREFIX, API_ROUTES } from './routes/index.js';
import { COMPONENT_SCHEMAS } from '@workervisor/schema';
import type { Route } from './router.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const isObject = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON Schema as TypeBox emits it -> OpenAPI 3.0 dialect (no `const`, no `patternProperties`). */
function toOpenApi3(schema: Json): Json {
  if (Array.isArray(schema)) return schema.map(toOpenApi3);
  if (!isObject(schema)) return schema;
  const anyOf = schema['anyOf'];
  if (Array.isArray(anyOf) && anyOf.length > 0 && anyOf.every((s) => isObject(s) && typeof s['const'] === 'string')) {
    const { anyOf: _drop, ...rest } = schema;
    return { ...rest, type: 'string', enum: anyOf.map((s) => (s as JsonObject)['const'] as string) };
  }
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'patternProperties' && isObject(v)) {
      // Type.Record(String, X) is `patternProperties: { "^.*$": X }`: any key, values X.
      const only = Object.values(v)[0];
      if (only !== undefined) out['additionalProperties'] = toOpenApi3(only);
    } else if (k === 'const') {
      out['enum'] = [v];
    } else {
      out[k] = toOpenApi3(v);
    }
  }
  return out;
}

/** Drops TypeBox's symbol keys and converts to the OpenAPI 3.0 dialect. */
function plain(schema: TSchema): JsonObject {
  return toOpenApi3(JSON.parse(JSON.stringify(schema)) as Json) as JsonObject;
}

interface Components {
  byKey: Map<string, string>;
  byIdentity: Map<TSchema, string>;
  plainByName: Map<string, JsonObject>;
}

function collectComponents(): Components {
  const byKey = new Map<string, string>();
  const byIdentity = new Map<TSchema, string>();
  const plainByName = new Map<string, JsonObject>();
  for (const [name, schema] of Object.entries(COMPONENT_SCHEMAS)) {
    const p = plain(schema);
    plainByName.set(name, p);
    byIdentity.set(schema, name);
    const key = JSON.stringify(p);
    if (!byKey.has(key)) byKey.set(key, name);
  }
  return { byKey, byIdentity, plainByName };
}

/** Replaces every sub-schema equal to a named component with a `$ref` to it. */
function withRefs(schema: Json, c: Components, self: string | undefined, root = true): Json {
  if (Array.isArray(schema)) return schema.map((s) => withRefs(s, c, self, false));
  if (!isObject(schema)) return schema;
  if (!root) {
    const name = c.byKey.get(JSON.stringify(schema));
    // Only objects and enums become references; a bare integer matching some alias stays inline.
    if (name !== undefined && name !== self && (schema['type'] === 'object' || schema['enum'] !== undefined)) {
      return { $ref: `#/components/schemas/${name}` };
    }
  }
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(schema)) {
    // Property names and `default` values are data, not schemas.
    if (k === 'properties' && isObject(v)) {
      out[k] = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, withRefs(s, c, self, false)]));
    } else if (k === 'default' || k === 'enum' || k === 'required') {
      out[k] = v;
    } else {
      out[k] = withRefs(v, c, self, false);
    }
  }
  return out;
}

function refFor(schema: TSchema, c: Components): Json {
  const name = c.byIdentity.get(schema) ?? c.byKey.get(JSON.stringify(plain(schema)));
  return name !== undefined ? { $ref: `#/components/schemas/${name}` } : withRefs(plain(schema), c, undefined);
}

function operation(route: Route<unknown>, c: Components): JsonObject {
  const op: JsonObject = {};
  if (route.doc.summary !== undefined) op['summary'] = route.doc.summary;
  const parameters: Json[] = [];
  for (const e of route.extractors) {
    const s = e.source;
    if (s.in === 'body') {
      op['requestBody'] = { required: true, content: { 'application/json': { schema: refFor(s.schema, c) } } };
    } else if (s.in === 'path') {
      parameters.push({ name: s.name, in: 'path', required: true, schema: s.schema === undefined ? { type: 'string' } : refFor(s.schema, c) });
    } else if (s.in === 'header') {
      parameters.push({ name: s.name, in: 'header', required: false, schema: { type: 'string' } });
    } else {
      const q = plain(s.schema);
      const required = new Set(Array.isArray(q['required']) ? (q['required'] as string[]) : []);
      for (const [name, ps] of Object.entries(isObject(q['properties']) ? q['properties'] : {})) {
        parameters.push({ name, in: 'query', required: required.has(name), schema: ps });
      }
    }
  }
  if (parameters.length > 0) op['parameters'] = parameters;
  const responses: JsonObject = {};
  for (const [status, r] of Object.entries(route.doc.responses ?? { 204: { description: 'Success' } })) {
    responses[status] =
      r.schema === undefined ? { description: r.description } : { description: r.description, content: { 'application/json': { schema: refFor(r.schema, c) } } };
  }
  // Every route can fail validation or be unimplemented; see errors.ts for the full table.
  responses['400'] ??= { description: 'The request is malformed or its body does not match the schema.', content: errorContent };
  responses['501'] = { description: 'This VMM does not implement the route, or a configuration option, yet (ERR_VMM_VM_NOT_SUPPORTED).', content: errorContent };
  op['responses'] = responses;
  return op;
}

const errorContent: JsonObject = { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } };

/** The OpenAPI 3.0 document of the API served under /api/v1. */
export function buildOpenApiDocument(version = '0.1.0'): JsonObject {
  const c = collectComponents();
  const paths: JsonObject = {};
  for (const route of API_ROUTES) {
    const path = route.path;
    const item = (paths[path] ??= {}) as JsonObject;
    item[route.method.toLowerCase()] = operation(route, c);
  }
  const schemas: JsonObject = {};
  for (const [name, p] of [...c.plainByName].sort(([a], [b]) => a.localeCompare(b))) schemas[name] = withRefs(p, c, name);
  schemas['ErrorBody'] = {
    type: 'object',
    required: ['message', 'code'],
    properties: { message: { type: 'string' }, code: { type: 'string' }, field: { type: 'string' } },
  };
  return {
    openapi: '3.0.3',
    info: {
      title: 'Workervisor API',
      description: 'Cloud Hypervisor-compatible HTTP API of a Workervisor VMM, served on a Unix socket.',
      license: { name: 'Apache 2.0', url: 'http://www.apache.org/licenses/LICENSE-2.0.html' },
      version,
    },
    servers: [{ url: `http://localhost${API_PREFIX}` }],
    paths,
    components: { schemas },
  };
}
