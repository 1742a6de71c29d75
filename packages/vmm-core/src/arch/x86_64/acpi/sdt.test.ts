import { le } from '@workervisor/base';
import { describe, expect, it } from 'vitest';
import { AcpiError } from './error.js';
import { buildSdt, byteSum, fixChecksum, getAscii, putAscii, SDT_HEADER_SIZE } from './sdt.js';
import { buildXsdt, xsdtSize } from './xsdt.js';

describe('buildSdt', () => {
  const table = buildSdt({ signature: 'TEST', revision: 3 }, Uint8Array.of(1, 2, 3));

  it('writes the 36-byte header fields of ACPI 6.5 table 5.4', () => {
    expect(getAscii(table, 0, 4)).toBe('TEST');
    expect(le.u32(table, 4)).toBe(SDT_HEADER_SIZE + 3);
    expect(table[8]).toBe(3);
    expect(getAscii(table, 10, 6)).toBe('WRKVSR');
    expect(getAscii(table, 16, 8)).toBe('WRKVTEST');
    expect(le.u32(table, 24)).toBe(1);
    expect(getAscii(table, 28, 4)).toBe('WRKV');
    expect(le.u32(table, 32)).toBe(1);
    expect([...table.subarray(36)]).toEqual([1, 2, 3]);
  });

  it('makes every byte of the table sum to zero', () => {
    expect(byteSum(table)).toBe(0);
  });

  it('takes an explicit OEM table id, padded with spaces', () => {
    const t = buildSdt({ signature: 'DSDT', revision: 2, oemTableId: 'MICRO' }, new Uint8Array(0));
    expect(getAscii(t, 16, 8)).toBe('MICRO   ');
  });

  it('rejects a signature that is not 4 characters', () => {
    expect(() => buildSdt({ signature: 'FAC', revision: 1 }, new Uint8Array(0))).toThrow(AcpiError);
  });
});

describe('checksum helpers', () => {
  it('fixes a checksum over a sub-range, counting the checksum byte itself', () => {
    const b = Uint8Array.of(0x10, 0xff, 0x20, 0x30);
    fixChecksum(b, 1, 0, 3);
    expect(byteSum(b, 0, 3)).toBe(0);
    expect(b[3]).toBe(0x30);
  });

  it('refuses identifiers that are too long or not printable ASCII', () => {
    const b = new Uint8Array(8);
    expect(() => putAscii(b, 0, 'TOOLONG!!', 8)).toThrow(expect.objectContaining({ kind: 'invalid-string' }));
    expect(() => putAscii(b, 0, 'A\u0001', 8)).toThrow(AcpiError);
  });
});

describe('buildXsdt', () => {
  it('lists 64-bit table addresses after the header', () => {
    const x = buildXsdt([0xe0070, 0x1_0000_0000]);
    expect(x.length).toBe(xsdtSize(2));
    expect(getAscii(x, 0, 4)).toBe('XSDT');
    expect(x[8]).toBe(1);
    expect(le.readU64(x, 36)).toBe(0xe0070n);
    expect(le.readU64(x, 44)).toBe(0x1_0000_0000n);
    expect(byteSum(x)).toBe(0);
  });
});
