// The snapshot ioctls and memory helpers of the addon (native/src/state.cc, memory.cc): raw state
// structs round-trip through KVM, bad input is refused, guest RAM's data ranges and the
// copy-on-write mapping of a memory file behave as snapshots need. KVM parts skip without /dev/kvm.
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Kvm, type VmFd } from './kvm.js';
import { allocateGuestRam, guestRamDataRanges, mapGuestRamFile, pageSize } from './memory.js';
import { STATE_SIZES, type VcpuStateKind, type VmStateKind } from './types.js';
import { VcpuFd } from './vcpu.js';

function kvmUnusableReason(): string | undefined {
  try {
    closeSync(openSync('/dev/kvm', constants.O_RDWR));
    return undefined;
  } catch (err) {
    return `/dev/kvm cannot be opened (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
}

const skipReason = kvmUnusableReason();
if (skipReason !== undefined) console.warn(`[workervisor] skipping the /dev/kvm tests of native/lib/state.test.ts: ${skipReason}`);

/**
 * kvm_pit_state2 with each channel's count_load_time (an s64 host ktime at +16 of each 24-byte
 * kvm_pit_channel_state) zeroed: KVM_SET_PIT2 reloads the counters, which restamps it.
 */
function withoutPitLoadTimes(kind: VmStateKind, state: Uint8Array): Uint8Array {
  if (kind !== 'pit2') return state;
  const copy = state.slice();
  for (let ch = 0; ch < 3; ch++) copy.fill(0, ch * 24 + 16, ch * 24 + 24);
  return copy;
}

const VCPU_KINDS: VcpuStateKind[] = ['xsave', 'xcrs', 'vcpu-events', 'debugregs'];
const VM_KINDS: VmStateKind[] = ['clock', 'pic-master', 'pic-slave', 'ioapic', 'pit2'];

describe.skipIf(skipReason !== undefined)('state ioctls on /dev/kvm', () => {
  let kvm: Kvm;
  let vm: VmFd;
  let vcpu: VcpuFd;

  // One VM with an irqchip, a PIT and a vCPU for the file: enough for every state kind.
  beforeAll(() => {
    kvm = Kvm.open();
    vm = kvm.createVm();
    vm.createIrqchip();
    vm.createPit2();
    vcpu = new VcpuFd(vm.fd, 0, kvm.vcpuMmapSize());
    vcpu.setCpuid2(kvm.supportedCpuid());
  });
  afterAll(() => {
    vcpu.close();
    vm.close();
    kvm.close();
  });

  it.each(VCPU_KINDS)('reads the vCPU %s state at its uapi size and writes it back', (kind) => {
    const state = vcpu.getStateBlob(kind);
    expect(state.length).toBe(STATE_SIZES[kind]);
    vcpu.setStateBlob(kind, state);
    expect(vcpu.getStateBlob(kind)).toEqual(state);
  });

  it.each(VM_KINDS.filter((k) => k !== 'clock'))('reads the VM %s state at its uapi size and writes it back', (kind) => {
    const state = vm.getStateBlob(kind);
    expect(state.length).toBe(STATE_SIZES[kind]);
    vm.setStateBlob(kind, state);
    expect(withoutPitLoadTimes(kind, vm.getStateBlob(kind))).toEqual(withoutPitLoadTimes(kind, state));
  });

  it('sets the KVM clock to a saved value (the clock keeps running from there)', () => {
    const state = vm.getStateBlob('clock');
    const view = new DataView(state.buffer, state.byteOffset, state.length);
    const clock = view.getBigUint64(0, true);
    view.setBigUint64(0, clock + 1_000_000_000n, true);
    view.setUint32(8, 0, true); // flags: none, so KVM takes the value as is
    vm.setStateBlob('clock', state);
    const after = vm.getStateBlob('clock');
    expect(new DataView(after.buffer, after.byteOffset).getBigUint64(0, true)).toBeGreaterThanOrEqual(clock + 1_000_000_000n);
  });

  it('refuses a state of the wrong size, naming the kind and both sizes', () => {
    expect(() => vcpu.setStateBlob('xcrs', new Uint8Array(10))).toThrow('xcrs state must be 392 bytes, not 10');
    expect(() => vm.setStateBlob('pit2', new Uint8Array(113))).toThrow('pit2 state must be 112 bytes, not 113');
  });

  it('refuses an irqchip state saved from another chip', () => {
    const master = vm.getStateBlob('pic-master');
    expect(() => vm.setStateBlob('ioapic', master)).toThrow('ioapic state names another irqchip');
  });

  it('returns the CPUID the vCPU was given', () => {
    const given = kvm.supportedCpuid();
    expect(vcpu.getCpuid2()).toHaveLength(given.length);
  });

  it('lists MSRs to save, each readable on a vCPU', () => {
    const list = kvm.msrIndexList();
    // IA32_SYSENTER_CS and EFER-era MSRs are in every KVM's list.
    expect(list).toContain(0x174);
    expect(list).toContain(0xc000_0081);
    expect(vcpu.getMsrs(list).length).toBe(list.length);
  });
});

describe('guest RAM data ranges', () => {
  it('lists only the pages that were written', () => {
    const page = pageSize();
    const ram = allocateGuestRam(64 * page);
    expect(guestRamDataRanges(ram)).toEqual([]);
    const bytes = new Uint8Array(ram);
    bytes[2 * page + 5] = 1;
    bytes[3 * page] = 1;
    bytes[40 * page + 100] = 1;
    expect(guestRamDataRanges(ram)).toEqual([
      [2 * page, 4 * page],
      [40 * page, 41 * page],
    ]);
  });
});

describe('mapGuestRamFile', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('maps a memory file copy-on-write: the mapping sees the file, writes never reach it', () => {
    dir = mkdtempSync(join(tmpdir(), 'workervisor-cow-'));
    const page = pageSize();
    const file = join(dir, 'memory');
    const content = new Uint8Array(4 * page);
    content[0] = 0xaa;
    content[3 * page + 1] = 0xbb;
    writeFileSync(file, content);
    const a = new Uint8Array(mapGuestRamFile(file, 4 * page));
    const b = new Uint8Array(mapGuestRamFile(file, 4 * page, true));
    expect([a[0], a[3 * page + 1]]).toEqual([0xaa, 0xbb]);
    a[0] = 0x11;
    expect(b[0]).toBe(0xaa);
    expect(readFileSync(file)[0]).toBe(0xaa);
    expect(guestRamDataRanges(a.buffer as SharedArrayBuffer)).toBeUndefined();
  });

  it('refuses a file whose size is not the guest RAM size', () => {
    dir = mkdtempSync(join(tmpdir(), 'workervisor-cow-'));
    const file = join(dir, 'memory');
    writeFileSync(file, new Uint8Array(pageSize()));
    expect(() => mapGuestRamFile(file, 2 * pageSize())).toThrow(`the memory file is ${pageSize()} bytes, not ${2 * pageSize()}`);
  });
});
