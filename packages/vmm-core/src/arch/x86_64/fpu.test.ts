import { describe, expect, it } from 'vitest';
import { defaultFpu } from './fpu.js';

describe('defaultFpu', () => {
  it('has the FNINIT control word, the power-up MXCSR and zeroed registers of kvm_fpu size', () => {
    const f = defaultFpu();
    expect(f.fcw).toBe(0x37f);
    expect(f.mxcsr).toBe(0x1f80);
    expect(f.fpr.length).toBe(128);
    expect(f.xmm.length).toBe(256);
    expect([f.fsw, f.ftwx, f.lastOpcode, f.lastIp, f.lastDp]).toEqual([0, 0, 0, 0n, 0n]);
    expect(defaultFpu().xmm).not.toBe(f.xmm);
  });
});
