import { describe, expect, it } from 'vitest';
import { SeccompError } from './errors.js';
import { parseJson } from './json.js';

describe('parseJson', () => {
  it('reads objects as Maps in key order, and integers past 2^53 as exact bigints', () => {
    const v = parseJson('{"b": 1, "a": [true, null, "x\\n\\u0041"], "big": 18446744073709551615, "f": -1.5e2}');
    expect(v).toBeInstanceOf(Map);
    const m = v as Map<string, unknown>;
    expect([...m.keys()]).toEqual(['b', 'a', 'big', 'f']);
    expect(m.get('a')).toEqual([true, null, 'x\nA']);
    expect(m.get('big')).toBe(18446744073709551615n);
    expect(m.get('b')).toBe(1);
    expect(m.get('f')).toBe(-150);
  });

  it('keeps a __proto__ key as data', () => {
    const m = parseJson('{"__proto__": {"x": 1}}') as Map<string, unknown>;
    expect(m.get('__proto__')).toBeInstanceOf(Map);
  });

  it('names the line and column of a syntax error', () => {
    expect(() => parseJson('{\n  "a": 1,\n  "b" 2\n}')).toThrow(/line 3, column 7: expected ':' after a key/);
    expect(() => parseJson('{"a": [1, 2}')).toThrow(/line 1, column 12: expected ',' or '\]'/);
    expect(() => parseJson('{"a": 1} x')).toThrow(/unexpected text after the JSON value/);
    expect(() => parseJson('')).toThrow(/unexpected end of input/);
    expect(() => parseJson('{"a": "x')).toThrow(/unterminated string/);
    expect(() => parseJson('[01]')).toThrow(/expected ','/);
    expect(() => parseJson("{'a': 1}")).toThrow(/expected a string key/);
  });

  it('refuses a key given twice, as serde does', () => {
    let err: unknown;
    try {
      parseJson('{"vmm": {}, "vmm": {}}');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SeccompError);
    expect(err).toMatchObject({ code: 'ERR_VMM_SECCOMP_INVALID_JSON', message: expect.stringMatching(/column 13: key "vmm" given twice/) });
  });

  it('refuses nesting deep enough to exhaust the stack', () => {
    expect(() => parseJson('['.repeat(100_000))).toThrow(/nested deeper than 64/);
  });
});
