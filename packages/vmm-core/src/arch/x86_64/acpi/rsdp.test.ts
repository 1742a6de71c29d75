import { le } from '@workervisor/base';
import { describe, expect, it } from 'vitest';
import { buildRsdp, RSDP_REVISION, RSDP_SIZE, RSDP_V1_SIZE } from './rsdp.js';
import { byteSum, getAscii } from './sdt.js';

describe('buildRsdp', () => {
  const rsdp = buildRsdp(0xe0030);

  it('is a 36-byte revision-2 RSDP pointing at the XSDT only', () => {
    expect(rsdp.length).toBe(RSDP_SIZE);
    expect(getAscii(rsdp, 0, 8)).toBe('RSD PTR ');
    expect(getAscii(rsdp, 9, 6)).toBe('WRKVSR');
    expect(rsdp[15]).toBe(RSDP_REVISION);
    expect(le.u32(rsdp, 16)).toBe(0); // no RSDT
    expect(le.u32(rsdp, 20)).toBe(RSDP_SIZE);
    expect(le.readU64(rsdp, 24)).toBe(0xe0030n);
    expect([...rsdp.subarray(33, 36)]).toEqual([0, 0, 0]);
  });

  it('has a valid ACPI 1.0 checksum over the first 20 bytes', () => {
    expect(byteSum(rsdp, 0, RSDP_V1_SIZE)).toBe(0);
  });

  it('has a valid extended checksum over all 36 bytes', () => {
    expect(byteSum(rsdp)).toBe(0);
  });

  it('keeps both checksums valid for addresses above 4 GiB', () => {
    const high = buildRsdp(0x1_2345_6780);
    expect(le.readU64(high, 24)).toBe(0x1_2345_6780n);
    expect(byteSum(high, 0, RSDP_V1_SIZE)).toBe(0);
    expect(byteSum(high)).toBe(0);
  });
});
