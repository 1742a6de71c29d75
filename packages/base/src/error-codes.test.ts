import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, allErrorCodes, errorCode, type ErrorPrefix } from './error-codes.js';
import { VmmError, toErrorData } from './errors.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** Every .ts source file (not tests, not build output) of the packages and the native addon's bindings. */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

/** `class X extends VmmError<'PREFIX'>` in every source file: [class, prefix, file]. */
function errorClasses(): Array<[string, string, string]> {
  const found: Array<[string, string, string]> = [];
  for (const file of [...sources(join(ROOT, 'packages')), ...sources(join(ROOT, 'native/lib'))]) {
    for (const m of readFileSync(file, 'utf8').matchAll(/class (\w+) extends VmmError<'([A-Z0-9_]+)'>/g)) {
      found.push([m[1] as string, m[2] as string, file.slice(ROOT.length)]);
    }
  }
  return found;
}

describe('the error-code registry', () => {
  it('defines each code once: no two prefixes or kinds produce the same code', () => {
    const codes = allErrorCodes();
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('gives every prefix exactly one class, the one it names, outside test doubles', () => {
    const classes = errorClasses().filter(([, , file]) => !file.includes('/testing/'));
    const byPrefix = new Map<string, string[]>();
    for (const [name, prefix, file] of classes) byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), `${name} (${file})`]);
    for (const [prefix, owners] of byPrefix) expect(owners, `prefix ${prefix}`).toHaveLength(1);
    for (const [name, prefix] of classes) expect(ERROR_CODES[prefix as ErrorPrefix]?.owner, `${name} uses ${prefix}`).toBe(name);
    // And no registered prefix is left without its class.
    expect([...byPrefix.keys()].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('makes the code from the prefix and the kind, and keeps it across a thread boundary', () => {
    class BusError extends VmmError<'BUS'> {
      constructor() {
        super('BUS', 'overlap', 'range 0x3f8+8 overlaps com1');
      }
    }
    const err = new BusError();
    expect(err.code).toBe('ERR_VMM_BUS_OVERLAP');
    expect(errorCode('HOST_FILE', 'not-regular')).toBe('ERR_VMM_HOST_FILE_NOT_REGULAR');
    expect(toErrorData(err)).toMatchObject({ name: 'BusError', code: 'ERR_VMM_BUS_OVERLAP', kind: 'overlap' });
  });

  it('keeps the SDK\'s "the server answered 404" apart from the server\'s "no such route"', () => {
    expect(errorCode('RESPONSE', 'not-found')).not.toBe(errorCode('API', 'not-found'));
    expect(ERROR_CODES.SERIAL.owner).not.toBe(ERROR_CODES.SERIAL_WAIT.owner);
  });
});
