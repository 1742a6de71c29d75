// Initial x87/SSE state for KVM_SET_FPU, as after FNINIT with SSE exceptions masked.
// Spec: Intel SDM vol. 1 8.1.5 (x87 control word), 10.2.3 (MXCSR) and table 8-1 (FNINIT values).
import type { KvmFpu } from '@workervisor/native';

/** x87 control word after FNINIT: all exceptions masked, 64-bit precision, round to nearest. */
export const FPU_DEFAULT_FCW = 0x37f;
/** MXCSR at power-up: all SIMD exceptions masked, round to nearest. */
export const MXCSR_DEFAULT = 0x1f80;

/** A fresh kvm_fpu: fcw 0x37f, mxcsr 0x1f80, every register and pointer zero. */
export function defaultFpu(): KvmFpu {
  return {
    fpr: new Uint8Array(8 * 16),
    fcw: FPU_DEFAULT_FCW,
    fsw: 0,
    ftwx: 0,
    lastOpcode: 0,
    lastIp: 0n,
    lastDp: 0n,
    xmm: new Uint8Array(16 * 16),
    mxcsr: MXCSR_DEFAULT,
  };
}
