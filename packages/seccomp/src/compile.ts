// Compiles a checked filter into a seccomp BPF program, laid out as Firecracker's seccompiler did
// before it moved to libseccomp: check seccomp_data.arch (anything but x86_64 kills the process),
// refuse x32-ABI numbers the same way (they would slip past a deny-list), then one block per
// syscall in order of first appearance: `nr == N ?` then each rule's and-bound conditions, each
// failed condition falling to the next rule; a rule whose conditions all hold returns
// filter_action, and a syscall none of whose rules match returns default_action.
import { Assembler, type Label } from './assembler.js';
import {
  argLowOffset, AUDIT_ARCH_X86_64, BPF_ABS, BPF_ALU, BPF_AND, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JMP, BPF_K, BPF_LD, BPF_MAXINSNS, BPF_W,
  SECCOMP_DATA_ARCH, SECCOMP_DATA_NR, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_LOG,
  SECCOMP_RET_TRACE, SECCOMP_RET_TRAP, X32_SYSCALL_BIT, type SockFilter,
} from './bpf.js';
import { SeccompError } from './errors.js';
import { parseFilterFile, type SeccompAction, type SeccompCondition, type SeccompFilter, type SeccompFilterSet, type SyscallRule, type TargetArch } from './filter-file.js';

/** The SECCOMP_RET_* value of an action (linux/seccomp.h). */
export function actionValue(action: SeccompAction): number {
  switch (action.kind) {
    case 'allow':
      return SECCOMP_RET_ALLOW;
    case 'kill_thread':
      return SECCOMP_RET_KILL_THREAD;
    case 'kill_process':
      return SECCOMP_RET_KILL_PROCESS;
    case 'log':
      return SECCOMP_RET_LOG;
    case 'trap':
      return SECCOMP_RET_TRAP;
    case 'errno':
      return (SECCOMP_RET_ERRNO | action.errno) >>> 0;
    case 'trace':
      return (SECCOMP_RET_TRACE | action.data) >>> 0;
  }
}

/** One filter's program. `name` is the thread category, for the too-long error. */
export function compileFilter(filter: SeccompFilter, name = 'filter', arch: TargetArch = 'x86_64'): SockFilter[] {
  if (arch !== 'x86_64') throw new SeccompError('unsupported-arch', `target arch '${String(arch)}' is not supported`);
  const a = new Assembler();
  const kill = a.label();
  a.stmt(BPF_LD | BPF_W | BPF_ABS, SECCOMP_DATA_ARCH);
  a.jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 'next', kill);
  a.stmt(BPF_LD | BPF_W | BPF_ABS, SECCOMP_DATA_NR);
  a.jump(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, kill, 'next');

  const defaultAction = actionValue(filter.defaultAction);
  const filterAction = actionValue(filter.filterAction);
  for (const [nr, rules] of groupBySyscall(filter.rules)) {
    const nextSyscall = a.label();
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, nr, 'next', nextSyscall);
    for (const rule of rules) {
      // A rule with no conditions matches every call: the rules after it are never reached.
      if (rule.args.length === 0) {
        a.ret(filterAction);
        break;
      }
      const nextRule = a.label();
      for (const cond of rule.args) emitCondition(a, cond, nextRule);
      a.ret(filterAction);
      a.place(nextRule);
    }
    // No rule matched. Every path through a block ends in a return, so the only way to the next
    // block is its `nr ==` jump, and A still holds nr there.
    a.ret(defaultAction);
    a.place(nextSyscall);
  }
  a.ret(defaultAction);
  a.place(kill);
  a.ret(SECCOMP_RET_KILL_PROCESS);

  const program = a.assemble();
  if (program.length > BPF_MAXINSNS) {
    throw new SeccompError('too-long', `compiles to ${program.length} BPF instructions, more than the kernel's ${BPF_MAXINSNS} (BPF_MAXINSNS)`, { at: { filter: name, field: 'filter' } });
  }
  return program;
}

