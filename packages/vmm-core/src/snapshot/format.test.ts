// The state file format: what serializeState writes parses back identically (bigints, raw
// structs), and a truncated, version-changed or incomplete file is refused with a clear error.
import { describe, expect, it } from 'vitest';
import type { CpuidEntry } from '@workervisor/native';
import { STATE_SIZES } from '@workervisor/native';
import type { VcpuSnapshot } from '@workervisor/vcpu-worker';
import { decodeState, encodeState } from './codec.js';
import { SnapshotError } from './errors.js';
import { cpuidMismatch, parseState, serializeState, SNAPSHOT_FORMAT_VERSION, type SnapshotState } from './format.js';

const CPUID: CpuidEntry[] = [
  { function: 0, index: 0, flags: 0, eax: 0xd, ebx: 0x756e_6547, ecx: 0x6c65_746e, edx: 0x4965_6e69 },
  { function: 7, index: 0, flags: 1, eax: 0, ebx: 0x29c_67af, ecx: 0, edx: 0 },
];

const bytes = (n: number, fill = 0) => new Uint8Array(n).fill(fill);

function vcpu(): VcpuSnapshot {
  const seg = { base: 0n, limit: 0xffff_ffff, selector: 8, type: 11, present: 1, dpl: 0, db: 0, s: 1, l: 1, g: 1, avl: 0, unusable: 0 };
  return {
    cpuid: CPUID,
    mpState: 0,
    regs: { rax: 0xffff_ffff_ffff_fffen, rbx: 0n, rcx: 0n, rdx: 0n, rsi: 0n, rdi: 0n, rsp: 0x8ff0n, rbp: 0n, r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n, rip: 0x10_0000n, rflags: 2n },
    sregs: { cs: seg, ds: seg, es: seg, fs: seg, gs: seg, ss: seg, tr: seg, ldt: seg, gdt: { base: 0x500n, limit: 31 }, idt: { base: 0n, limit: 0 }, cr0: 0x8000_0011n, cr2: 0n, cr3: 0x9000n, cr4: 0x20n, cr8: 0n, efer: 0x500n, apicBase: 0xfee0_0900n, interruptBitmap: [0n, 0n, 0n, 0n] },
    fpu: { fpr: bytes(128), fcw: 0x37f, fsw: 0, ftwx: 0, lastOpcode: 0, lastIp: 0n, lastDp: 0n, xmm: bytes(256), mxcsr: 0x1f80 },
    xsave: bytes(STATE_SIZES.xsave, 7),
    xcrs: bytes(STATE_SIZES.xcrs),
    debugRegs: bytes(STATE_SIZES.debugregs),
    lapic: bytes(1024, 1),
    msrs: [{ index: 0x10, data: 0x1234_5678_9abc_def0n }],
    refusedMsrs: [],
    vcpuEvents: bytes(STATE_SIZES['vcpu-events']),
  };
}

function state(): SnapshotState {
  return {
    version: SNAPSHOT_FORMAT_VERSION,
    vmmVersion: '0.1.0',
    createdAt: '2026-01-01T00:00:00.000Z',
    hostCpuid: CPUID,
    memoryBytes: 64 << 20,
    vm: { clock: bytes(48), 'pic-master': bytes(520), 'pic-slave': bytes(520), ioapic: bytes(520), pit2: bytes(112) },
    vcpus: [vcpu(), vcpu()],
    devices: { com1: { ier: 1, fifo: [65, 66] }, i8042: { status: 0x1c } },
  };
}

function refusal(fn: () => unknown): SnapshotError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SnapshotError) return err;
    throw err;
  }
  throw new Error('expected a SnapshotError');
}

describe('state file codec', () => {
  it('round-trips bigints (full u64 range) and bytes', () => {
    const v = { a: 0xffff_ffff_ffff_ffffn, b: -5n, c: Uint8Array.of(0, 1, 255), d: [{ e: 1n }], s: 'x' };
    expect(decodeState(encodeState(v))).toEqual(v);
  });

  it('refuses a malformed tag', () => {
    expect(() => decodeState('{"$bigint":"12a"}')).toThrow(SyntaxError);
    expect(() => decodeState('{"$bytes":"!!"}')).toThrow(SyntaxError);
  });
});

