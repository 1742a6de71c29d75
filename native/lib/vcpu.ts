// VcpuFd: one vCPU, created and run by the thread that owns it (KVM wants vCPU ioctls there).
import { binding, type NativeVcpu, type NativeVcpuStats } from './binding.js';
import { wrap } from './errors.js';
import type { CpuidEntry, KvmFpu, KvmRegs, KvmSregs, MsrEntry, VcpuStateKind } from './types.js';

/** run() outcomes besides KVM_EXIT_* reasons. */
export const RUN_KICKED = -1;
export const RUN_STOPPED = -2;

export class VcpuFd {
  private readonly raw: NativeVcpu;
  /** The kvm_run page (struct kvm_run), live: decode exits from it. */
  readonly runBuffer: ArrayBuffer;

  constructor(vmFd: number, readonly id: number, mmapSize: number) {
    this.raw = wrap('vcpu', `KVM_CREATE_VCPU ${id}`, () => new (binding().Vcpu)(vmFd, id, mmapSize));
    this.runBuffer = this.raw.runBuffer;
  }

  /** KVM_RUN until an exit for JS: a KVM_EXIT_* reason, RUN_KICKED or RUN_STOPPED. */
  run(): number {
    return wrap('vcpu', `KVM_RUN on vCPU ${this.id}`, () => this.raw.run());
  }

  getRegs(): KvmRegs {
    return wrap('vcpu', 'KVM_GET_REGS', () => this.raw.getRegs());
  }
  setRegs(regs: KvmRegs): void {
    wrap('vcpu', 'KVM_SET_REGS', () => this.raw.setRegs(regs));
  }
  getSregs(): KvmSregs {
    return wrap('vcpu', 'KVM_GET_SREGS', () => this.raw.getSregs());
  }
  setSregs(sregs: KvmSregs): void {
    wrap('vcpu', 'KVM_SET_SREGS', () => this.raw.setSregs(sregs));
  }
  getFpu(): KvmFpu {
    return wrap('vcpu', 'KVM_GET_FPU', () => this.raw.getFpu());
  }
  setFpu(fpu: KvmFpu): void {
    wrap('vcpu', 'KVM_SET_FPU', () => this.raw.setFpu(fpu));
  }
  getMsrs(indices: number[]): MsrEntry[] {
    return wrap('vcpu', 'KVM_GET_MSRS', () => this.raw.getMsrs(indices));
  }
  /** Returns how many entries KVM accepted (it stops at the first it refuses). */
  setMsrs(entries: MsrEntry[]): number {
    return wrap('vcpu', 'KVM_SET_MSRS', () => this.raw.setMsrs(entries));
  }
  getLapic(): Uint8Array {
    return wrap('vcpu', 'KVM_GET_LAPIC', () => this.raw.getLapic());
  }
  setLapic(regs: Uint8Array): void {
    wrap('vcpu', 'KVM_SET_LAPIC', () => this.raw.setLapic(regs));
  }
  setCpuid2(entries: CpuidEntry[]): void {
    wrap('vcpu', 'KVM_SET_CPUID2', () => this.raw.setCpuid2(entries));
  }
  /** The CPUID entries KVM_SET_CPUID2 gave this vCPU (KVM_GET_CPUID2). */
  getCpuid2(): CpuidEntry[] {
    return wrap('vcpu', 'KVM_GET_CPUID2', () => binding().getCpuid2(this.raw.fd));
  }
  /** One raw state struct (XSAVE, XCRs, vCPU events, debug registers), STATE_SIZES[kind] bytes. */
  getStateBlob(kind: VcpuStateKind): Uint8Array {
    return wrap('vcpu', `reading the ${kind} state of vCPU ${this.id}`, () => binding().getVcpuState(this.raw.fd, kind));
  }
  setStateBlob(kind: VcpuStateKind, state: Uint8Array): void {
    wrap('vcpu', `writing the ${kind} state of vCPU ${this.id}`, () => binding().setVcpuState(this.raw.fd, kind, state));
  }
  getMpState(): number {
    return wrap('vcpu', 'KVM_GET_MP_STATE', () => this.raw.getMpState());
  }
  setMpState(state: number): void {
    wrap('vcpu', 'KVM_SET_MP_STATE', () => this.raw.setMpState(state));
  }
  /**
   * run(), except that accesses to I/O port `port` are completed in C (OUT dropped, IN reads zeros)
   * and counted, never returned. The benchmark's no-JS baseline (scripts/bench/exits.mjs).
   */
  runCompletingPort(port: number): number {
    return wrap('vcpu', `KVM_RUN on vCPU ${this.id}`, () => this.raw.runCompletingPort(port));
  }
  /** Forwards this vCPU's port/MMIO exits through slot `index` of ExitHub `hubId` (exit-hub.ts). */
  attachExitHub(hubId: number, index: number): void {
    wrap('vcpu', `attach vCPU ${this.id} to exit hub ${hubId}`, () => this.raw.attachExitHub(hubId, index));
  }
  /**
   * run(), except that port and MMIO exits are forwarded to the core through the attached ExitHub
   * from this thread, without returning to JS (the production path; attachExitHub first).
   */
  runForwarding(): number {
    return wrap('vcpu', `KVM_RUN on vCPU ${this.id}`, () => this.raw.runForwarding());
  }
  /**
   * tid of the thread that last ran KVM_RUN, KVM_RUN calls, accesses runCompletingPort completed,
   * exits runForwarding forwarded.
   */
  stats(): NativeVcpuStats {
    return this.raw.stats();
  }
  close(): void {
    this.raw.close();
  }
}

/** The calling thread's kernel tid (to show which thread runs what). */
export function currentTid(): number {
  return binding().currentTid();
}