/** Every filter of a set, keyed as in the file. */
export function compileFilterSet(filters: SeccompFilterSet, arch: TargetArch = 'x86_64'): Map<string, SockFilter[]> {
  const out = new Map<string, SockFilter[]>();
  for (const [name, filter] of filters) out.set(name, compileFilter(filter, name, arch));
  return out;
}

/** parseFilterFile + compileFilterSet: a Firecracker seccompiler JSON file's text to programs. */
export function compileFilterFile(text: string, arch: TargetArch = 'x86_64'): Map<string, SockFilter[]> {
  return compileFilterSet(parseFilterFile(text, arch), arch);
}

/** Rules grouped by syscall number, syscalls in order of first appearance, rules in file order. */
function groupBySyscall(rules: readonly SyscallRule[]): Map<number, SyscallRule[]> {
  const out = new Map<number, SyscallRule[]>();
  for (const rule of rules) out.set(rule.nr, [...(out.get(rule.nr) ?? []), rule]);
  return out;
}

const LD_ABS = BPF_LD | BPF_W | BPF_ABS;
const JEQ = BPF_JMP | BPF_JEQ | BPF_K;
const JGT = BPF_JMP | BPF_JGT | BPF_K;
const JGE = BPF_JMP | BPF_JGE | BPF_K;
const AND = BPF_ALU | BPF_AND | BPF_K;

/**
 * Falls through when `args[index] <op> val` holds, jumps to `fail` when not. A qword compares the
 * high words first (x86_64 is little-endian: the high half is at offset +4); a dword only the low.
 */
function emitCondition(a: Assembler, c: SeccompCondition, fail: Label): void {
  const lo = argLowOffset(c.index);
  const hi = lo + 4;
  const vLo = Number(c.val & 0xffff_ffffn);
  const vHi = Number(c.val >> 32n);
  const mLo = Number(c.mask & 0xffff_ffffn);
  const mHi = Number(c.mask >> 32n);
  const pass = a.label();
  const qword = c.type === 'qword';
  switch (c.op) {
    case 'eq':
      if (qword) {
        a.stmt(LD_ABS, hi);
        a.jump(JEQ, vHi, 'next', fail);
      }
      a.stmt(LD_ABS, lo);
      a.jump(JEQ, vLo, 'next', fail);
      break;
    case 'masked_eq':
      if (qword) {
        a.stmt(LD_ABS, hi);
        a.stmt(AND, mHi);
        a.jump(JEQ, vHi, 'next', fail);
      }
      a.stmt(LD_ABS, lo);
      a.stmt(AND, mLo);
      a.jump(JEQ, vLo, 'next', fail);
      break;
    case 'ne':
      if (qword) {
        a.stmt(LD_ABS, hi);
        a.jump(JEQ, vHi, 'next', pass);
      }
      a.stmt(LD_ABS, lo);
      a.jump(JEQ, vLo, fail, 'next');
      break;
    case 'gt':
    case 'ge': {
      // hi > vHi: holds; hi < vHi: fails; equal: decided by the low words.
      if (qword) {
        a.stmt(LD_ABS, hi);
        a.jump(JGT, vHi, pass, 'next');
        a.jump(JEQ, vHi, 'next', fail);
      }
      a.stmt(LD_ABS, lo);
      a.jump(c.op === 'gt' ? JGT : JGE, vLo, 'next', fail);
      break;
    }
    case 'lt':
    case 'le': {
      // hi > vHi: fails; hi < vHi: holds; equal: decided by the low words.
      if (qword) {
        a.stmt(LD_ABS, hi);
        a.jump(JGT, vHi, fail, 'next');
        a.jump(JEQ, vHi, 'next', pass);
      }
      a.stmt(LD_ABS, lo);
      // lo < v  <=>  !(lo >= v);  lo <= v  <=>  !(lo > v)
      a.jump(c.op === 'lt' ? JGE : JGT, vLo, fail, 'next');
      break;
    }
  }
  a.place(pass);
}
