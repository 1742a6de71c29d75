import { describe, expect, it } from 'vitest';
import { describeJsonError, jsonErrorLocation, jsonErrorOffset } from './json-error.js';

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe('jsonErrorOffset', () => {
  it('accepts exactly what JSON.parse accepts', () => {
    const cases = [
      '{}', '[]', ' {"a": [1, -2.5e+3, true, false, null, "x\\u00e9\\n"]} ', '"s"', '0', '-0.1E-2', '[[[]]]', '{"a":{"b":{}}}',
      '', ' ', '{', '[1,]', '{"a":1,}', '{"a" 1}', '{a:1}', '01', '1.', '-', '.5', '"\\x"', '"\\u12"', '"a\tb"', '[1 2]', '{"a":1}}',
      'tru', 'nul', 'truex', '{"a":1', '["a"', '"abc', '[1]x', '\u00a0{}', '{"a":[}', '{,}', '[,1]', '1e', '+1', '"\\',
    ];
    for (const text of cases) expect(jsonErrorOffset(text) === undefined, JSON.stringify(text)).toBe(parses(text));
  });

  it('agrees with JSON.parse on random mutations of a config', () => {
    const base = JSON.stringify({ 'boot-source': { kernel_image_path: '/k', boot_args: 'console=ttyS0' }, drives: [{ id: 1, ro: false, x: null, n: -1.5e3 }] }, null, 1);
    const alphabet = '{}[],:"\\ -.0123456789eEtrufalsn\n\tx';
    let seed = 1;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let k = 0; k < 3000; k++) {
      const chars = [...base];
      for (let m = rand(3) + 1; m > 0; m--) {
        const at = rand(chars.length + 1);
        const op = rand(3);
        if (op === 0) chars.splice(at, 1);
        else if (op === 1) chars.splice(at, 0, alphabet[rand(alphabet.length)]!);
        else chars[at] = alphabet[rand(alphabet.length)]!;
      }
      const text = chars.join('');
      expect(jsonErrorOffset(text) === undefined, JSON.stringify(text)).toBe(parses(text));
    }
  });

  it('points where V8 points when V8 gives a position', () => {
    for (const text of ['{"a":1,}', '[1 2]', '{"a" 1}', '{}x', '"a\u0001"']) {
      const v8 = /at position (\d+)/.exec((() => {
        try {
          JSON.parse(text);
          return '';
        } catch (err) {
          return (err as Error).message;
        }
      })());
      expect(v8, text).not.toBeNull();
      expect(jsonErrorOffset(text), text).toBe(Number(v8![1]));
    }
  });

  it('handles deep nesting without recursion', () => {
    expect(jsonErrorOffset('['.repeat(200_000) + ']'.repeat(200_000))).toBeUndefined();
    expect(jsonErrorOffset('['.repeat(200_000))).toBe(200_000);
  });
});

describe('describeJsonError', () => {
  it('gives a line and column and never quotes the text', () => {
    const shadow = 'root:$y$j9T$secret:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n';
    const message = describeJsonError(shadow);
    expect(message).toBe('unexpected character at line 1, column 1');
    expect(message).not.toContain('root');
    expect(jsonErrorLocation('{\n  "a": 1,\n  x\n}')).toEqual({ offset: 14, line: 3, column: 3 });
    expect(describeJsonError('{"a": [1')).toBe('it ends before the JSON value is complete (line 1, column 9)');
  });
});
