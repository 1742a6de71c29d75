import { describe, expect, it } from 'vitest';
import { Assembler } from './assembler.js';
import { BPF_ABS, BPF_JA, BPF_JEQ, BPF_JMP, BPF_LD, BPF_W, SECCOMP_RET_ALLOW, SECCOMP_RET_TRAP } from './bpf.js';
import { checkProgram, evaluate } from './testing/index.js';

const JEQ = BPF_JMP | BPF_JEQ;
const LD = BPF_LD | BPF_W | BPF_ABS;

describe('Assembler', () => {
  it('resolves labels to forward offsets', () => {
    const a = new Assembler();
    const yes = a.label();
    a.stmt(LD, 0);
    a.jump(JEQ, 7, yes, 'next');
    a.ret(SECCOMP_RET_TRAP);
    a.place(yes);
    a.ret(SECCOMP_RET_ALLOW);
    expect(a.assemble()).toEqual([
      { code: LD, jt: 0, jf: 0, k: 0 },
      { code: JEQ, jt: 1, jf: 0, k: 7 },
      { code: 6, jt: 0, jf: 0, k: SECCOMP_RET_TRAP },
      { code: 6, jt: 0, jf: 0, k: SECCOMP_RET_ALLOW },
    ]);
  });

  it('gives both sides of a jump a trampoline when both targets are out of reach', () => {
    const a = new Assembler();
    const far1 = a.label();
    const far2 = a.label();
    a.stmt(LD, 0);
    a.jump(JEQ, 1, far1, far2);
    for (let i = 0; i < 300; i++) a.ret(SECCOMP_RET_TRAP);
    a.place(far1);
    a.ret(SECCOMP_RET_ALLOW);
    for (let i = 0; i < 300; i++) a.ret(SECCOMP_RET_TRAP);
    a.place(far2);
    a.ret(0x0005_0001);
    const p = a.assemble();
    checkProgram(p);
    expect(p[1]).toMatchObject({ jt: 0, jf: 1 });
    expect(p[2]).toMatchObject({ code: BPF_JMP | BPF_JA, k: 300 + 1 });
    expect(p[3]).toMatchObject({ code: BPF_JMP | BPF_JA, k: 300 + 1 + 300 });
    expect(evaluate(p, { nr: 1 })).toBe('allow');
    expect(evaluate(p, { nr: 2 })).toBe('errno(1)');
  });

  it('re-checks jumps that the inserted trampolines pushed out of reach', () => {
    // Many jumps to one label just within reach: each trampoline moves the label one further.
    const a = new Assembler();
    const end = a.label();
    a.stmt(LD, 0);
    for (let i = 0; i < 40; i++) a.jump(JEQ, i, end, 'next');
    for (let i = 0; i < 215; i++) a.ret(SECCOMP_RET_TRAP);
    a.place(end);
    a.ret(SECCOMP_RET_ALLOW);
    const p = a.assemble();
    checkProgram(p);
    for (const insn of p) expect(insn.jt).toBeLessThanOrEqual(255);
    for (let i = 0; i < 40; i++) expect(evaluate(p, { nr: i })).toBe('allow');
    expect(evaluate(p, { nr: 40 })).toBe('trap');
  });

  it('refuses a backward jump or an unplaced label (a compiler bug)', () => {
    const a = new Assembler();
    const back = a.label();
    a.place(back);
    a.stmt(LD, 0);
    a.jump(JEQ, 1, back, 'next');
    a.ret(0);
    expect(() => a.assemble()).toThrow(/only forward/);
    const b = new Assembler();
    b.jump(JEQ, 1, b.label(), 'next');
    b.ret(0);
    expect(() => b.assemble()).toThrow(/never placed/);
  });
});
