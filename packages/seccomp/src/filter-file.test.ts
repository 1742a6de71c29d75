import { describe, expect, it } from 'vitest';
import { SeccompError } from './errors.js';
import { parseFilterFile, parseTargetArch } from './filter-file.js';

function file(filter: unknown, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ vmm: { default_action: 'trap', filter_action: 'allow', filter, ...extra } });
}

function errorOf(fn: () => unknown): SeccompError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SeccompError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('parseFilterFile', () => {
  it("reads Firecracker's format: actions, rules, conditions with masked_eq, comments", () => {
    const set = parseFilterFile(
      JSON.stringify({
        vcpu: {
          default_action: { errno: 1 },
          filter_action: 'allow',
          filter: [
            { syscall: 'read', comment: 'guest I/O' },
            { syscall: 'mmap', args: [{ index: 2, type: 'dword', op: { masked_eq: 4 }, val: 0, comment: 'no PROT_EXEC' }] },
          ],
        },
        api: { default_action: 'kill_process', filter_action: { trace: 7 }, filter: [] },
      }),
    );
    expect([...set.keys()]).toEqual(['vcpu', 'api']);
    expect(set.get('vcpu')).toEqual({
      defaultAction: { kind: 'errno', errno: 1 },
      filterAction: { kind: 'allow' },
      rules: [
        { syscall: 'read', nr: 0, args: [] },
        { syscall: 'mmap', nr: 9, args: [{ index: 2, type: 'dword', op: 'masked_eq', mask: 4n, val: 0n }] },
      ],
    });
    expect(set.get('api')?.filterAction).toEqual({ kind: 'trace', data: 7 });
  });

  it('keeps a qword value exact up to 2^64-1', () => {
    const set = parseFilterFile(file([{ syscall: 'ioctl', args: [{ index: 1, type: 'qword', op: 'eq', val: 18446744073709551615 }] }]).replace('18446744073709552000', '18446744073709551615'));
    expect(set.get('vmm')?.rules[0]?.args[0]?.val).toBe(0xffff_ffff_ffff_ffffn);
  });

  it('names the filter, the rule and its syscall for an unknown syscall', () => {
    const e = errorOf(() => parseFilterFile(file([{ syscall: 'read' }, { syscall: 'frobnicate' }])));
    expect(e.code).toBe('ERR_VMM_SECCOMP_UNKNOWN_SYSCALL');
    expect(e.message).toBe('filter "vmm", rule 1 (frobnicate), syscall: unknown x86_64 syscall "frobnicate"');
    expect(e.details).toEqual({ filter: 'vmm', rule: 1, syscall: 'frobnicate', field: 'syscall' });
  });

  it('names the field of a bad condition', () => {
    const cond = (c: Record<string, unknown>): string => file([{ syscall: 'ioctl', args: [{ index: 0, type: 'dword', op: 'eq', val: 1, ...c }] }]);
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ index: 6 }, /rule 0 \(ioctl\), args\[0\]\.index: must be a syscall argument index from 0 to 5, not 6/],
      [{ index: 1.5 }, /args\[0\]\.index: must be/],
      [{ type: 'word' }, /args\[0\]\.type: must be "dword" \(4 bytes\) or "qword" \(8 bytes\), not "word"/],
      [{ op: 'equals' }, /args\[0\]\.op: unknown operator "equals"/],
      [{ op: { masked_eq: -1 } }, /args\[0\]\.op\.masked_eq: the mask must be a whole number from 0 to 4294967295/],
      [{ op: { masked: 1 } }, /args\[0\]\.op: unknown operator an object/],
      [{ val: 4294967296 }, /args\[0\]\.val: must be a whole number from 0 to 4294967295 for a dword, not 4294967296/],
      [{ val: -1 }, /args\[0\]\.val: must be a whole number/],
      [{ val: '1' }, /args\[0\]\.val: must be a whole number/],
      [{ value: 1 }, /args\[0\]\.value: unknown key \(expected index, type, op, val, comment\)/],
      [{ comment: 3 }, /args\[0\]\.comment: must be a string/],
    ];
    for (const [c, re] of cases) {
      const e = errorOf(() => parseFilterFile(cond(c)));
      expect(e.message, JSON.stringify(c)).toMatch(re);
      expect(e.kind).toBe('invalid-condition');
    }
    expect(errorOf(() => parseFilterFile(file([{ syscall: 'ioctl', args: [{ index: 0, type: 'dword', op: 'eq' }] }]))).message).toMatch(/args\[0\]\.val: is missing/);
    expect(errorOf(() => parseFilterFile(file([{ syscall: 'ioctl', args: {} }]))).message).toMatch(/rule 0 \(ioctl\), args: must be an array/);
  });

  it('refuses bad actions by name, and an unknown key anywhere', () => {
    expect(errorOf(() => parseFilterFile(JSON.stringify({ vmm: { default_action: 'kill', filter_action: 'allow', filter: [] } }))).message).toMatch(
      /^filter "vmm", default_action: unknown action "kill" \(expected allow, kill_thread, kill_process, log, trap, \{"errno": N\} or \{"trace": N\}\)$/,
    );
    expect(errorOf(() => parseFilterFile(JSON.stringify({ vmm: { default_action: 'errno', filter_action: 'allow', filter: [] } }))).message).toMatch(/errno takes a value/);
    expect(errorOf(() => parseFilterFile(JSON.stringify({ vmm: { default_action: { errno: 70000 }, filter_action: 'allow', filter: [] } }))).message).toMatch(
      /default_action\.errno: errno must be a whole number from 0 to 65535, not 70000/,
    );
    expect(errorOf(() => parseFilterFile(JSON.stringify({ vmm: { default_action: 'trap', filter_action: 'allow', filter: [], filters: [] } }))).message).toBe(
      'filter "vmm", filters: unknown key (expected default_action, filter_action, filter, comment)',
    );
    expect(errorOf(() => parseFilterFile(JSON.stringify({ vmm: { default_action: 'trap', filter: [] } }))).message).toBe('filter "vmm", filter_action: is missing');
    expect(errorOf(() => parseFilterFile(file([{ syscall: 'read', arg: [] }]))).message).toBe('filter "vmm", rule 0 (read), arg: unknown key (expected syscall, args, comment)');
    expect(errorOf(() => parseFilterFile(file([{ name: 'read' }]))).message).toMatch(/rule 0, name: unknown key/);
    expect(errorOf(() => parseFilterFile(file([{}]))).message).toBe('filter "vmm", rule 0, syscall: is missing');
    expect(errorOf(() => parseFilterFile(file({}))).message).toMatch(/filter "vmm", filter: must be an array of rules, not an object/);
  });

  it('refuses a file that is not JSON or not an object of filters', () => {
    expect(errorOf(() => parseFilterFile('{"vmm": ')).code).toBe('ERR_VMM_SECCOMP_INVALID_JSON');
    expect(errorOf(() => parseFilterFile('[]')).message).toMatch(/must be a JSON object of filters keyed by thread category, not an array/);
    expect(errorOf(() => parseFilterFile('{"vmm": 1}')).message).toBe('filter "vmm", (filter): must be an object, not a number');
  });

  it('takes x86_64 as the only target arch', () => {
    expect(parseTargetArch('x86_64')).toBe('x86_64');
    expect(parseTargetArch('X86_64')).toBe('x86_64');
    expect(() => parseTargetArch('aarch64')).toThrow(/not supported \(only x86_64; Workervisor does not run on aarch64\)/);
  });
});
