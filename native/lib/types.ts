// Plain-data shapes of the KVM structures the addon reads and writes (linux/kvm.h, x86).
// Register values are bigint (STYLE.md); small fields are numbers.

/** struct kvm_regs. */
export interface KvmRegs {
  rax: bigint; rbx: bigint; rcx: bigint; rdx: bigint;
  rsi: bigint; rdi: bigint; rsp: bigint; rbp: bigint;
  r8: bigint; r9: bigint; r10: bigint; r11: bigint;
  r12: bigint; r13: bigint; r14: bigint; r15: bigint;
  rip: bigint; rflags: bigint;
}

/** struct kvm_segment. */
export interface KvmSegment {
  base: bigint;
  limit: number;
  selector: number;
  type: number;
  present: number;
  dpl: number;
  db: number;
  s: number;
  l: number;
  g: number;
  avl: number;
  unusable: number;
}

/** struct kvm_dtable. */
export interface KvmDtable {
  base: bigint;
  limit: number;
}

/** struct kvm_sregs. */
export interface KvmSregs {
  cs: KvmSegment; ds: KvmSegment; es: KvmSegment; fs: KvmSegment;
  gs: KvmSegment; ss: KvmSegment; tr: KvmSegment; ldt: KvmSegment;
  gdt: KvmDtable; idt: KvmDtable;
  cr0: bigint; cr2: bigint; cr3: bigint; cr4: bigint; cr8: bigint;
  efer: bigint; apicBase: bigint;
  /** 4 x u64 bitmap of pending external interrupts. */
  interruptBitmap: bigint[];
}

/** struct kvm_fpu. fpr is 8x16 bytes, xmm 16x16 bytes. */
export interface KvmFpu {
  fpr: Uint8Array;
  fcw: number;
  fsw: number;
  ftwx: number;
  lastOpcode: number;
  lastIp: bigint;
  lastDp: bigint;
  xmm: Uint8Array;
  mxcsr: number;
}

/** struct kvm_cpuid_entry2. */
export interface CpuidEntry {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

/** struct kvm_msr_entry. */
export interface MsrEntry {
  index: number;
  data: bigint;
}

/** struct kvm_irq_routing_entry for KVM_IRQ_ROUTING_IRQCHIP. */
export interface IrqRoute {
  gsi: number;
  /** KVM_IRQCHIP_PIC_MASTER 0, PIC_SLAVE 1, IOAPIC 2. */
  irqchip: number;
  pin: number;
}

/** The vCPU state structs moved as raw bytes (native/src/state.cc): struct kvm_xsave (legacy 4 KiB), kvm_xcrs, kvm_vcpu_events, kvm_debugregs. */
export type VcpuStateKind = 'xsave' | 'xcrs' | 'vcpu-events' | 'debugregs';
/** The VM state structs moved as raw bytes: kvm_clock_data, kvm_irqchip (per chip), kvm_pit_state2. */
export type VmStateKind = 'clock' | 'pic-master' | 'pic-slave' | 'ioapic' | 'pit2';

/** Bytes of each raw state struct (x86_64 uapi; state.cc asserts the same sizes). */
export const STATE_SIZES: Readonly<Record<VcpuStateKind | VmStateKind, number>> = {
  xsave: 4096,
  xcrs: 392,
  'vcpu-events': 64,
  debugregs: 128,
  clock: 48,
  'pic-master': 520,
  'pic-slave': 520,
  ioapic: 520,
  pit2: 112,
};

/** A byte range [start, end) of guest RAM's buffer. */
export type ByteRange = readonly [start: number, end: number];

/** KVM_MP_STATE_* values. */
export const MP_STATE = {
  RUNNABLE: 0,
  UNINITIALIZED: 1,
  INIT_RECEIVED: 2,
  HALTED: 3,
  SIPI_RECEIVED: 4,
} as const;

/** KVM_EXIT_* reasons we decode. */
export const KVM_EXIT = {
  UNKNOWN: 0,
  EXCEPTION: 1,
  IO: 2,
  HYPERCALL: 3,
  DEBUG: 4,
  HLT: 5,
  MMIO: 6,
  IRQ_WINDOW_OPEN: 7,
  SHUTDOWN: 8,
  FAIL_ENTRY: 9,
  INTR: 10,
  SET_TPR: 11,
  TPR_ACCESS: 12,
  NMI: 16,
  INTERNAL_ERROR: 17,
  SYSTEM_EVENT: 24,
} as const;

/** Byte offsets inside struct kvm_run (x86_64, linux/kvm.h). */
export const KVM_RUN_OFFSETS = {
  requestInterruptWindow: 0,
  immediateExit: 1,
  exitReason: 8,
  readyForInterruptInjection: 12,
  ifFlag: 13,
  flags: 14,
  cr8: 16,
  apicBase: 24,
  /** Start of the exit union. */
  exit: 32,
  // io: { __u8 direction; __u8 size; __u16 port; __u32 count; __u64 data_offset; }
  ioDirection: 32,
  ioSize: 33,
  ioPort: 34,
  ioCount: 36,
  ioDataOffset: 40,
  // mmio: { __u64 phys_addr; __u8 data[8]; __u32 len; __u8 is_write; }
  mmioPhysAddr: 32,
  mmioData: 40,
  mmioLen: 48,
  mmioIsWrite: 52,
  // fail_entry: { __u64 hardware_entry_failure_reason; __u32 cpu; }
  failEntryReason: 32,
  // internal: { __u32 suberror; __u32 ndata; __u64 data[16]; }
  internalSuberror: 32,
  internalNdata: 36,
  internalData: 40,
  // system_event: { __u32 type; __u32 ndata; __u64 data[16]; }
  systemEventType: 32,
} as const;

export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;
