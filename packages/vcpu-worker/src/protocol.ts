// Messages between the core and a vCPU worker. Every command carries its own reply port and gets
// exactly one reply on it (channel-in-channel, like Cloud Hypervisor's ApiRequest + sender).
import type { MessagePort } from 'node:worker_threads';
import type { ErrorData, LogLevel } from '@workervisor/base';
import type { CpuidEntry, KvmFpu, KvmRegs, KvmSregs, MsrEntry } from '@workervisor/native';

/** Architectural state of one vCPU, as read from or written to KVM. Fields absent are left alone. */
export interface VcpuState {
  regs?: KvmRegs;
  sregs?: KvmSregs;
  fpu?: KvmFpu;
  msrs?: MsrEntry[];
  cpuid?: CpuidEntry[];
  /** The 1024-byte LAPIC register page. */
  lapic?: Uint8Array;
  mpState?: number;
}

/**
 * Everything KVM holds for one vCPU, as a snapshot stores it (vcpu-snapshot.ts). The raw structs
 * are the x86_64 uapi layouts (native STATE_SIZES): xsave = struct kvm_xsave's 4 KiB region,
 * xcrs = kvm_xcrs, debugRegs = kvm_debugregs, vcpuEvents = kvm_vcpu_events.
 */
export interface VcpuSnapshot {
  cpuid: CpuidEntry[];
  mpState: number;
  regs: KvmRegs;
  sregs: KvmSregs;
  fpu: KvmFpu;
  /** Absent when KVM lacks KVM_CAP_XSAVE (fpu is restored instead). */
  xsave?: Uint8Array;
  xcrs?: Uint8Array;
  debugRegs: Uint8Array;
  /** The 1024-byte LAPIC register page. */
  lapic: Uint8Array;
  /** The MSRs of KVM_GET_MSR_INDEX_LIST this vCPU could read. */
  msrs: MsrEntry[];
  /** Indices of the list KVM refused to read (not restored; kept for diagnostics). */
  refusedMsrs: number[];
  vcpuEvents: Uint8Array;
}

/** Counters and identity of a vCPU thread. */
export interface VcpuStats {
  id: number;
  /** Kernel tid of the thread that last ran KVM_RUN for this vCPU. */
  tid: number;
  /** node:worker_threads threadId of that worker. */
  threadId: number;
  runs: number;
  exits: number;
  ioExits: number;
  mmioExits: number;
  /** Accesses a benchmark baseline (set-port-handling) completed in this worker, in JS or C; 0 in production. */
  baselineAccesses: number;
  state: WorkerState;
}

export type WorkerState = 'created' | 'running' | 'paused' | 'finished';

/**
 * Where accesses to one guest port are handled. Production forwards every access to the core's
 * bus; 'worker' (completed in the worker's JS) and 'native' (completed in C inside KVM_RUN's loop)
 * are baselines for scripts/bench/exits.mjs, which compares the three costs.
 */
export type PortHandling = 'forward' | 'worker' | 'native';

export type VcpuCommand =
  | { type: 'get-state'; msrIndices?: number[]; reply: MessagePort }
  | { type: 'set-state'; state: VcpuState; reply: MessagePort }
  /** The whole state for a snapshot; refused unless the vCPU is paused. */
  | { type: 'save-snapshot'; msrIndices: number[]; hasXsave: boolean; reply: MessagePort }
  /** Writes a snapshot's state; refused once the vCPU has run (only a created or paused vCPU). */
  | { type: 'restore-snapshot'; snapshot: VcpuSnapshot; reply: MessagePort }
  | { type: 'resume'; reply: MessagePort }
  | { type: 'pause'; reply: MessagePort }
  | { type: 'stop'; reply: MessagePort }
  | { type: 'stats'; reply: MessagePort }
  /** Reads guest RAM through the worker's view of the shared buffer (tests, diagnostics). */
  | { type: 'read-memory'; gpa: number; length: number; reply: MessagePort }
  /**
   * Measurement only (scripts/bench/exits.mjs; the VMM never sends it): complete accesses to `port`
   * in the worker's JS or in C instead of forwarding them. It swaps the run loop's entry and access
   * sink, so the production path carries no check for it.
   */
  | { type: 'set-port-handling'; port: number; handling: PortHandling; reply: MessagePort };

export type VcpuReply = { ok: true; value?: unknown } | { ok: false; error: ErrorData };

/** Why a vCPU stopped running on its own: the core decides what it means for the VM. */
export type VcpuExitRequest =
  | { type: 'reset'; id: number; reason: string }
  | { type: 'shutdown'; id: number; reason: string }
  | { type: 'failed'; id: number; error: ErrorData };

/** Events a worker posts without being asked. */
export type VcpuEvent = VcpuExitRequest | { type: 'finished'; id: number };

/** workerData given to each vCPU worker. */
export interface VcpuWorkerData {
  id: number;
  vmFd: number;
  mmapSize: number;
  /** Guest RAM, the same SharedArrayBuffer the core and KVM use. */
  memory: SharedArrayBuffer;
  /** Where in guest-physical space each byte range of `memory` lives. */
  regions: Array<{ gpa: number; offset: number; size: number }>;
  /** The core's ExitHub (exit-server.ts); this vCPU forwards through its slot `id`. */
  exitHubId: number;
  control: MessagePort;
  events: MessagePort;
  logLevel: LogLevel;
  /** The log file the core opened (workers write to it; never reopen it); absent = stderr. */
  logFd?: number;
  /** The vcpu seccomp program (struct sock_filter[]), installed on the worker's thread before its first KVM_RUN. */
  seccompFilter?: Uint8Array;
}
