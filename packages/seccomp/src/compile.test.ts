// The compiled programs, run by a classic-BPF interpreter (testing/bpf-interpreter.ts) on
// seccomp_data the way the kernel would: the arch check, syscall matching, every operator on
// dword and qword arguments at its boundaries, and programs long enough to need jump trampolines.
import { describe, expect, it } from 'vitest';
import { AUDIT_ARCH_X86_64, BPF_JA, BPF_JMP, MAX_COND_JUMP, X32_SYSCALL_BIT, type SockFilter } from './bpf.js';
import { compileFilter, compileFilterFile } from './compile.js';
import { parseFilterFile, type ConditionOp } from './filter-file.js';
import { checkProgram, evaluate, runBpf } from './testing/index.js';
import { X86_64_SYSCALLS } from './syscalls-x86_64.js';

const NR = (name: string): number => X86_64_SYSCALLS.get(name)!;

function compileOne(filter: object): SockFilter[] {
  const programs = compileFilterFile(JSON.stringify({ t: filter }));
  const program = programs.get('t')!;
  checkProgram(program);
  return program;
}

describe('compileFilter', () => {
  const allowlist = compileOne({
    default_action: 'trap',
    filter_action: 'allow',
    filter: [{ syscall: 'read' }, { syscall: 'write' }, { syscall: 'exit_group' }],
  });

  it('allows the listed syscalls and gives the default action to the rest', () => {
    expect(evaluate(allowlist, { nr: NR('read') })).toBe('allow');
    expect(evaluate(allowlist, { nr: NR('write'), args: [1, 0x1234, 5] })).toBe('allow');
    expect(evaluate(allowlist, { nr: NR('exit_group') })).toBe('allow');
    expect(evaluate(allowlist, { nr: NR('execve') })).toBe('trap');
    expect(evaluate(allowlist, { nr: NR('getppid') })).toBe('trap');
  });

  it('kills the process for another architecture or an x32-ABI syscall number, as Firecracker does', () => {
    const AUDIT_ARCH_I386 = 0x4000_0003;
    expect(evaluate(allowlist, { nr: NR('read'), arch: AUDIT_ARCH_I386 })).toBe('kill_process');
    expect(evaluate(allowlist, { nr: NR('read'), arch: AUDIT_ARCH_X86_64 })).toBe('allow');
    expect(evaluate(allowlist, { nr: NR('read') | X32_SYSCALL_BIT })).toBe('kill_process');
    // A deny-list too: an x32 read must not slip past "read -> errno".
    const denylist = compileOne({ default_action: 'allow', filter_action: { errno: 13 }, filter: [{ syscall: 'read' }] });
    expect(evaluate(denylist, { nr: NR('read') })).toBe('errno(13)');
    expect(evaluate(denylist, { nr: NR('read') | X32_SYSCALL_BIT })).toBe('kill_process');
    expect(evaluate(denylist, { nr: NR('write') })).toBe('allow');
  });

  it('encodes every action with its data', () => {
    for (const [action, name] of [
      ['allow', 'allow'],
      ['kill_thread', 'kill_thread'],
      ['kill_process', 'kill_process'],
      ['log', 'log'],
      ['trap', 'trap'],
      [{ errno: 38 }, 'errno(38)'],
      [{ trace: 65535 }, 'trace(65535)'],
    ] as const) {
      const p = compileOne({ default_action: action, filter_action: 'allow', filter: [{ syscall: 'read' }] });
      expect(evaluate(p, { nr: NR('write') }), JSON.stringify(action)).toBe(name);
      const q = compileOne({ default_action: 'allow', filter_action: action, filter: [{ syscall: 'read' }] });
      expect(evaluate(q, { nr: NR('read') }), JSON.stringify(action)).toBe(name);
    }
  });

  it('or-binds rules and and-binds their conditions', () => {
    const p = compileOne({
      default_action: { errno: 1 },
      filter_action: 'allow',
      filter: [
        { syscall: 'socket', args: [{ index: 0, type: 'dword', op: 'eq', val: 1 }, { index: 1, type: 'dword', op: 'eq', val: 524289 }] },
        { syscall: 'socket', args: [{ index: 0, type: 'dword', op: 'eq', val: 16 }] },
      ],
    });
    expect(evaluate(p, { nr: NR('socket'), args: [1, 524289, 0] })).toBe('allow');
    expect(evaluate(p, { nr: NR('socket'), args: [1, 1, 0] })).toBe('errno(1)');
    expect(evaluate(p, { nr: NR('socket'), args: [2, 524289, 0] })).toBe('errno(1)');
    expect(evaluate(p, { nr: NR('socket'), args: [16, 3, 0] })).toBe('allow');
    expect(evaluate(p, { nr: NR('connect'), args: [16] })).toBe('errno(1)');
  });

  it('lets a rule without conditions match every call of its syscall', () => {
    const p = compileOne({
      default_action: 'trap',
      filter_action: 'allow',
      filter: [{ syscall: 'ioctl', args: [{ index: 1, type: 'dword', op: 'eq', val: 0xae80 }] }, { syscall: 'ioctl' }],
    });
    expect(evaluate(p, { nr: NR('ioctl'), args: [3, 0x1234] })).toBe('allow');
  });

  it('compiles a filter with no rules to its default action', () => {
    const p = compileOne({ default_action: 'allow', filter_action: 'trap', filter: [] });
    expect(evaluate(p, { nr: NR('execve') })).toBe('allow');
  });

  it('compares only the low 32 bits of a dword, as the kernel passes an int', () => {
    const p = compileOne({ default_action: 'trap', filter_action: 'allow', filter: [{ syscall: 'ioctl', args: [{ index: 1, type: 'dword', op: 'eq', val: 0xae80 }] }] });
    // musl leaves garbage in the upper half of ioctl's request (Firecracker's types.rs note).
    expect(evaluate(p, { nr: NR('ioctl'), args: [0, 0xdead_0000_0000_ae80n] })).toBe('allow');
    expect(evaluate(p, { nr: NR('ioctl'), args: [0, 0xae81] })).toBe('trap');
  });

  describe('operators, at their boundaries', () => {
    const reference: Record<ConditionOp, (a: bigint, v: bigint, m: bigint) => boolean> = {
      eq: (a, v) => a === v,
      ne: (a, v) => a !== v,
      lt: (a, v) => a < v,
      le: (a, v) => a <= v,
      gt: (a, v) => a > v,
      ge: (a, v) => a >= v,
      masked_eq: (a, v, m) => (a & m) === v,
    };
    const U32 = 0xffff_ffffn;
    const U64 = 0xffff_ffff_ffff_ffffn;
    const qwordVals = [0n, 1n, 0x7fff_ffffn, 0x8000_0000n, U32, 1n << 32n, (1n << 32n) + 5n, 0x1234_5678_9abc_def0n, 0xffff_ffff_0000_0000n, U64];
    const dwordVals = [0n, 1n, 5n, 0x7fff_ffffn, 0x8000_0000n, U32 - 1n, U32];
    const around = (vals: bigint[], max: bigint): bigint[] => [...new Set(vals.flatMap((v) => [v - 1n, v, v + 1n, v ^ (1n << 32n)]).filter((v) => v >= 0n && v <= max))];

    for (const type of ['dword', 'qword'] as const) {
      for (const op of Object.keys(reference) as ConditionOp[]) {
        it(`${type} ${op}`, () => {
          const max = type === 'dword' ? U32 : U64;
          const vals = type === 'dword' ? dwordVals : qwordVals;
          const masks = op === 'masked_eq' ? [0xf0n, type === 'dword' ? 0xffff_0000n : 0xffff_0000_0000_ffffn] : [max];
          for (const mask of masks) {
            for (const val of op === 'masked_eq' ? vals.map((v) => v & mask) : vals) {
              const cond = { index: 3, type, op: op === 'masked_eq' ? { masked_eq: 0 } : op, val: 0 };
              const text = JSON.stringify({ t: { default_action: { errno: 9 }, filter_action: 'allow', filter: [{ syscall: 'mmap', args: [cond] }] } })
                .replace('"masked_eq":0', `"masked_eq":${mask}`)
                .replace('"val":0', `"val":${val}`);
              const program = compileFilter(parseFilterFile(text).get('t')!);
              checkProgram(program);
              for (const arg of around([...vals, val], U64)) {
                // The kernel hands a dword argument over whole; the comparison looks at its low half.
                const seen = type === 'dword' ? arg & U32 : arg;
                const want = reference[op](seen, val, mask) ? 'allow' : 'errno(9)';
                expect(evaluate(program, { nr: NR('mmap'), args: [0, 0, 0, arg] }), `args[3]=0x${arg.toString(16)} ${op} 0x${val.toString(16)} mask 0x${mask.toString(16)}`).toBe(want);
              }
            }
          }
        });
      }
    }
  });

  describe('jump trampolines', () => {
    /** One syscall with n rules of qword conditions: its block is far longer than 255 instructions. */
    function longFilter(n: number): object {
      const filter = [{ syscall: 'read' }];
      for (let i = 0; i < n; i++) {
        filter.push({ syscall: 'ioctl', args: [{ index: 0, type: 'qword', op: 'eq', val: i }, { index: 1, type: 'qword', op: 'ge', val: 1000 + i }] } as never);
      }
      filter.push({ syscall: 'write' });
      return { default_action: 'kill_thread', filter_action: 'allow', filter };
    }

    it('bridges jumps past 255 instructions with BPF_JA and keeps every path right', () => {
      const program = compileOne(longFilter(60));
      expect(program.length).toBeGreaterThan(2 * MAX_COND_JUMP);
      const trampolines = program.filter((i) => i.code === (BPF_JMP | BPF_JA));
      expect(trampolines.length).toBeGreaterThan(0);
      expect(trampolines.some((i) => i.k > MAX_COND_JUMP)).toBe(true);
      for (const insn of program) {
        expect(insn.jt).toBeLessThanOrEqual(MAX_COND_JUMP);
        expect(insn.jf).toBeLessThanOrEqual(MAX_COND_JUMP);
      }
      // read is before the long block, write after it (reached only through the trampoline).
      expect(evaluate(program, { nr: NR('read') })).toBe('allow');
      expect(evaluate(program, { nr: NR('write') })).toBe('allow');
      expect(evaluate(program, { nr: NR('close') })).toBe('kill_thread');
      expect(evaluate(program, { nr: NR('read'), arch: 0x4000_0003 })).toBe('kill_process');
      for (const i of [0, 1, 30, 59]) {
        expect(evaluate(program, { nr: NR('ioctl'), args: [i, 1000 + i] })).toBe('allow');
        expect(evaluate(program, { nr: NR('ioctl'), args: [i, 999 + i] })).toBe('kill_thread');
      }
      expect(evaluate(program, { nr: NR('ioctl'), args: [60, 5000] })).toBe('kill_thread');
      // The linear layout: a call to write walks past the whole ioctl block in a few steps.
      expect(runBpf(program, { nr: NR('write') }).steps).toBeLessThan(12);
    });

    it('refuses a filter that needs more than 4096 instructions, naming it', () => {
      expect(() => compileFilterFile(JSON.stringify({ big: longFilter(420) }))).toThrow(/^filter "big", filter: compiles to \d+ BPF instructions, more than the kernel's 4096/);
    });
  });
});
