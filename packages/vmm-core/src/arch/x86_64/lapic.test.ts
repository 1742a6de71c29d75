import { describe, expect, it } from 'vitest';
import { le } from '@workervisor/base';
import { APIC_LVT_LINT0, APIC_LVT_LINT1, withLintDeliveryModes } from './lapic.js';
import { errorKindOf } from '../../loader/test-support.js';

describe('withLintDeliveryModes', () => {
  it('sets LINT0 to ExtINT and LINT1 to NMI, keeping the other LVT bits', () => {
    const page = new Uint8Array(1024);
    le.putU32(page, APIC_LVT_LINT0, 0x0001_0000 | 0x0400 | 0x31); // masked, NMI mode, vector 0x31
    le.putU32(page, APIC_LVT_LINT1, 0x0001_0000 | 0x0700);
    le.putU32(page, 0x20, 0x0500_0000); // APIC id stays
    const out = withLintDeliveryModes(page);
    expect(le.u32(out, APIC_LVT_LINT0)).toBe(0x0001_0731);
    expect(le.u32(out, APIC_LVT_LINT1)).toBe(0x0001_0400);
    expect(le.u32(out, 0x20)).toBe(0x0500_0000);
    expect(le.u32(page, APIC_LVT_LINT0)).toBe(0x0001_0431); // input untouched
  });

  it('rejects a page that is not 1024 bytes', () => {
    expect(errorKindOf(() => withLintDeliveryModes(new Uint8Array(4096)))).toBe('X86Error:invalid-state');
  });
});
