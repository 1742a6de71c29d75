// A classic-BPF interpreter for tests: runs a seccomp program on a struct seccomp_data the way the
// kernel's seccomp_run_filters does, and checks it the way its load-time checker does (every jump
// lands inside the program, every path ends in a return, loads are aligned and in range).
import {
  AUDIT_ARCH_X86_64, BPF_ABS, BPF_ALU, BPF_AND, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_RET, BPF_W,
  SECCOMP_DATA_SIZE, SECCOMP_RET_ACTION_FULL, SECCOMP_RET_ALLOW, SECCOMP_RET_DATA, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_KILL_THREAD, SECCOMP_RET_LOG, SECCOMP_RET_TRACE, SECCOMP_RET_TRAP, type SockFilter,
} from '../bpf.js';

/** struct seccomp_data's fields; args are u64 (missing ones are 0). */
export interface SeccompData {
  nr: number;
  arch?: number;
  instructionPointer?: bigint;
  args?: readonly (bigint | number)[];
}

/** The program's return value (SECCOMP_RET_*) and how many instructions ran. */
export interface BpfResult {
  readonly value: number;
  readonly steps: number;
}

const BPF_OR = 0x40;
const BPF_LSH = 0x60;
const BPF_RSH = 0x70;
const BPF_ADD = 0x00;
const BPF_SUB = 0x10;
const BPF_XOR = 0xa0;
const BPF_A = 0x10;

function dataBytes(d: SeccompData): DataView {
  const view = new DataView(new ArrayBuffer(SECCOMP_DATA_SIZE));
  view.setUint32(0, d.nr >>> 0, true);
  view.setUint32(4, (d.arch ?? AUDIT_ARCH_X86_64) >>> 0, true);
  view.setBigUint64(8, d.instructionPointer ?? 0n, true);
  (d.args ?? []).forEach((a, i) => view.setBigUint64(16 + 8 * i, BigInt.asUintN(64, BigInt(a)), true));
  return view;
}

/** Runs program on data. Throws for anything the kernel would refuse or that runs off the end. */
export function runBpf(program: readonly SockFilter[], data: SeccompData): BpfResult {
  const mem = dataBytes(data);
  let a = 0;
  let pc = 0;
  let steps = 0;
  for (;;) {
    const insn = program[pc];
    if (insn === undefined) throw new Error(`BPF: pc ${pc} is outside the program (${program.length} instructions)`);
    steps++;
    const { code, k, jt, jf } = insn;
    const cls = code & 0x07;
    if (cls === BPF_LD) {
      if (code !== (BPF_LD | BPF_W | BPF_ABS)) throw new Error(`BPF: unsupported load 0x${code.toString(16)} at ${pc}`);
      if (k % 4 !== 0 || k + 4 > SECCOMP_DATA_SIZE) throw new Error(`BPF: load of seccomp_data offset ${k} at ${pc}`);
      a = mem.getUint32(k, true);
      pc++;
    } else if (cls === BPF_ALU) {
      if ((code & 0x08) !== BPF_K) throw new Error(`BPF: unsupported ALU source at ${pc}`);
      const op = code & 0xf0;
      if (op === BPF_AND) a = (a & k) >>> 0;
      else if (op === BPF_OR) a = (a | k) >>> 0;
      else if (op === BPF_XOR) a = (a ^ k) >>> 0;
      else if (op === BPF_ADD) a = (a + k) >>> 0;
      else if (op === BPF_SUB) a = (a - k) >>> 0;
      else if (op === BPF_LSH) a = k >= 32 ? 0 : (a << k) >>> 0;
      else if (op === BPF_RSH) a = k >= 32 ? 0 : a >>> k;
      else throw new Error(`BPF: unsupported ALU op 0x${op.toString(16)} at ${pc}`);
      pc++;
    } else if (cls === BPF_JMP) {
      if ((code & 0x08) !== BPF_K) throw new Error(`BPF: unsupported jump source at ${pc}`);
      const op = code & 0xf0;
      if (jt > 255 || jf > 255) throw new Error(`BPF: jt/jf out of u8 range at ${pc}`);
      let taken: boolean;
      if (op === BPF_JA) {
        pc += 1 + k;
        continue;
      } else if (op === BPF_JEQ) taken = a === k;
      else if (op === BPF_JGT) taken = a > k;
      else if (op === BPF_JGE) taken = a >= k;
      else if (op === BPF_JSET) taken = (a & k) !== 0;
      else throw new Error(`BPF: unsupported jump op 0x${op.toString(16)} at ${pc}`);
      pc += 1 + (taken ? jt : jf);
    } else if (cls === BPF_RET) {
      return { value: ((code & 0x18) === BPF_A ? a : k) >>> 0, steps };
    } else {
      throw new Error(`BPF: unsupported instruction class ${cls} at ${pc}`);
    }
  }
}

/**
 * The kernel's static checks (net/core/filter.c bpf_check_classic + seccomp_check_filter):
 * 1 to 4096 instructions, every jump inside the program, and the last instruction a return.
 */
export function checkProgram(program: readonly SockFilter[]): void {
  if (program.length === 0 || program.length > 4096) throw new Error(`BPF: ${program.length} instructions`);
  program.forEach((insn, pc) => {
    if ((insn.code & 0x07) !== BPF_JMP) return;
    const targets = (insn.code & 0xf0) === BPF_JA ? [pc + 1 + insn.k] : [pc + 1 + insn.jt, pc + 1 + insn.jf];
    for (const t of targets) if (t >= program.length) throw new Error(`BPF: the jump at ${pc} lands at ${t}, outside the program`);
  });
  if ((program[program.length - 1]!.code & 0x07) !== BPF_RET) throw new Error('BPF: the last instruction is not a return');
}

/** A return value as a readable action: `allow`, `errno(1)`, `kill_process`, ... */
export function actionName(value: number): string {
  const action = (value & SECCOMP_RET_ACTION_FULL) >>> 0;
  const data = value & SECCOMP_RET_DATA;
  switch (action) {
    case SECCOMP_RET_ALLOW:
      return 'allow';
    case SECCOMP_RET_KILL_PROCESS:
      return 'kill_process';
    case SECCOMP_RET_KILL_THREAD:
      return 'kill_thread';
    case SECCOMP_RET_TRAP:
      return 'trap';
    case SECCOMP_RET_LOG:
      return 'log';
    case SECCOMP_RET_ERRNO:
      return `errno(${data})`;
    case SECCOMP_RET_TRACE:
      return `trace(${data})`;
    default:
      return `0x${value.toString(16)}`;
  }
}

/** runBpf + actionName. */
export function evaluate(program: readonly SockFilter[], data: SeccompData): string {
  return actionName(runBpf(program, data).value);
}