describe('parseState', () => {
  it('reads back exactly what serializeState wrote', () => {
    const s = state();
    expect(parseState(serializeState(s), 'state.json')).toEqual(s);
  });

  it.each([10, 1000, -1])('refuses the file truncated to %i bytes as incomplete', (cut) => {
    const text = serializeState(state());
    const err = refusal(() => parseState(text.slice(0, cut), '/snap/state.json'));
    expect(err.kind).toBe('invalid-state');
    expect(err.message).toMatch(/^\/snap\/state\.json is not a complete snapshot state file \(\d+ bytes; truncated or corrupt\)/);
  });

  it('refuses another format version, naming both', () => {
    const err = refusal(() => parseState(serializeState({ ...state(), version: SNAPSHOT_FORMAT_VERSION + 1 }), 'state.json'));
    expect(err).toMatchObject({ kind: 'version-mismatch', code: 'ERR_VMM_SNAPSHOT_VERSION_MISMATCH' });
    expect(err.message).toBe(`state.json is snapshot format version ${SNAPSHOT_FORMAT_VERSION + 1}; this VMM restores version ${SNAPSHOT_FORMAT_VERSION} only`);
    expect(refusal(() => parseState('{"vcpus":[]}', 'state.json')).kind).toBe('version-mismatch');
  });

  it.each<[string, (s: SnapshotState) => unknown, string]>([
    ['a short raw struct', (s) => (s.vm.ioapic = bytes(519)), 'vm.ioapic must be 520 bytes'],
    ['no vCPUs', (s) => (s.vcpus = []), 'vcpus must be a non-empty array'],
    ['a vCPU without registers', (s) => delete (s.vcpus[1] as Partial<VcpuSnapshot>).regs, 'vcpus[1].regs must be an object'],
    ['an MSR value that lost its bigint tag', (s) => ((s.vcpus[0]!.msrs[0] as { data: unknown }).data = 5), 'vcpus[0].msrs must be an array'],
    ['a bad memory size', (s) => (s.memoryBytes = 0), 'memoryBytes must be a positive integer'],
    ['no devices', (s) => delete (s as Partial<SnapshotState>).devices, 'devices must be an object'],
  ])('refuses a state with %s', (_what, mutate, message) => {
    const s = state();
    mutate(s);
    const err = refusal(() => parseState(serializeState(s), 'state.json'));
    expect(err.kind).toBe('invalid-state');
    expect(err.message).toContain(message);
  });
});

describe('cpuidMismatch', () => {
  it('accepts the same CPUID in any order', () => {
    expect(cpuidMismatch(CPUID, [...CPUID].reverse())).toBeUndefined();
  });

  it('ignores the bits that name the host CPU the ioctl ran on (leaf 1 initial APIC id)', () => {
    const leaf1 = { function: 1, index: 0, flags: 0, eax: 0xa10f11, ebx: 0x0102_0800, ecx: 0, edx: 0 };
    expect(cpuidMismatch([leaf1], [{ ...leaf1, ebx: 0x0002_0800 }])).toBeUndefined();
    expect(cpuidMismatch([leaf1], [{ ...leaf1, ebx: 0x0102_0801 }])).toBe('leaf 0x1/0 ebx is 0x1020800 in the snapshot, 0x1020801 here');
  });

  it('names the first leaf that differs, is missing or is extra', () => {
    expect(cpuidMismatch(CPUID, [CPUID[0]!, { ...CPUID[1]!, ebx: 0x29c_67ae }])).toBe('leaf 0x7/0 ebx is 0x29c67af in the snapshot, 0x29c67ae here');
    expect(cpuidMismatch(CPUID, [CPUID[0]!])).toBe('leaf 0x7/0 is missing on this host');
    expect(cpuidMismatch(CPUID, [...CPUID, { ...CPUID[0]!, function: 0xd }])).toBe('leaf 0xd/0 exists on this host only');
  });
});
