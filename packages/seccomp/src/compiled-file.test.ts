import { describe, expect, it } from 'vitest';
import { compileFilterFile } from './compile.js';
import { COMPILED_MAGIC, decodeCompiledFilters, encodeCompiledFilters, isCompiledFilterFile, loadFilterFile } from './compiled-file.js';
import { SeccompError } from './errors.js';

const SOURCE = JSON.stringify({
  vmm: { default_action: 'trap', filter_action: 'allow', filter: [{ syscall: 'read' }] },
  vcpu: { default_action: { errno: 1 }, filter_action: 'allow', filter: [{ syscall: 'ioctl', args: [{ index: 1, type: 'dword', op: 'eq', val: 44672 }] }] },
});

describe('the compiled filter file', () => {
  const programs = compileFilterFile(SOURCE);
  const bytes = encodeCompiledFilters(programs);

  it('starts with its magic and reads back to the same programs', () => {
    expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe(COMPILED_MAGIC);
    expect(isCompiledFilterFile(bytes)).toBe(true);
    expect(decodeCompiledFilters(bytes)).toEqual(programs);
    // header 20 + per filter: 2 + name + 2 + 8 per instruction
    expect(bytes.length).toBe(20 + (2 + 3 + 2 + 8 * programs.get('vmm')!.length) + (2 + 4 + 2 + 8 * programs.get('vcpu')!.length));
  });

  it('is what --seccomp-filter loads, as is the JSON it came from', () => {
    expect(loadFilterFile(bytes)).toEqual(programs);
    expect(loadFilterFile(new TextEncoder().encode(SOURCE))).toEqual(programs);
  });

  it('refuses a truncated, padded, foreign or wrong-version file with the reason', () => {
    const err = (b: Uint8Array): string => {
      try {
        decodeCompiledFilters(b);
      } catch (e) {
        expect(e).toBeInstanceOf(SeccompError);
        expect((e as SeccompError).code).toBe('ERR_VMM_SECCOMP_INVALID_COMPILED');
        return (e as Error).message;
      }
      throw new Error('decoded');
    };
    expect(err(bytes.subarray(0, bytes.length - 3))).toMatch(/truncated in filter "vcpu"'s program/);
    expect(err(bytes.subarray(0, 14))).toMatch(/truncated in its header/);
    expect(err(new Uint8Array([...bytes, 0]))).toMatch(/1 bytes after the last filter/);
    const v2 = bytes.slice();
    v2[8] = 2;
    expect(err(v2)).toMatch(/version 2 \(this Workervisor reads version 1\)/);
    const arm = bytes.slice();
    new DataView(arm.buffer).setUint32(12, 0xc00000b7, true);
    expect(err(arm)).toMatch(/audit arch 0xc00000b7, not x86_64/);
    const empty = bytes.slice();
    new DataView(empty.buffer).setUint16(20 + 2 + 3, 0, true);
    expect(err(empty)).toMatch(/filter "vmm" has 0 instructions/);
  });

  it('takes a file without the magic for JSON, and says so when it is neither', () => {
    expect(() => loadFilterFile(new Uint8Array([0xff, 0xfe, 0x00]))).toThrow(/neither a compiled filter file \("WVSECBPF"\) nor UTF-8 JSON/);
    expect(() => loadFilterFile(new TextEncoder().encode('{"vmm": []}'))).toThrow(/filter "vmm", \(filter\): must be an object/);
    expect(() => loadFilterFile(new Uint8Array((1 << 20) + 1))).toThrow(/more than 1048576/);
  });
});
