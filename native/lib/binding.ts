// Loads the compiled addon, with one clear message when the build is missing or /dev/kvm-less.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ByteRange, CpuidEntry, IrqRoute, KvmFpu, KvmRegs, KvmSregs, MsrEntry, VcpuStateKind, VmStateKind } from './types.js';
import { VmmError } from '@workervisor/base';

/** The raw vCPU object of the addon (native/src/vcpu.cc). */
export interface NativeVcpu {
  readonly fd: number;
  readonly runBuffer: ArrayBuffer;
  run(): number;
  getRegs(): KvmRegs;
  setRegs(regs: KvmRegs): void;
  getSregs(): KvmSregs;
  setSregs(sregs: KvmSregs): void;
  getFpu(): KvmFpu;
  setFpu(fpu: KvmFpu): void;
  getMsrs(indices: number[]): MsrEntry[];
  setMsrs(entries: MsrEntry[]): number;
  getLapic(): Uint8Array;
  setLapic(regs: Uint8Array): void;
  setCpuid2(entries: CpuidEntry[]): void;
  getMpState(): number;
  setMpState(state: number): void;
  runCompletingPort(port: number): number;
  attachExitHub(hubId: number, index: number): void;
  runForwarding(): number;
  stats(): NativeVcpuStats;
  close(): void;
}

export interface NativeVcpuStats {
  tid: number;
  runs: number;
  completedPortAccesses: number;
  forwardedIoExits: number;
  forwardedMmioExits: number;
}

export interface NativeExitHub {
  readonly id: number;
  close(): void;
}

export interface NativeExitPort {
  call(kind: number, addr: number, data: Uint8Array): boolean;
}

export interface NativeFdWatcher {
  stop(): void;
  setRef(ref: boolean): void;
}

/** The functions native/src/*.cc register, as the addon exports them. */
export interface NativeBinding {
  openKvm(path?: string): number;
  getApiVersion(fd: number): number;
  checkExtension(fd: number, cap: number): number;
  getVcpuMmapSize(fd: number): number;
  getSupportedCpuid(fd: number): CpuidEntry[];
  createVm(fd: number): number;
  closeFd(fd: number): void;
  setUserMemoryRegion(vm: number, slot: number, flags: number, gpa: number, mem: SharedArrayBuffer, offset: number, size: number): void;
  releaseVmMemory(vm: number): void;
  createIrqchip(vm: number): void;
  createPit2(vm: number, flags: number): void;
  setTssAddr(vm: number, addr: number): void;
  setIdentityMapAddr(vm: number, addr: number): void;
  irqLine(vm: number, irq: number, level: number): void;
  irqfd(vm: number, eventfd: number, gsi: number, deassign?: boolean): void;
  ioeventfd(vm: number, eventfd: number, addr: number, len: number, opts?: { pio?: boolean; datamatch?: bigint | number; deassign?: boolean }): void;
  setGsiRouting(vm: number, routes: IrqRoute[]): void;
  Vcpu: new (vm: number, id: number, mmapSize: number) => NativeVcpu;
  kickVcpu(vm: number, id: number): void;
  stopVcpu(vm: number, id: number): void;
  stopAllVcpus(): void;
  releaseVcpuSlots(vm: number): void;
  currentTid(): number;
  RUN_KICKED: number;
  RUN_STOPPED: number;
  allocateGuestRam(size: number, hugepages?: boolean): SharedArrayBuffer;
  pageSize(): number;
  releaseGuestRam(mem: SharedArrayBuffer): boolean;
  discardGuestRam(mem: SharedArrayBuffer, offset: number, length: number): boolean;
  eventfdCreate(initval?: number): number;
  eventfdRead(fd: number): bigint;
  eventfdWrite(fd: number, value?: bigint | number): void;
  FdWatcher: new (fd: number, callback: (status: number) => void) => NativeFdWatcher;
  ExitHub: new (slots: number, spin: number, callback: (kind: number, addr: number, data: Uint8Array) => void) => NativeExitHub;
  ExitPort: new (hubId: number, index: number) => NativeExitPort;
  tapOpen(name: string, flags: number): { fd: number; name: string };
  tapGetIff(fd: number): { name: string; flags: number };
  tapSetVnetHdrSize(fd: number, size: number): void;
  tapSetOffload(fd: number, flags: number): void;
  fdReadv(fd: number, views: readonly Uint8Array[]): number;
  fdWritev(fd: number, views: readonly Uint8Array[]): number;
  netifSetAddress(name: string, address: string): void;
  netifSetNetmask(name: string, netmask: string): void;
  netifSetHwaddr(name: string, mac: Uint8Array): void;
  netifSetUp(name: string): void;
  TAP: { IFF_TAP: number; IFF_NO_PI: number; IFF_VNET_HDR: number; IFF_MULTI_QUEUE: number; TUN_F_CSUM: number; TUN_F_TSO4: number; TUN_F_TSO6: number; TUN_F_TSO_ECN: number; TUN_F_UFO: number };
  ofdSetLock(fd: number, type: number, start: number, len: number): void;
  ofdGetLock(fd: number, type: number, start: number, len: number): { type: number; start: number; len: number; pid: number };
  getVcpuState(vcpuFd: number, kind: VcpuStateKind): Uint8Array;
  setVcpuState(vcpuFd: number, kind: VcpuStateKind, state: Uint8Array): void;
  getVmState(vmFd: number, kind: VmStateKind): Uint8Array;
  setVmState(vmFd: number, kind: VmStateKind, state: Uint8Array): void;
  getCpuid2(vcpuFd: number): CpuidEntry[];
  getMsrIndexList(kvmFd: number): number[];
  guestRamDataRanges(mem: SharedArrayBuffer): ByteRange[] | null;
  mapGuestRamFile(path: string, size: number, prefault: boolean): SharedArrayBuffer;
  F_RDLCK: number;
  F_WRLCK: number;
  F_UNLCK: number;
  seccompInstall(program: Uint8Array, flags: number, label?: string): void;
  seccompReportViolations(names: string[], logFd: number, exitCode: number): void;
  SECCOMP_FILTER_FLAG: { TSYNC: number; LOG: number; SPEC_ALLOW: number };
  landlockAbiVersion(): number;
  landlockCreateRuleset(handledAccessFs: number): number;
  landlockAddPathRule(rulesetFd: number, path: string, allowedAccess: number): void;
  landlockRestrictSelf(rulesetFd: number): void;
  execve(file: string, argv: string[], env: string[]): never;
}

/** Thrown when the addon was never built (or was built for another Node). */
export class AddonLoadError extends VmmError<'NATIVE_ADDON'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NATIVE_ADDON', 'missing', message, options);
  }
}

const ADDON_PATH = fileURLToPath(new URL('../build/Release/workervisor_kvm.node', import.meta.url));
let cached: NativeBinding | undefined;

/** The addon, loaded once per thread (each worker gets its own instance of the module). */
export function binding(): NativeBinding {
  if (cached !== undefined) return cached;
  if (!existsSync(ADDON_PATH)) {
    throw new AddonLoadError(`The KVM addon is not built (${ADDON_PATH} is missing). Run \`npm ci\` or \`npm run install -w @workervisor/native\`, which needs g++, make and python3.`);
  }
  try {
    cached = createRequire(import.meta.url)(ADDON_PATH) as NativeBinding;
  } catch (err) {
    throw new AddonLoadError(`The KVM addon at ${ADDON_PATH} failed to load; rebuild it with \`npm rebuild @workervisor/native\`.`, { cause: err });
  }
  return cached;
}
