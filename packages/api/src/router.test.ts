import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { ApiError } from './errors.js';
import { Router, body, contentType, header, param, query, route, type RequestContext } from './router.js';

function ctx(method: string, path: string, init: { body?: string; headers?: Record<string, string>; query?: string } = {}): RequestContext {
  return {
    method,
    path,
    query: new URLSearchParams(init.query ?? ''),
    headers: init.headers ?? {},
    body: new TextEncoder().encode(init.body ?? ''),
  };
}

function thrown(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}

const Resize = Type.Object({ desired_vcpus: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false });
const Nested = Type.Object(
  { cpus: Type.Object({ boot_vcpus: Type.Integer() }, { additionalProperties: false }), disks: Type.Optional(Type.Array(Type.Object({ path: Type.String() }, { additionalProperties: false }))) },
  { additionalProperties: false },
);
const Q = Type.Object({ n: Type.Optional(Type.Integer()), verbose: Type.Optional(Type.Boolean()) }, { additionalProperties: false });

describe('route extractors', () => {
  it('passes any number of typed extractor results to the handler in order', () => {
    const r = route(
      'PUT',
      '/things/{id}/{sub}',
      [param('id'), body(Resize), query(Q), header('x-a'), param('sub', Type.Integer()), header('x-b'), param('id')],
      (id, resize, q, a, sub, b, id2) => {
        // Compile-time checks of the inferred argument types.
        const s: string = id;
        const v: number | undefined = resize.desired_vcpus;
        const n: number | undefined = q.n;
        const h: string | undefined = a;
        const k: number = sub;
        return { s, v, n, h, k, b, id2 };
      },
    );
    const router = new Router([r], '/api');
    const out = router.handle(
      ctx('PUT', '/api/things/abc/7', { body: '{"desired_vcpus":2}', query: 'n=3&verbose=true', headers: { 'x-a': 'A', 'content-type': 'application/json' } }),
    );
    expect(out).toEqual({ s: 'abc', v: 2, n: 3, h: 'A', k: 7, b: undefined, id2: 'abc' });
  });

  it('rejects an unknown body field with its dotted path', () => {
    const router = new Router([route('PUT', '/x', [body(Nested)], (b) => b)]);
    const err = thrown(() => router.handle(ctx('PUT', '/x', { body: '{"cpus":{"boot_vcpus":1,"bogus":true}}' })));
    expect(err.code).toBe('ERR_VMM_API_INVALID_BODY');
    expect(err.details?.['field']).toBe('cpus.bogus');
    expect(err.message).toMatch(/Unknown field 'cpus.bogus'/);
  });

  it('names array elements in the field path of a type error', () => {
    const router = new Router([route('PUT', '/x', [body(Nested)], (b) => b)]);
    const err = thrown(() => router.handle(ctx('PUT', '/x', { body: '{"cpus":{"boot_vcpus":1},"disks":[{"path":"a"},{"path":3}]}' })));
    expect(err.details?.['field']).toBe('disks[1].path');
  });

  it('reports a missing required field', () => {
    const router = new Router([route('PUT', '/x', [body(Nested)], (b) => b)]);
    const err = thrown(() => router.handle(ctx('PUT', '/x', { body: '{}' })));
    expect(err.message).toMatch(/Missing required field 'cpus'/);
    expect(err.details?.['field']).toBe('cpus');
  });

  it('answers malformed JSON, an empty body and non-UTF-8 bytes with 400 errors', () => {
    const router = new Router([route('PUT', '/x', [body(Resize)], (b) => b)]);
    expect(thrown(() => router.handle(ctx('PUT', '/x', { body: '{"desired_vcpus":' }))).code).toBe('ERR_VMM_API_INVALID_JSON');
    expect(thrown(() => router.handle(ctx('PUT', '/x'))).code).toBe('ERR_VMM_API_INVALID_BODY');
    const bad: RequestContext = { ...ctx('PUT', '/x'), body: new Uint8Array([0x7b, 0xff, 0x7d]) };
    expect(thrown(() => router.handle(bad)).code).toBe('ERR_VMM_API_INVALID_JSON');
  });

  it('rejects __proto__ keys as unknown fields instead of merging them', () => {
    const router = new Router([route('PUT', '/x', [body(Resize)], (b) => b)]);
    const err = thrown(() => router.handle(ctx('PUT', '/x', { body: '{"__proto__":{"polluted":1}}' })));
    expect(err.code).toBe('ERR_VMM_API_INVALID_BODY');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('rejects a non-JSON content type with 415 but accepts a missing one and JSON with parameters', () => {
    const router = new Router([route('PUT', '/x', [body(Resize)], (b) => b)]);
    expect(thrown(() => router.handle(ctx('PUT', '/x', { body: '{}', headers: { 'content-type': 'text/plain' } }))).code).toBe(
      'ERR_VMM_API_UNSUPPORTED_MEDIA_TYPE',
    );
    expect(router.handle(ctx('PUT', '/x', { body: '{}' }))).toEqual({});
    expect(router.handle(ctx('PUT', '/x', { body: '{}', headers: { 'content-type': 'application/json; charset=utf-8' } }))).toEqual({});
  });

  it("accepts curl's default form content type as JSON, like Cloud Hypervisor", () => {
    const router = new Router([route('PUT', '/x', [body(Resize)], (b) => b)]);
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    expect(router.handle(ctx('PUT', '/x', { body: '{}', headers }))).toEqual({});
    expect(thrown(() => router.handle(ctx('PUT', '/x', { body: 'a=1', headers }))).code).toBe('ERR_VMM_API_INVALID_JSON');
  });

  it('converts and validates query strings', () => {
    const router = new Router([route('GET', '/q', [query(Q)], (q) => q)]);
    expect(router.handle(ctx('GET', '/q', { query: 'n=5' }))).toEqual({ n: 5 });
    expect(thrown(() => router.handle(ctx('GET', '/q', { query: 'n=five' }))).code).toBe('ERR_VMM_API_INVALID_QUERY');
    expect(thrown(() => router.handle(ctx('GET', '/q', { query: 'zzz=1' }))).details?.['field']).toBe('zzz');
  });

  it('runs guards before extractors', () => {
    let extracted = false;
    const spy = { source: { in: 'header' as const, name: 'x' }, extract: () => (extracted = true) };
    const router = new Router([route('PUT', '/g', [spy], (v) => v, { guards: [contentType('application/json')] })]);
    expect(thrown(() => router.handle(ctx('PUT', '/g'))).code).toBe('ERR_VMM_API_UNSUPPORTED_MEDIA_TYPE');
    expect(extracted).toBe(false);
    expect(router.handle(ctx('PUT', '/g', { headers: { 'content-type': 'application/json' } }))).toBe(true);
  });
});

describe('Router matching', () => {
  const router = new Router(
    [route('GET', '/vm.info', [], () => 'info'), route('PUT', '/vm.info', [], () => 'put-info'), route('PUT', '/vm.boot', [], () => 'boot')],
    '/api/v1',
  );

  it('answers an unknown path with not-found (404)', () => {
    const err = thrown(() => router.match('GET', '/api/v1/vm.nope'));
    expect(err.code).toBe('ERR_VMM_API_NOT_FOUND');
    expect(thrown(() => router.match('GET', '/vm.info')).code).toBe('ERR_VMM_API_NOT_FOUND');
  });

  it('answers a known path with the wrong method with 405 listing the allowed methods', () => {
    const err = thrown(() => router.match('DELETE', '/api/v1/vm.info'));
    expect(err.code).toBe('ERR_VMM_API_METHOD_NOT_ALLOWED');
    expect(err.details?.['allow']).toBe('GET, PUT');
  });

  it('dispatches by method on the same path', () => {
    expect(router.handle(ctx('GET', '/api/v1/vm.info'))).toBe('info');
    expect(router.handle(ctx('PUT', '/api/v1/vm.info'))).toBe('put-info');
  });

  it('refuses duplicate routes', () => {
    expect(() => new Router([route('GET', '/a', [], () => 1), route('GET', '/a', [], () => 2)])).toThrow(/duplicate/);
  });

  it('does not match a path parameter against an empty segment', () => {
    const r = new Router([route('GET', '/d/{id}', [param('id')], (id) => id)]);
    expect(r.handle(ctx('GET', '/d/a%20b'))).toBe('a b');
    expect(thrown(() => r.handle(ctx('GET', '/d/'))).code).toBe('ERR_VMM_API_NOT_FOUND');
  });
});

describe('violation messages', () => {
  it('lists the allowed values of an enum field', () => {
    const S = Type.Object({ mode: Type.Union([Type.Literal('Off'), Type.Literal('Tty')]) }, { additionalProperties: false });
    const router = new Router([route('PUT', '/e', [body(S)], (b) => b)]);
    const err = thrown(() => router.handle(ctx('PUT', '/e', { body: '{"mode":"Stdout"}' })));
    expect(err.message).toBe("Field 'mode' must be one of Off, Tty");
    expect(err.details?.['field']).toBe('mode');
  });

  it('blames the inner field of a nullable object', () => {
    const S = Type.Object({ m: Type.Union([Type.Object({ n: Type.Integer() }), Type.Null()]) });
    const router = new Router([route('PUT', '/n', [body(S)], (b) => b)]);
    expect(thrown(() => router.handle(ctx('PUT', '/n', { body: '{"m":{"n":"x"}}' }))).details?.['field']).toBe('m.n');
  });
});
