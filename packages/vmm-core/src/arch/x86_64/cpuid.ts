// Per-vCPU CPUID from KVM_GET_SUPPORTED_CPUID: APIC ids, topology (leaves 1, 4, 0xB, 0x1F), the
// hypervisor bit and KVM leaves, power features off. Spec: Intel SDM vol. 2A "CPUID"; Linux
// Documentation/virt/kvm/x86/cpuid.rst; Firecracker docs/cpu_templates/cpuid-normalization.md.
import type { CpuidEntry } from '@workervisor/native';
import { MAX_VCPUS } from './layout.js';
import { X86Error } from './errors.js';

/** kvm_cpuid_entry2.flags: the leaf's ECX (index) selects a subleaf. */
export const KVM_CPUID_FLAG_SIGNIFICANT_INDEX = 1;

/** Leaf 1 bits. */
const LEAF1_EBX_CLFLUSH_SHIFT = 8;
const LEAF1_EBX_LOGICAL_COUNT_SHIFT = 16;
const LEAF1_EBX_APIC_ID_SHIFT = 24;
/** CLFLUSH line size in 8-byte units: 8 -> 64 bytes. */
const CLFLUSH_LINE_QWORDS = 8;
const LEAF1_ECX_PDCM = 1 << 15;
const LEAF1_ECX_TSC_DEADLINE = 1 << 24;
const LEAF1_ECX_HYPERVISOR = 1 << 31;
const LEAF1_EDX_HTT = 1 << 28;
/** Leaf 4 EAX: [4:0] cache type (0 = no more caches), [7:5] level, [25:14] sharing, [31:26] cores. */
const LEAF4_CACHE_TYPE_MASK = 0x1f;
const LEAF4_LEVEL_SHIFT = 5;
const LEAF4_SHARING_SHIFT = 14;
const LEAF4_CORES_SHIFT = 26;
const LEAF4_PATCHED_MASK = 0xffff_c000; // bits 31:14
/** EAX[31:26] is 6 bits wide. */
const LEAF4_CORES_MAX = 0x3f;
/** Leaf 6: EAX[1] Turbo Boost, ECX[3] performance-energy bias (frequency selection). */
const LEAF6_EAX_TURBO = 1 << 1;
const LEAF6_ECX_EPB = 1 << 3;
/** Extended topology level types (leaves 0xB / 0x1F ECX[15:8]). */
const LEVEL_TYPE_SMT = 1;
const LEVEL_TYPE_CORE = 2;
/** KVM's hypervisor leaves (cpuid.rst): signature "KVMKVMKVM\0\0\0" and the feature leaf. */
export const KVM_CPUID_SIGNATURE = 0x4000_0000;
export const KVM_CPUID_FEATURES = 0x4000_0001;
const KVM_SIGNATURE_EBX = 0x4b4d_564b; // "KVMK"
const KVM_SIGNATURE_ECX = 0x564b_4d56; // "VMKV"
const KVM_SIGNATURE_EDX = 0x0000_004d; // "M\0\0\0"

/** Bits needed to number count items: ceil(log2(count)), 0 for 1. */
export function topologyShift(count: number): number {
  let shift = 0;
  while (1 << shift < count) shift++;
  return shift;
}

/** Leaves 0xB / 0x1F: SMT level (1 thread per core), core level (all vCPUs), then the invalid level. */
function topologyLeaf(fn: number, apicId: number, vcpuCount: number): CpuidEntry[] {
  const sub = (index: number, eax: number, ebx: number, type: number): CpuidEntry => ({
    function: fn,
    index,
    flags: KVM_CPUID_FLAG_SIGNIFICANT_INDEX,
    eax,
    ebx,
    ecx: ((type << 8) | index) >>> 0,
    edx: apicId,
  });
  return [
    sub(0, 0, 1, LEVEL_TYPE_SMT),
    sub(1, topologyShift(vcpuCount), vcpuCount, LEVEL_TYPE_CORE),
    sub(2, 0, 0, 0),
  ];
}

