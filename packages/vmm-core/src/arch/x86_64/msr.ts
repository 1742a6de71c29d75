// Boot MSR values for every vCPU, Firecracker's create_boot_msr_entries. Spec: Intel SDM vol. 4
// (MSR index), vol. 3A 11.11.2.1 (IA32_MTRR_DEF_TYPE), 5.8.8 (SYSCALL/SYSRET MSRs).
import type { MsrEntry } from '@workervisor/native';

export const MSR_IA32_TSC = 0x10;
export const MSR_IA32_SYSENTER_CS = 0x174;
export const MSR_IA32_SYSENTER_ESP = 0x175;
export const MSR_IA32_SYSENTER_EIP = 0x176;
export const MSR_IA32_MISC_ENABLE = 0x1a0;
export const MSR_MTRR_DEF_TYPE = 0x2ff;
export const MSR_STAR = 0xc000_0081;
export const MSR_LSTAR = 0xc000_0082;
export const MSR_CSTAR = 0xc000_0083;
export const MSR_SYSCALL_MASK = 0xc000_0084;
export const MSR_KERNEL_GS_BASE = 0xc000_0102;

/** IA32_MISC_ENABLE bit 0: fast-string operations (rep movs/stos) enabled. */
export const MISC_ENABLE_FAST_STRING = 1n << 0n;
/** IA32_MTRR_DEF_TYPE bit 11: MTRRs enabled. */
export const MTRR_ENABLE = 1n << 11n;
/** Memory type write-back (6) as the MTRR default type, bits 7:0. */
export const MTRR_MEM_TYPE_WB = 0x6n;

/**
 * MSRs to KVM_SET_MSRS on each vCPU before it runs: SYSENTER/SYSCALL targets and masks zeroed (the
 * kernel programs them), TSC = 0, fast strings on, and MTRRs enabled with write-back as default so
 * the guest does not run uncached.
 */
export function bootMsrEntries(): MsrEntry[] {
  return [
    { index: MSR_IA32_SYSENTER_CS, data: 0n },
    { index: MSR_IA32_SYSENTER_ESP, data: 0n },
    { index: MSR_IA32_SYSENTER_EIP, data: 0n },
    { index: MSR_STAR, data: 0n },
    { index: MSR_CSTAR, data: 0n },
    { index: MSR_KERNEL_GS_BASE, data: 0n },
    { index: MSR_SYSCALL_MASK, data: 0n },
    { index: MSR_LSTAR, data: 0n },
    { index: MSR_IA32_TSC, data: 0n },
    { index: MSR_IA32_MISC_ENABLE, data: MISC_ENABLE_FAST_STRING },
    { index: MSR_MTRR_DEF_TYPE, data: MTRR_ENABLE | MTRR_MEM_TYPE_WB },
  ];
}
