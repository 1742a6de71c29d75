// Classic BPF as seccomp runs it: struct sock_filter (linux/filter.h), the opcodes a seccomp
// program uses (linux/bpf_common.h), struct seccomp_data's offsets and the SECCOMP_RET_* actions
// (linux/seccomp.h), and the 8-byte little-endian encoding the kernel reads.

/** One instruction: `struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; }`. */
export interface SockFilter {
  readonly code: number;
  /** Instructions to skip when the condition holds (0-255). */
  readonly jt: number;
  /** Instructions to skip when it does not (0-255). */
  readonly jf: number;
  readonly k: number;
}

export const BPF_LD = 0x00;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_RET = 0x06;
export const BPF_W = 0x00;
export const BPF_ABS = 0x20;
export const BPF_K = 0x00;
export const BPF_AND = 0x50;
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;

/** BPF_MAXINSNS: the kernel refuses a longer program with EINVAL. */
export const BPF_MAXINSNS = 4096;
/** A conditional jump's jt/jf is a u8: at most this many instructions forward. */
export const MAX_COND_JUMP = 255;
export const SOCK_FILTER_SIZE = 8;

/** `struct seccomp_data`: nr (u32), arch (u32), instruction_pointer (u64), args[6] (u64 each). */
export const SECCOMP_DATA_NR = 0;
export const SECCOMP_DATA_ARCH = 4;
/** The low 32 bits of args[i] (x86_64 is little-endian); the high half is 4 bytes further. */
export function argLowOffset(index: number): number {
  return 16 + 8 * index;
}
export const SECCOMP_DATA_SIZE = 64;

/** linux/audit.h: EM_X86_64 (62) | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE. */
export const AUDIT_ARCH_X86_64 = 0xc000_003e;
/** x32 ABI syscalls are x86_64 syscalls with this bit set (asm/unistd.h __X32_SYSCALL_BIT). */
export const X32_SYSCALL_BIT = 0x4000_0000;

export const SECCOMP_RET_KILL_PROCESS = 0x8000_0000;
export const SECCOMP_RET_KILL_THREAD = 0x0000_0000;
export const SECCOMP_RET_TRAP = 0x0003_0000;
export const SECCOMP_RET_ERRNO = 0x0005_0000;
export const SECCOMP_RET_TRACE = 0x7ff0_0000;
export const SECCOMP_RET_LOG = 0x7ffc_0000;
export const SECCOMP_RET_ALLOW = 0x7fff_0000;
export const SECCOMP_RET_ACTION_FULL = 0xffff_0000;
export const SECCOMP_RET_DATA = 0x0000_ffff;

/** The program as the kernel reads it (struct sock_fprog's filter array). */
export function encodeProgram(program: readonly SockFilter[]): Uint8Array {
  const out = new Uint8Array(program.length * SOCK_FILTER_SIZE);
  const view = new DataView(out.buffer);
  program.forEach((insn, i) => {
    view.setUint16(i * SOCK_FILTER_SIZE, insn.code, true);
    view.setUint8(i * SOCK_FILTER_SIZE + 2, insn.jt);
    view.setUint8(i * SOCK_FILTER_SIZE + 3, insn.jf);
    view.setUint32(i * SOCK_FILTER_SIZE + 4, insn.k >>> 0, true);
  });
  return out;
}

/** The inverse of encodeProgram; bytes.length must be a multiple of 8. */
export function decodeProgram(bytes: Uint8Array): SockFilter[] {
  if (bytes.length % SOCK_FILTER_SIZE !== 0) throw new RangeError(`a BPF program is a multiple of ${SOCK_FILTER_SIZE} bytes, not ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: SockFilter[] = [];
  for (let o = 0; o < bytes.length; o += SOCK_FILTER_SIZE) {
    out.push({ code: view.getUint16(o, true), jt: view.getUint8(o + 2), jf: view.getUint8(o + 3), k: view.getUint32(o + 4, true) });
  }
  return out;
}