/**
 * Returns a patched copy of supported (KVM_GET_SUPPORTED_CPUID) for vCPU vcpuIndex of vcpuCount,
 * one thread per core, one package. Changes, as Firecracker's normalization:
 * - leaf 1: EBX initial APIC id [31:24] = vcpuIndex, logical count [23:16] = vcpuCount, CLFLUSH 64
 *   bytes; ECX hypervisor [31] and TSC-deadline [24] (emulated by the in-kernel LAPIC) set, PDCM
 *   [15] clear; EDX HTT [28] = vcpuCount > 1.
 * - leaf 4, every subleaf with a cache: EAX[31:26] = vcpuCount - 1 cores per package (capped at 63), EAX[25:14]
 *   = sharing threads - 1 (L1/L2: 0; L3: vcpuCount - 1).
 * - leaf 6: Turbo Boost (EAX[1]) and performance-energy bias (ECX[3]) clear.
 * - leaves 0xB and 0x1F (when supported): replaced by SMT (shift 0, 1 thread) and core (shift
 *   ceil(log2 vcpuCount), vcpuCount) levels, EDX = x2APIC id = vcpuIndex.
 * - 0x40000000: "KVMKVMKVM\0\0\0", EAX = 0x40000001; 0x40000001 kept from supported.
 */
export function patchCpuid(supported: readonly CpuidEntry[], vcpuIndex: number, vcpuCount: number): CpuidEntry[] {
  if (!Number.isSafeInteger(vcpuCount) || vcpuCount < 1 || vcpuCount > MAX_VCPUS) {
    throw new X86Error('invalid-vcpu', `vCPU count ${vcpuCount} is outside [1, ${MAX_VCPUS}]`);
  }
  if (!Number.isSafeInteger(vcpuIndex) || vcpuIndex < 0 || vcpuIndex >= vcpuCount) {
    throw new X86Error('invalid-vcpu', `vCPU index ${vcpuIndex} is outside [0, ${vcpuCount})`);
  }
  const apicId = vcpuIndex;
  const out: CpuidEntry[] = [];
  let hasSignature = false;
  for (const src of supported) {
    const e: CpuidEntry = { ...src };
    switch (e.function) {
      case 0x1:
        e.ebx =
          ((e.ebx & 0xff) |
            (CLFLUSH_LINE_QWORDS << LEAF1_EBX_CLFLUSH_SHIFT) |
            (vcpuCount << LEAF1_EBX_LOGICAL_COUNT_SHIFT) |
            (apicId << LEAF1_EBX_APIC_ID_SHIFT)) >>> 0;
        e.ecx = ((e.ecx & ~LEAF1_ECX_PDCM) | LEAF1_ECX_TSC_DEADLINE | LEAF1_ECX_HYPERVISOR) >>> 0;
        e.edx = (vcpuCount > 1 ? e.edx | LEAF1_EDX_HTT : e.edx & ~LEAF1_EDX_HTT) >>> 0;
        break;
      case 0x4: {
        if ((e.eax & LEAF4_CACHE_TYPE_MASK) === 0) break;
        const level = (e.eax >>> LEAF4_LEVEL_SHIFT) & 0x7;
        const sharing = level >= 3 ? vcpuCount - 1 : 0;
        e.eax = ((e.eax & ~LEAF4_PATCHED_MASK) | (sharing << LEAF4_SHARING_SHIFT) | (Math.min(vcpuCount - 1, LEAF4_CORES_MAX) << LEAF4_CORES_SHIFT)) >>> 0;
        break;
      }
      case 0x6:
        e.eax = (e.eax & ~LEAF6_EAX_TURBO) >>> 0;
        e.ecx = (e.ecx & ~LEAF6_ECX_EPB) >>> 0;
        break;
      case 0xb:
      case 0x1f:
        // Rebuilt below from the first subleaf seen.
        if (!out.some((o) => o.function === e.function)) out.push(...topologyLeaf(e.function, apicId, vcpuCount));
        continue;
      case KVM_CPUID_SIGNATURE:
        hasSignature = true;
        e.eax = KVM_CPUID_FEATURES;
        e.ebx = KVM_SIGNATURE_EBX;
        e.ecx = KVM_SIGNATURE_ECX;
        e.edx = KVM_SIGNATURE_EDX;
        break;
      default:
        break;
    }
    out.push(e);
  }
  if (!hasSignature) {
    out.push({ function: KVM_CPUID_SIGNATURE, index: 0, flags: 0, eax: KVM_CPUID_FEATURES, ebx: KVM_SIGNATURE_EBX, ecx: KVM_SIGNATURE_ECX, edx: KVM_SIGNATURE_EDX });
  }
  return out;
}
