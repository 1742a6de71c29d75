// Cloud Hypervisor's `--seccomp log`: the filters run, but a call they would stop goes on and the
// kernel logs it (SECCOMP_RET_LOG, audit/dmesg "type=1326"), for finding what a filter misses.
import { BPF_K, BPF_RET, SECCOMP_RET_ACTION_FULL, SECCOMP_RET_ALLOW, SECCOMP_RET_LOG, type SockFilter } from './bpf.js';

/** The program with every constant return other than allow turned into SECCOMP_RET_LOG. */
export function withLogActions(program: readonly SockFilter[]): SockFilter[] {
  return program.map((insn) => {
    if (insn.code !== (BPF_RET | BPF_K)) return insn;
    const action = (insn.k & SECCOMP_RET_ACTION_FULL) >>> 0;
    return action === SECCOMP_RET_ALLOW ? insn : { ...insn, k: SECCOMP_RET_LOG };
  });
}
