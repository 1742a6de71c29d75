// Kvm (the /dev/kvm fd) and VmFd (a VM fd): thin typed wrappers, no policy (like kvm-ioctls).
import { binding } from './binding.js';
import { KvmError, wrap } from './errors.js';
import type { CpuidEntry, IrqRoute, VmStateKind } from './types.js';

/** KVM_CAP_* numbers we check (linux/kvm.h). */
export const KVM_CAP = {
  IRQCHIP: 0,
  HLT: 1,
  USER_MEMORY: 3,
  SET_TSS_ADDR: 4,
  NR_VCPUS: 9,
  IRQ_ROUTING: 25,
  IRQFD: 32,
  PIT2: 33,
  IOEVENTFD: 36,
  SET_IDENTITY_MAP_ADDR: 37,
  MAX_VCPUS: 66,
  IMMEDIATE_EXIT: 136,
  VCPU_EVENTS: 41,
  DEBUGREGS: 50,
  XSAVE: 55,
  XCRS: 56,
  ADJUST_CLOCK: 39,
} as const;

export const KVM_API_VERSION = 12;

/** The capabilities Workervisor cannot run without. */
const REQUIRED_CAPS: ReadonlyArray<keyof typeof KVM_CAP> = ['IRQCHIP', 'USER_MEMORY', 'SET_TSS_ADDR', 'IRQFD', 'PIT2', 'IOEVENTFD', 'IMMEDIATE_EXIT', 'IRQ_ROUTING'];

/** An open /dev/kvm. */
export class Kvm {
  private constructor(readonly fd: number) {}

  /** Opens /dev/kvm and checks the API version and the capabilities we need. */
  static open(path = process.env.WORKERVISOR_KVM_PATH ?? '/dev/kvm'): Kvm {
    const b = binding();
    const fd = wrap('open', `cannot open ${path}`, () => {
      try {
        return b.openKvm(path);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'ENOENT') throw Object.assign(new Error(`${path} does not exist: this host has no KVM (enable virtualization, load kvm_intel or kvm_amd)`), { cause: err, code, errno: 2, syscall: 'open' });
        if (code === 'EACCES' || code === 'EPERM') throw Object.assign(new Error(`no permission to open ${path}: add the user to the kvm group or run as root`), { cause: err, code, errno: code === 'EACCES' ? 13 : 1, syscall: 'open' });
        throw err;
      }
    });
    const kvm = new Kvm(fd);
    try {
      kvm.checkUsable();
    } catch (err) {
      kvm.close();
      throw err;
    }
    return kvm;
  }

  /** The API version and every capability Workervisor needs; throws KvmError otherwise. */
  private checkUsable(): void {
    const version = wrap('api-version', 'KVM_GET_API_VERSION', () => binding().getApiVersion(this.fd));
    if (version !== KVM_API_VERSION) {
      throw new KvmError('api-version', `KVM API version ${version} is not the stable ${KVM_API_VERSION}`, Object.assign(new Error('bad version'), { code: 'EINVAL', errno: 22, syscall: 'ioctl', ioctl: 'KVM_GET_API_VERSION' }));
    }
    for (const cap of REQUIRED_CAPS) {
      if (this.checkExtension(KVM_CAP[cap]) <= 0) {
        throw new KvmError('capability', `KVM lacks KVM_CAP_${cap}, which Workervisor requires`, Object.assign(new Error('missing capability'), { code: 'ENOTSUP', errno: 95, syscall: 'ioctl', ioctl: 'KVM_CHECK_EXTENSION' }));
      }
    }
  }

  checkExtension(cap: number): number {
    return wrap('capability', `KVM_CHECK_EXTENSION(${cap})`, () => binding().checkExtension(this.fd, cap));
  }

  /** Bytes to mmap for each vCPU's kvm_run area. */
  vcpuMmapSize(): number {
    return wrap('capability', 'KVM_GET_VCPU_MMAP_SIZE', () => binding().getVcpuMmapSize(this.fd));
  }

  /** The most vCPUs one VM may have (KVM_CAP_MAX_VCPUS, else NR_VCPUS). */
  maxVcpus(): number {
    const max = this.checkExtension(KVM_CAP.MAX_VCPUS);
    return max > 0 ? max : this.checkExtension(KVM_CAP.NR_VCPUS);
  }

  supportedCpuid(): CpuidEntry[] {
    return wrap('capability', 'KVM_GET_SUPPORTED_CPUID', () => binding().getSupportedCpuid(this.fd));
  }

  /** The MSRs KVM can save and restore for a vCPU (KVM_GET_MSR_INDEX_LIST). */
  msrIndexList(): number[] {
    return wrap('capability', 'KVM_GET_MSR_INDEX_LIST', () => binding().getMsrIndexList(this.fd));
  }

  createVm(): VmFd {
    return new VmFd(wrap('vm', 'KVM_CREATE_VM', () => binding().createVm(this.fd)));
  }

  close(): void {
    binding().closeFd(this.fd);
  }
}

