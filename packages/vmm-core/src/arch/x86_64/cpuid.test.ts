import { describe, expect, it } from 'vitest';
import type { CpuidEntry } from '@workervisor/native';
import { KVM_CPUID_FEATURES, KVM_CPUID_SIGNATURE, patchCpuid, topologyShift } from './cpuid.js';
import { errorKindOf } from '../../loader/test-support.js';

const entry = (fn: number, index: number, r: Partial<CpuidEntry> = {}): CpuidEntry => ({ function: fn, index, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: 0, ...r });

/** A trimmed KVM_GET_SUPPORTED_CPUID of an Intel host. */
const supported: CpuidEntry[] = [
  entry(0x0, 0, { eax: 0x1f, ebx: 0x756e_6547, ecx: 0x6c65_746e, edx: 0x4965_6e69 }),
  entry(0x1, 0, { eax: 0x806f8, ebx: 0x0510_0800, ecx: 0xfffa_3223 & ~(1 << 24), edx: 0x1f8b_fbff }),
  entry(0x4, 0, { flags: 1, eax: 0x1c00_4121 }),
  entry(0x4, 1, { flags: 1, eax: 0x1c00_4122 }),
  entry(0x4, 2, { flags: 1, eax: 0x1c00_4143 }),
  entry(0x4, 3, { flags: 1, eax: 0x1c03_c163 }),
  entry(0x4, 4, { flags: 1, eax: 0 }),
  entry(0x6, 0, { eax: 0x27f7, ecx: 0x9 }),
  entry(0xb, 0, { flags: 1, eax: 1, ebx: 2, ecx: 0x100, edx: 7 }),
  entry(0xb, 1, { flags: 1, eax: 7, ebx: 96, ecx: 0x201, edx: 7 }),
  entry(0x1f, 0, { flags: 1, eax: 1, ebx: 2, ecx: 0x100, edx: 7 }),
  entry(KVM_CPUID_SIGNATURE, 0, { eax: 0x4000_0001, ebx: 0x4b4d_564b, ecx: 0x564b_4d56, edx: 0x4d }),
  entry(KVM_CPUID_FEATURES, 0, { eax: 0x0100_7efb }),
];

const find = (list: CpuidEntry[], fn: number, index = 0): CpuidEntry => {
  const e = list.find((x) => x.function === fn && x.index === index);
  if (e === undefined) throw new Error(`no leaf ${fn.toString(16)}.${index}`);
  return e;
};

describe('patchCpuid', () => {
  it('puts the APIC id, the vCPU count and the CLFLUSH size in leaf 1 EBX', () => {
    const l1 = find(patchCpuid(supported, 3, 4), 0x1);
    expect(l1.ebx >>> 24).toBe(3);
    expect((l1.ebx >>> 16) & 0xff).toBe(4);
    expect((l1.ebx >>> 8) & 0xff).toBe(8);
    expect(l1.edx & (1 << 28)).not.toBe(0); // HTT
  });

  it('sets the hypervisor and TSC-deadline bits and clears PDCM', () => {
    const l1 = find(patchCpuid(supported, 0, 1), 0x1);
    expect(l1.ecx >>> 31).toBe(1);
    expect((l1.ecx >>> 24) & 1).toBe(1);
    expect((l1.ecx >>> 15) & 1).toBe(0);
    expect(l1.edx & (1 << 28)).toBe(0); // one vCPU: no HTT
  });

  it('sets cores per package and cache sharing in every leaf 4 subleaf with a cache', () => {
    const out = patchCpuid(supported, 0, 6);
    for (const i of [0, 1, 2]) {
      const e = find(out, 0x4, i);
      expect(e.eax >>> 26).toBe(5);
      expect((e.eax >>> 14) & 0xfff).toBe(0);
      expect(e.eax & 0x3fff).toBe((find(supported, 0x4, i).eax & 0x3fff));
    }
    expect(find(out, 0x4, 3).eax >>> 26).toBe(5);
    expect((find(out, 0x4, 3).eax >>> 14) & 0xfff).toBe(5); // L3 shared by all
    expect(find(out, 0x4, 4).eax).toBe(0);
  });

  it('clears Turbo Boost and the energy bias in leaf 6', () => {
    const l6 = find(patchCpuid(supported, 0, 1), 0x6);
    expect(l6.eax).toBe(0x27f7 & ~2);
    expect(l6.ecx).toBe(0x1);
  });

  it('rebuilds leaves 0xB and 0x1F as SMT and core levels with the x2APIC id', () => {
    const out = patchCpuid(supported, 5, 6);
    for (const fn of [0xb, 0x1f]) {
      expect(out.filter((e) => e.function === fn)).toEqual([
        { function: fn, index: 0, flags: 1, eax: 0, ebx: 1, ecx: 0x100, edx: 5 },
        { function: fn, index: 1, flags: 1, eax: 3, ebx: 6, ecx: 0x201, edx: 5 },
        { function: fn, index: 2, flags: 1, eax: 0, ebx: 0, ecx: 0x2, edx: 5 },
      ]);
    }
  });

  it('keeps the KVM signature and feature leaves, and adds the signature if missing', () => {
    const out = patchCpuid(supported, 0, 1);
    expect(find(out, KVM_CPUID_SIGNATURE)).toMatchObject({ eax: 0x4000_0001, ebx: 0x4b4d_564b, ecx: 0x564b_4d56, edx: 0x4d });
    expect(find(out, KVM_CPUID_FEATURES)).toEqual(find(supported, KVM_CPUID_FEATURES));
    const without = patchCpuid(supported.filter((e) => e.function !== KVM_CPUID_SIGNATURE), 0, 1);
    const sig = find(without, KVM_CPUID_SIGNATURE);
    const text = new TextDecoder().decode(Uint8Array.from([sig.ebx, sig.ecx, sig.edx].flatMap((r) => [r & 0xff, (r >>> 8) & 0xff, (r >>> 16) & 0xff, r >>> 24])));
    expect(text).toBe('KVMKVMKVM\0\0\0');
  });

  it('does not modify its input and leaves other leaves alone', () => {
    const before = JSON.stringify(supported);
    const out = patchCpuid(supported, 1, 2);
    expect(JSON.stringify(supported)).toBe(before);
    expect(find(out, 0x0)).toEqual(find(supported, 0x0));
  });

  it('rejects a vCPU index or count out of range', () => {
    expect(errorKindOf(() => patchCpuid(supported, 2, 2))).toBe('X86Error:invalid-vcpu');
    expect(errorKindOf(() => patchCpuid(supported, 0, 0))).toBe('X86Error:invalid-vcpu');
    expect(errorKindOf(() => patchCpuid(supported, 0, 255))).toBe('X86Error:invalid-vcpu');
  });

  it('computes topology shifts as ceil(log2(count))', () => {
    expect([1, 2, 3, 4, 5, 8, 9, 254].map(topologyShift)).toEqual([0, 1, 2, 2, 3, 3, 4, 8]);
  });
});
