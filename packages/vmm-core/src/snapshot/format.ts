// The snapshot directory's state file (state.json): its version, what it holds and the checks a
// file must pass before restore uses it. The files: config.json (the VmConfig of vm.create),
// state.json (this), memory.bin (guest RAM, sparse). state.json is written last, so a directory
// without it is an unfinished snapshot.
import type { CpuidEntry, VmStateKind } from '@workervisor/native';
import { STATE_SIZES } from '@workervisor/native';
import type { VcpuSnapshot } from '@workervisor/vcpu-worker';
import { decodeState, encodeState } from './codec.js';
import { SnapshotError } from './errors.js';

/** Bumped on any change a previous reader would misread; restore accepts exactly this version. */
export const SNAPSHOT_FORMAT_VERSION = 1;

export const CONFIG_FILE = 'config.json';
export const STATE_FILE = 'state.json';
export const MEMORY_FILE = 'memory.bin';

/** The VM-wide KVM state: each an x86_64 uapi struct (kvm_clock_data, kvm_irqchip x3, kvm_pit_state2). */
export type VmKvmState = Record<VmStateKind, Uint8Array>;

export interface SnapshotState {
  version: number;
  /** The Workervisor version that wrote it (information; `version` decides compatibility). */
  vmmVersion: string;
  /** ISO 8601 time of the snapshot. */
  createdAt: string;
  /** KVM_GET_SUPPORTED_CPUID of the host it was taken on: restore refuses a host that differs. */
  hostCpuid: CpuidEntry[];
  /** Guest RAM bytes, the size of memory.bin. */
  memoryBytes: number;
  vm: VmKvmState;
  /** One per vCPU, in id order. */
  vcpus: VcpuSnapshot[];
  /** Device name -> its save() (DeviceManager.saveStates). */
  devices: Record<string, unknown>;
}

export function serializeState(state: SnapshotState): string {
  return encodeState(state);
}

const VM_KINDS: readonly VmStateKind[] = ['clock', 'pic-master', 'pic-slave', 'ioapic', 'pit2'];
const CPUID_FIELDS = ['function', 'index', 'flags', 'eax', 'ebx', 'ecx', 'edx'] as const;

/**
 * state.json's text as a SnapshotState, or a SnapshotError: 'invalid-state' when it is not JSON
 * (a truncated file) or lacks a field, 'version-mismatch' when another format version wrote it.
 * Device states are checked by each device's restore().
 */
