import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { VmmAction } from '@workervisor/vmm-core';
import { buildOpenApiDocument } from '../openapi.js';
import { EXAMPLE_BODIES } from '../testing/example-bodies.js';
import { API_ROUTES, createApiRouter, endpointOf, routeOf } from './index.js';

// Cloud Hypervisor's spec, vendored as a fixture (fixtures/SOURCES.md); WORKERVISOR_CH_SPEC
// points the comparison at a newer one.
const SPEC = process.env['WORKERVISOR_CH_SPEC'] ?? new URL('./fixtures/cloud-hypervisor.yaml', import.meta.url).pathname;
const haveSpec = existsSync(SPEC);
if (!haveSpec) throw new Error(`the Cloud Hypervisor spec is missing at ${SPEC}`);

/** `/path` -> methods, read from the spec's `paths:` block (no YAML parser needed for it). */
function specOperations(): Set<string> {
  const ops = new Set<string>();
  let path: string | undefined;
  for (const line of readFileSync(SPEC, 'utf8').split('\n')) {
    if (line.startsWith('components:')) break;
    const p = /^ {2}(\/\S+):\s*$/.exec(line);
    if (p !== null) path = p[1];
    const m = /^ {4}(get|put|post|patch|delete):\s*$/.exec(line);
    if (m !== null && path !== undefined) ops.add(`${(m[1] ?? '').toUpperCase()} ${path}`);
  }
  return ops;
}

const router = createApiRouter();
const send = (method: string, path: string, body?: unknown): VmmAction =>
  router.handle({
    method,
    path: `/api/v1${path}`,
    query: new URLSearchParams(),
    headers: { 'content-type': 'application/json' },
    body: new TextEncoder().encode(body === undefined ? '' : JSON.stringify(body)),
  });

describe('API routes', () => {
  it.runIf(haveSpec)('serve exactly the operations of the Cloud Hypervisor spec', () => {
    const ours = new Set(API_ROUTES.map((r) => `${r.method} ${r.path}`));
    expect([...ours].sort()).toEqual([...specOperations()].sort());
  });

  it.runIf(haveSpec)('publish the same operation set in our OpenAPI document', () => {
    const doc = buildOpenApiDocument() as { paths: Record<string, Record<string, unknown>> };
    const ops = Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`));
    expect(ops.sort()).toEqual([...specOperations()].sort());
  });

  it('reference component schemas for request bodies in the OpenAPI document', () => {
    const doc = buildOpenApiDocument() as {
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: unknown }> } }>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    expect(doc.paths['/vm.create']?.['put']?.requestBody?.content['application/json']?.schema).toEqual({ $ref: '#/components/schemas/VmConfig' });
    expect(doc.components.schemas['VmConfig']?.properties?.['disks']).toEqual({ type: 'array', items: { $ref: '#/components/schemas/DiskConfig' } });
    expect(doc.components.schemas['ConsoleConfig']?.properties?.['mode']).toEqual({ $ref: '#/components/schemas/ConsoleMode' });
    expect(JSON.stringify(doc)).not.toContain('"const"');
  });

  it('translate every route into the action it declares, carrying the body', () => {
    const bodies = EXAMPLE_BODIES;
    for (const r of API_ROUTES) {
      const action = send(r.method, r.path, bodies[r.path]);
      expect(action.type).toBe(r.action);
      expect(routeOf(action.type)).toBe(r);
      expect(endpointOf(action.type)).toBe(`${r.method} /api/v1${r.path}`);
      if ('body' in action) expect(action.body).toEqual(bodies[r.path]);
    }
  });

  it('give each action one route, and document the success status each route declares', () => {
    expect(new Set(API_ROUTES.map((r) => r.action)).size).toBe(API_ROUTES.length);
    for (const r of API_ROUTES) expect(Object.keys(r.doc.responses ?? {}), r.path).toContain(String(r.status));
  });

  it('require a body on every route that takes one', () => {
    for (const r of API_ROUTES.filter((x) => x.extractors.some((e) => e.source.in === 'body'))) {
      expect(() => send(r.method, r.path), r.path).toThrow(/required/);
    }
  });
});
