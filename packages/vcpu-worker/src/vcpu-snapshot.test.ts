// saveVcpu/restoreVcpu against a recording fake VcpuFd: what is read, the restore order KVM needs,
// and the MSRs KVM refuses.
import { describe, expect, it } from 'vitest';
import type { MsrEntry, VcpuFd } from '@workervisor/native';
import { readMsrs, restoreVcpu, saveVcpu } from './vcpu-snapshot.js';

/** A VcpuFd that refuses to read the MSRs in `unreadable` and to write more than `writable` MSRs. */
function fakeVcpu(opts: { unreadable?: number[]; writable?: number } = {}): { vcpu: VcpuFd; calls: string[] } {
  const calls: string[] = [];
  const blob = (n: number) => new Uint8Array(n);
  const vcpu = {
    id: 0,
    getMsrs(indices: number[]): MsrEntry[] {
      const out: MsrEntry[] = [];
      for (const index of indices) {
        if (opts.unreadable?.includes(index)) break;
        out.push({ index, data: BigInt(index) * 2n });
      }
      return out;
    },
    setMsrs: (e: MsrEntry[]) => (calls.push('msrs'), Math.min(e.length, opts.writable ?? e.length)),
    getCpuid2: () => [],
    getMpState: () => 0,
    getRegs: () => ({}),
    getSregs: () => ({}),
    getFpu: () => ({}),
    getLapic: () => blob(1024),
    getStateBlob: (kind: string) => blob(kind === 'xsave' ? 4096 : 64),
    setCpuid2: () => calls.push('cpuid'),
    setMpState: () => calls.push('mp-state'),
    setRegs: () => calls.push('regs'),
    setSregs: () => calls.push('sregs'),
    setFpu: () => calls.push('fpu'),
    setLapic: () => calls.push('lapic'),
    setStateBlob: (kind: string) => calls.push(kind),
  };
  return { vcpu: vcpu as unknown as VcpuFd, calls };
}

describe('readMsrs', () => {
  it('skips each MSR KVM refuses and reads on past it', () => {
    const { vcpu } = fakeVcpu({ unreadable: [0x11, 0x40] });
    const { msrs, refused } = readMsrs(vcpu, [0x10, 0x11, 0x12, 0x40, 0x41]);
    expect(msrs.map((m) => m.index)).toEqual([0x10, 0x12, 0x41]);
    expect(refused).toEqual([0x11, 0x40]);
  });
});

describe('saveVcpu / restoreVcpu', () => {
  it('saves XSAVE and XCRs only when KVM has them', () => {
    const { vcpu } = fakeVcpu();
    expect(saveVcpu(vcpu, [1], true)).toHaveProperty('xsave');
    expect(saveVcpu(vcpu, [1], false)).not.toHaveProperty('xsave');
  });

  it('restores in the order KVM needs: CPUID first, MSRs after the LAPIC, vCPU events last', () => {
    const { vcpu, calls } = fakeVcpu();
    restoreVcpu(vcpu, saveVcpu(vcpu, [1, 2], true));
    expect(calls).toEqual(['cpuid', 'mp-state', 'regs', 'sregs', 'xsave', 'xcrs', 'debugregs', 'lapic', 'msrs', 'vcpu-events']);
  });

  it('restores the legacy FPU state when the snapshot has no XSAVE area', () => {
    const { vcpu, calls } = fakeVcpu();
    restoreVcpu(vcpu, saveVcpu(vcpu, [1], false));
    expect(calls).toContain('fpu');
    expect(calls).not.toContain('xsave');
  });

  it('refuses a restore in which KVM takes only some MSRs, naming the first refused', () => {
    const { vcpu } = fakeVcpu({ writable: 1 });
    const saved = saveVcpu(vcpu, [0x10, 0x174], true);
    expect(() => restoreVcpu(vcpu, saved)).toThrow('vCPU 0: KVM refused MSR 0x174 (1 of 2 restored)');
  });
});
