import { describe, expect, it } from 'vitest';
import { MSR_IA32_MISC_ENABLE, MSR_IA32_TSC, MSR_MTRR_DEF_TYPE, bootMsrEntries } from './msr.js';

describe('bootMsrEntries', () => {
  it("lists Firecracker's boot MSRs once each", () => {
    const entries = bootMsrEntries();
    expect(entries.map((e) => e.index)).toEqual([0x174, 0x175, 0x176, 0xc000_0081, 0xc000_0083, 0xc000_0102, 0xc000_0084, 0xc000_0082, 0x10, 0x1a0, 0x2ff]);
  });

  it('zeroes the TSC, enables fast strings and write-back MTRRs', () => {
    const byIndex = new Map(bootMsrEntries().map((e) => [e.index, e.data]));
    expect(byIndex.get(MSR_IA32_TSC)).toBe(0n);
    expect(byIndex.get(MSR_IA32_MISC_ENABLE)).toBe(1n);
    expect(byIndex.get(MSR_MTRR_DEF_TYPE)).toBe(0x806n);
  });
});