/** A VM fd. vCPUs are created from it by each vCPU's own thread (see VcpuFd). */
export class VmFd {
  private closed = false;
  constructor(readonly fd: number) {}

  /**
   * vCPU kick slots are keyed by this fd number, which the next VM may reuse: after close() a
   * kick or stop must not create a stale (stopped) slot for it.
   */
  private checkOpen(what: string): void {
    if (this.closed) throw new TypeError(`${what} on a closed VM fd ${this.fd}`);
  }

  /** Maps [offset, offset+size) of mem at guest-physical gpa. The VM keeps mem alive while mapped. */
  setUserMemoryRegion(slot: number, gpa: number, mem: SharedArrayBuffer, offset: number, size: number, flags = 0): void {
    wrap('memory', `KVM_SET_USER_MEMORY_REGION slot ${slot} at 0x${gpa.toString(16)}`, () =>
      binding().setUserMemoryRegion(this.fd, slot, flags, gpa, mem, offset, size),
    );
  }

  createIrqchip(): void {
    wrap('irq', 'KVM_CREATE_IRQCHIP', () => binding().createIrqchip(this.fd));
  }

  createPit2(flags = 0): void {
    wrap('irq', 'KVM_CREATE_PIT2', () => binding().createPit2(this.fd, flags));
  }

  setTssAddr(addr: number): void {
    wrap('vm', 'KVM_SET_TSS_ADDR', () => binding().setTssAddr(this.fd, addr));
  }

  setIdentityMapAddr(addr: number): void {
    wrap('vm', 'KVM_SET_IDENTITY_MAP_ADDR', () => binding().setIdentityMapAddr(this.fd, addr));
  }

  /** Sets an in-kernel irqchip input line (KVM_IRQ_LINE): level 1 then 0 makes an edge. */
  irqLine(irq: number, level: 0 | 1): void {
    wrap('irq', `KVM_IRQ_LINE ${irq}`, () => binding().irqLine(this.fd, irq, level));
  }

  registerIrqfd(eventfd: number, gsi: number): void {
    wrap('irq', `KVM_IRQFD gsi ${gsi}`, () => binding().irqfd(this.fd, eventfd, gsi, false));
  }

  unregisterIrqfd(eventfd: number, gsi: number): void {
    wrap('irq', `KVM_IRQFD deassign gsi ${gsi}`, () => binding().irqfd(this.fd, eventfd, gsi, true));
  }

  registerIoeventfd(eventfd: number, addr: number, len: number, opts: { pio?: boolean; datamatch?: bigint } = {}): void {
    wrap('irq', `KVM_IOEVENTFD at 0x${addr.toString(16)}`, () => binding().ioeventfd(this.fd, eventfd, addr, len, opts));
  }

  setGsiRouting(routes: IrqRoute[]): void {
    wrap('irq', 'KVM_SET_GSI_ROUTING', () => binding().setGsiRouting(this.fd, routes));
  }

  /** One raw VM state struct (KVM clock, an irqchip, PIT2), STATE_SIZES[kind] bytes. */
  getStateBlob(kind: VmStateKind): Uint8Array {
    return wrap('vm', `reading the VM's ${kind} state`, () => binding().getVmState(this.fd, kind));
  }

  setStateBlob(kind: VmStateKind, state: Uint8Array): void {
    wrap('vm', `writing the VM's ${kind} state`, () => binding().setVmState(this.fd, kind, state));
  }

  /** Makes vCPU `id` leave KVM_RUN once (from any thread). */
  kickVcpu(id: number): void {
    this.checkOpen('kickVcpu');
    binding().kickVcpu(this.fd, id);
  }

  /** Sticky: vCPU `id` leaves KVM_RUN and never re-enters (from any thread, even before it exists). */
  stopVcpu(id: number): void {
    this.checkOpen('stopVcpu');
    binding().stopVcpu(this.fd, id);
  }

  /** Closes the VM fd and drops its references to guest RAM and its vCPU kick slots. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const b = binding();
    b.closeFd(this.fd);
    b.releaseVmMemory(this.fd);
    b.releaseVcpuSlots(this.fd);
  }
}