export function parseState(text: string, path: string): SnapshotState {
  let value: unknown;
  try {
    value = decodeState(text);
  } catch (err) {
    throw new SnapshotError('invalid-state', `${path} is not a complete snapshot state file (${text.length} bytes; truncated or corrupt): ${(err as Error).message}`, { cause: err });
  }
  const fail = (what: string): never => {
    throw new SnapshotError('invalid-state', `${path}: ${what}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('the state is not a JSON object');
  const o = value as Record<string, unknown>;
  if (o['version'] !== SNAPSHOT_FORMAT_VERSION) {
    throw new SnapshotError('version-mismatch', `${path} is snapshot format version ${JSON.stringify(o['version'])}; this VMM restores version ${SNAPSHOT_FORMAT_VERSION} only`, {
      details: { found: String(o['version']), expected: SNAPSHOT_FORMAT_VERSION },
    });
  }
  if (typeof o['vmmVersion'] !== 'string' || typeof o['createdAt'] !== 'string') fail('vmmVersion and createdAt must be strings');
  const memoryBytes = o['memoryBytes'];
  if (typeof memoryBytes !== 'number' || !Number.isSafeInteger(memoryBytes) || memoryBytes <= 0) fail('memoryBytes must be a positive integer');
  checkCpuid(o['hostCpuid'], 'hostCpuid', fail);
  const vm = o['vm'];
  if (typeof vm !== 'object' || vm === null) fail('vm must be an object');
  for (const k of VM_KINDS) checkBlob((vm as Record<string, unknown>)[k], `vm.${k}`, STATE_SIZES[k], fail);
  const vcpus = o['vcpus'];
  if (!Array.isArray(vcpus) || vcpus.length === 0) fail('vcpus must be a non-empty array');
  (vcpus as unknown[]).forEach((v, i) => checkVcpu(v, `vcpus[${i}]`, fail));
  if (typeof o['devices'] !== 'object' || o['devices'] === null || Array.isArray(o['devices'])) fail('devices must be an object');
  return value as SnapshotState;
}

function checkBlob(v: unknown, field: string, size: number, fail: (what: string) => never): void {
  if (!(v instanceof Uint8Array) || v.length !== size) fail(`${field} must be ${size} bytes`);
}

function checkCpuid(v: unknown, field: string, fail: (what: string) => never): void {
  if (!Array.isArray(v) || v.length === 0) fail(`${field} must be a non-empty array of CPUID entries`);
  for (const e of v as unknown[]) {
    if (typeof e !== 'object' || e === null) fail(`${field} holds a non-object entry`);
    for (const f of CPUID_FIELDS) {
      const n = (e as Record<string, unknown>)[f];
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffff_ffff) fail(`${field} entry field ${f} must be a u32`);
    }
  }
}

function checkVcpu(v: unknown, field: string, fail: (what: string) => never): void {
  if (typeof v !== 'object' || v === null) fail(`${field} must be an object`);
  const s = v as Record<string, unknown>;
  checkCpuid(s['cpuid'], `${field}.cpuid`, fail);
  if (typeof s['mpState'] !== 'number') fail(`${field}.mpState must be a number`);
  for (const f of ['regs', 'sregs', 'fpu']) if (typeof s[f] !== 'object' || s[f] === null) fail(`${field}.${f} must be an object`);
  if (typeof (s['regs'] as Record<string, unknown>)['rip'] !== 'bigint') fail(`${field}.regs.rip must be a bigint`);
  checkBlob(s['lapic'], `${field}.lapic`, 1024, fail);
  checkBlob(s['debugRegs'], `${field}.debugRegs`, STATE_SIZES.debugregs, fail);
  checkBlob(s['vcpuEvents'], `${field}.vcpuEvents`, STATE_SIZES['vcpu-events'], fail);
  if (s['xsave'] !== undefined) checkBlob(s['xsave'], `${field}.xsave`, STATE_SIZES.xsave, fail);
  if (s['xcrs'] !== undefined) checkBlob(s['xcrs'], `${field}.xcrs`, STATE_SIZES.xcrs, fail);
  const msrs = s['msrs'];
  if (!Array.isArray(msrs) || !msrs.every((m: unknown) => typeof m === 'object' && m !== null && typeof (m as { index?: unknown }).index === 'number' && typeof (m as { data?: unknown }).data === 'bigint')) {
    fail(`${field}.msrs must be an array of { index, data: bigint }`);
  }
}

type CpuidReg = 'eax' | 'ebx' | 'ecx' | 'edx';

/**
 * Bits of KVM_GET_SUPPORTED_CPUID that name the host CPU the ioctl happened to run on, not what
 * the CPU can do (measured: leaf 1 EBX[31:24] changes between two calls of one process): the
 * initial APIC id (leaf 1), the x2APIC id (leaves 0xB and 0x1F EDX), AMD's extended APIC, core
 * and node ids (leaf 0x8000001E). The compatibility check ignores them.
 */
const PER_CPU_BITS: ReadonlyArray<{ leaf: number; reg: CpuidReg; mask: number }> = [
  { leaf: 0x1, reg: 'ebx', mask: 0xff00_0000 },
  { leaf: 0xb, reg: 'edx', mask: 0xffff_ffff },
  { leaf: 0x1f, reg: 'edx', mask: 0xffff_ffff },
  { leaf: 0x8000_001e, reg: 'eax', mask: 0xffff_ffff },
  { leaf: 0x8000_001e, reg: 'ebx', mask: 0x0000_00ff },
  { leaf: 0x8000_001e, reg: 'ecx', mask: 0x0000_00ff },
];

function comparable(e: CpuidEntry, reg: CpuidReg): number {
  let v = e[reg];
  for (const p of PER_CPU_BITS) if (p.leaf === e.function && p.reg === reg) v = (v & ~p.mask) >>> 0;
  return v;
}

/**
 * Why `host` (this host's KVM_GET_SUPPORTED_CPUID) cannot run a guest taken on `saved`, or
 * undefined when they are the same (PER_CPU_BITS aside): the first leaf missing, extra or different.
 */
export function cpuidMismatch(saved: readonly CpuidEntry[], host: readonly CpuidEntry[]): string | undefined {
  const key = (e: CpuidEntry) => `0x${e.function.toString(16)}/${e.index}`;
  const here = new Map(host.map((e) => [key(e), e]));
  for (const e of saved) {
    const h = here.get(key(e));
    if (h === undefined) return `leaf ${key(e)} is missing on this host`;
    if (h.flags !== e.flags) return `leaf ${key(e)} flags are 0x${e.flags.toString(16)} in the snapshot, 0x${h.flags.toString(16)} here`;
    for (const reg of ['eax', 'ebx', 'ecx', 'edx'] as const) {
      if (comparable(h, reg) !== comparable(e, reg)) return `leaf ${key(e)} ${reg} is 0x${e[reg].toString(16)} in the snapshot, 0x${h[reg].toString(16)} here`;
    }
    here.delete(key(e));
  }
  const extra = [...here.keys()][0];
  return extra === undefined ? undefined : `leaf ${extra} exists on this host only`;
}
