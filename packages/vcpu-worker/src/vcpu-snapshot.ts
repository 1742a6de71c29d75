// A vCPU's whole KVM state for snapshots, read and written by the worker that owns the vCPU fd
// (KVM wants vCPU ioctls from that thread) while the vCPU is out of KVM_RUN. The restore order is
// Firecracker's (vstate/vcpu.rs restore_state): CPUID first, MSRs after the LAPIC they depend on
// (TSC deadline), vCPU events (pending exceptions, NMIs, interrupt shadow) last.
import type { VcpuFd } from '@workervisor/native';
import { VcpuError } from './error.js';
import type { VcpuSnapshot } from './protocol.js';

/**
 * The MSRs of `indices` KVM lets this vCPU read: KVM_GET_MSRS stops at the first it refuses, so
 * that one is skipped and the read goes on after it. Returns the values and the refused indices.
 */
export function readMsrs(vcpu: VcpuFd, indices: readonly number[]): { msrs: VcpuSnapshot['msrs']; refused: number[] } {
  const msrs: VcpuSnapshot['msrs'] = [];
  const refused: number[] = [];
  let rest = [...indices];
  while (rest.length > 0) {
    const got = vcpu.getMsrs(rest);
    msrs.push(...got);
    if (got.length === rest.length) break;
    refused.push(rest[got.length]!);
    rest = rest.slice(got.length + 1);
  }
  return { msrs, refused };
}

/** Reads everything; `hasXsave` (KVM_CAP_XSAVE) adds the XSAVE area and the XCRs. */
export function saveVcpu(vcpu: VcpuFd, msrIndices: readonly number[], hasXsave: boolean): VcpuSnapshot {
  const { msrs, refused } = readMsrs(vcpu, msrIndices);
  return {
    cpuid: vcpu.getCpuid2(),
    mpState: vcpu.getMpState(),
    regs: vcpu.getRegs(),
    sregs: vcpu.getSregs(),
    fpu: vcpu.getFpu(),
    ...(hasXsave ? { xsave: vcpu.getStateBlob('xsave'), xcrs: vcpu.getStateBlob('xcrs') } : {}),
    debugRegs: vcpu.getStateBlob('debugregs'),
    lapic: vcpu.getLapic(),
    msrs,
    refusedMsrs: refused,
    vcpuEvents: vcpu.getStateBlob('vcpu-events'),
  };
}

/** Writes a saveVcpu() result back; throws VcpuError('restore') when KVM refuses an MSR. */
export function restoreVcpu(vcpu: VcpuFd, s: VcpuSnapshot): void {
  vcpu.setCpuid2(s.cpuid);
  vcpu.setMpState(s.mpState);
  vcpu.setRegs(s.regs);
  vcpu.setSregs(s.sregs);
  // XSAVE holds the legacy FPU/SSE area too; kvm_fpu is the fallback without KVM_CAP_XSAVE.
  if (s.xsave !== undefined) vcpu.setStateBlob('xsave', s.xsave);
  else vcpu.setFpu(s.fpu);
  if (s.xcrs !== undefined) vcpu.setStateBlob('xcrs', s.xcrs);
  vcpu.setStateBlob('debugregs', s.debugRegs);
  vcpu.setLapic(s.lapic);
  const accepted = vcpu.setMsrs(s.msrs);
  if (accepted !== s.msrs.length) {
    const msr = s.msrs[accepted];
    throw new VcpuError('restore', `vCPU ${vcpu.id}: KVM refused MSR 0x${msr?.index.toString(16) ?? '?'} (${accepted} of ${s.msrs.length} restored)`);
  }
  vcpu.setStateBlob('vcpu-events', s.vcpuEvents);
}
