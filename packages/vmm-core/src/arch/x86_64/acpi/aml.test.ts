import { describe, expect, it } from 'vitest';
import * as aml from './aml.js';
import { AcpiError } from './error.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

describe('pkgLength', () => {
  it('uses one byte while the total, itself included, is at most 63', () => {
    expect(aml.pkgLength(0)).toEqual(bytes(0x01));
    expect(aml.pkgLength(62)).toEqual(bytes(0x3f));
  });

  it('switches to two bytes at 63 bytes of content, low nibble in the lead byte', () => {
    // total = 63 + 2 = 65 = 0x41: lead 0x40 | 0x1, then 0x41 >> 4 = 0x04.
    expect(aml.pkgLength(63)).toEqual(bytes(0x41, 0x04));
    // Largest two-byte total is 0xFFF.
    expect(aml.pkgLength(0xfff - 2)).toEqual(bytes(0x4f, 0xff));
  });

  it('uses three and four bytes for larger packages', () => {
    // total = 0xFFE + 3 = 0x1001
    expect(aml.pkgLength(0xffe)).toEqual(bytes(0x81, 0x00, 0x01));
    // 0xFFFFC + 3 = 0xFFFFF is the largest three-byte total; one more byte of content needs four.
    expect(aml.pkgLength(0xffffc)).toEqual(bytes(0x8f, 0xff, 0xff));
    expect(aml.pkgLength(0xffffd)).toEqual(bytes(0xc1, 0x00, 0x00, 0x01));
    expect(aml.pkgLength(aml.MAX_PKG_LENGTH - 4)).toEqual(bytes(0xcf, 0xff, 0xff, 0xff));
  });

  it('rejects contents that do not fit 28 bits', () => {
    expect(() => aml.pkgLength(aml.MAX_PKG_LENGTH - 3)).toThrow(AcpiError);
    expect(() => aml.pkgLength(-1)).toThrow(/not a byte count/);
  });
});

describe('names', () => {
  it('pads a NameSeg with underscores', () => {
    expect(aml.nameSeg('_S5')).toEqual(bytes(...ascii('_S5_')));
    expect(aml.nameSeg('COM1')).toEqual(bytes(...ascii('COM1')));
  });

  it('rejects segments that are too long, start with a digit or use lowercase', () => {
    for (const bad of ['', 'TOOLONG', '1ABC', 'com1', 'A-B']) {
      expect(() => aml.nameSeg(bad)).toThrow(expect.objectContaining({ code: 'ERR_VMM_ACPI_INVALID_NAME' }));
    }
  });

  it('encodes root, parent, dual and multi name paths', () => {
    expect(aml.namePath('\\_SB_')).toEqual(bytes(0x5c, ...ascii('_SB_')));
    expect(aml.namePath('^^FOO')).toEqual(bytes(0x5e, 0x5e, ...ascii('FOO_')));
    expect(aml.namePath('\\_SB_.COM1')).toEqual(bytes(0x5c, 0x2e, ...ascii('_SB_COM1')));
    expect(aml.namePath('A.B.C')).toEqual(bytes(0x2f, 3, ...ascii('A___B___C___')));
    expect(aml.namePath('\\')).toEqual(bytes(0x5c, 0x00));
  });
});

describe('data objects', () => {
  it('encodes integers with the shortest prefix', () => {
    expect(aml.integer(0)).toEqual(bytes(0x00));
    expect(aml.integer(1)).toEqual(bytes(0x01));
    expect(aml.integer(5)).toEqual(bytes(0x0a, 0x05));
    expect(aml.integer(0x3f8)).toEqual(bytes(0x0b, 0xf8, 0x03));
    expect(aml.integer(0xd000_0000)).toEqual(bytes(0x0c, 0x00, 0x00, 0x00, 0xd0));
    expect(aml.integer(0x1_0000_0000)).toEqual(bytes(0x0e, 0, 0, 0, 0, 1, 0, 0, 0));
    expect(aml.integer(0xffff_ffff_ffff_ffffn)).toEqual(bytes(0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
    expect(aml.ones()).toEqual(bytes(0xff));
  });

  it('rejects negative, fractional and over-64-bit integers', () => {
    for (const bad of [-1, 1.5, 2 ** 53, 1n << 64n]) {
      expect(() => aml.integer(bad)).toThrow(expect.objectContaining({ kind: 'value-out-of-range' }));
    }
  });

  it('encodes NUL-terminated ASCII strings and rejects others', () => {
    expect(aml.string('LNRO0005')).toEqual(bytes(0x0d, ...ascii('LNRO0005'), 0x00));
    expect(() => aml.string('é')).toThrow(expect.objectContaining({ kind: 'invalid-string' }));
    expect(() => aml.string('a\0b')).toThrow(AcpiError);
  });

  it('encodes a Buffer with its size as an integer', () => {
    expect(aml.buffer(bytes(0xaa, 0xbb))).toEqual(bytes(0x11, 0x05, 0x0a, 0x02, 0xaa, 0xbb));
  });

  it('encodes a Package with its element count', () => {
    const p = aml.packageOf([aml.integer(5), aml.integer(5), aml.integer(0), aml.integer(0)]);
    expect(p).toEqual(bytes(0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00));
    expect(() => aml.packageOf(new Array<Uint8Array>(256).fill(aml.integer(0)))).toThrow(/255/);
  });

  it('computes compressed EISA ids', () => {
    expect(aml.eisaIdValue('PNP0501')).toBe(0x0105d041);
    expect(aml.eisaIdValue('PNP0303')).toBe(0x0303d041);
    expect(aml.eisaId('PNP0501')).toEqual(bytes(0x0c, 0x41, 0xd0, 0x05, 0x01));
    expect(() => aml.eisaIdValue('LNRO0005')).toThrow(expect.objectContaining({ kind: 'invalid-string' }));
  });
});

describe('named objects', () => {
  it('encodes Name, Scope and Device with nested PkgLengths', () => {
    expect(aml.name('_UID', aml.integer(0))).toEqual(bytes(0x08, ...ascii('_UID'), 0x00));
    const dev = aml.device('COM1', [aml.name('_UID', aml.integer(1))]);
    expect(dev).toEqual(bytes(0x5b, 0x82, 0x0b, ...ascii('COM1'), 0x08, ...ascii('_UID'), 0x01));
    const sc = aml.scope('\\_SB_', [dev]);
    expect(sc).toEqual(bytes(0x10, 1 + 5 + dev.length, 0x5c, ...ascii('_SB_'), ...dev));
  });

  it('encodes a method returning a constant, with its flags byte', () => {
    const sta = aml.method('_STA', [aml.returnValue(aml.integer(0x0f))]);
    expect(sta).toEqual(bytes(0x14, 0x09, ...ascii('_STA'), 0x00, 0xa4, 0x0a, 0x0f));
    const m = aml.method('FOO', [], { argCount: 2, serialized: true, syncLevel: 3 });
    expect(m[m.length - 1]).toBe(0x02 | 0x08 | 0x30);
    expect(() => aml.method('BAR', [], { argCount: 8 })).toThrow(/0-7/);
  });
});

describe('method bodies', () => {
  it('encodes locals, args and named references', () => {
    expect(aml.local(0)).toEqual(bytes(0x60));
    expect(aml.local(7)).toEqual(bytes(0x67));
    expect(aml.arg(6)).toEqual(bytes(0x6e));
    expect(() => aml.local(8)).toThrow(AcpiError);
    expect(() => aml.arg(7)).toThrow(AcpiError);
    expect(aml.reference('\\_SB_.PWRB')).toEqual(aml.namePath('\\_SB_.PWRB'));
  });

  it('encodes Store, And (with and without a target), LEqual and Notify', () => {
    expect(aml.store(aml.reference('GEVT'), aml.local(0))).toEqual(bytes(0x70, ...ascii('GEVT'), 0x60));
    expect(aml.and(aml.local(0), aml.integer(8))).toEqual(bytes(0x7b, 0x60, 0x0a, 0x08, 0x00));
    expect(aml.and(aml.local(0), aml.integer(8), aml.local(1))).toEqual(bytes(0x7b, 0x60, 0x0a, 0x08, 0x61));
    expect(aml.lEqual(aml.local(1), aml.integer(8))).toEqual(bytes(0x93, 0x61, 0x0a, 0x08));
    expect(aml.notify(aml.reference('PWRB'), 0x80)).toEqual(bytes(0x86, ...ascii('PWRB'), 0x0a, 0x80));
  });

  it('encodes If with the predicate and body inside its PkgLength', () => {
    const body = aml.notify(aml.reference('PWRB'), 0x80);
    expect(aml.ifThen(aml.local(0), [body])).toEqual(bytes(0xa0, 1 + 1 + body.length, 0x60, ...body));
  });
});

describe('operation regions', () => {
  it('encodes OperationRegion with its space byte, offset and length', () => {
    expect(aml.operationRegion('GEVR', 'SystemMemory', 0xc000_1000, 1)).toEqual(
      bytes(0x5b, 0x80, ...ascii('GEVR'), 0x00, 0x0c, 0x00, 0x10, 0x00, 0xc0, 0x01),
    );
    expect(aml.operationRegion('PORT', 'SystemIO', 0x600, 1)[6]).toBe(0x01);
    expect(() => aml.operationRegion('GEVR', 'SystemMemory', -1, 1)).toThrow(AcpiError);
  });

  it('encodes Field flags (access, lock, update) and each unit as NameSeg + bit width', () => {
    // Flags: ByteAcc 1 | NoLock 0 | WriteAsZeros 2 << 5 = 0x41.
    expect(aml.field('GEVR', { access: 'ByteAcc', update: 'WriteAsZeros' }, [{ name: 'GEVT', bits: 8 }])).toEqual(
      bytes(0x5b, 0x81, 0x0b, ...ascii('GEVR'), 0x41, ...ascii('GEVT'), 0x08),
    );
    const f = aml.field('R', { access: 'DWordAcc', lock: true, update: 'WriteAsOnes' }, [{ name: 'A', bits: 1 }]);
    expect(f[7]).toBe(0x03 | 0x10 | 0x20);
  });

  it('writes a unit wider than 63 bits in PkgLength layout without counting the length bytes', () => {
    // 0x100 bits: two bytes, lead 0x40 | low nibble 0, then 0x100 >> 4 = 0x10.
    const f = aml.field('R', { access: 'AnyAcc' }, [{ name: 'BIG', bits: 0x100 }]);
    expect([...f.subarray(f.length - 6)]).toEqual([...ascii('BIG_'), 0x40, 0x10]);
  });
});

describe('resource descriptors', () => {
  it('encodes an 8-byte IO descriptor decoding 16 bits', () => {
    expect(aml.io(0x3f8, 0x3f8, 1, 8)).toEqual(bytes(0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08));
    expect(() => aml.io(0x10000, 0, 1, 1)).toThrow(AcpiError);
  });

  it('encodes IRQNoFlags as a 16-bit mask of ISA IRQs', () => {
    expect(aml.irqNoFlags([4])).toEqual(bytes(0x22, 0x10, 0x00));
    expect(aml.irqNoFlags([1, 12])).toEqual(bytes(0x22, 0x02, 0x10));
    expect(() => aml.irqNoFlags([16])).toThrow(/IRQNoFlags/);
  });

  it('encodes Memory32Fixed with its 9-byte length', () => {
    expect(aml.memory32Fixed(0xd000_0000, 0x1000)).toEqual(
      bytes(0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00),
    );
    expect(aml.memory32Fixed(0, 1, false)[3]).toBe(0);
  });

  it('encodes an Extended Interrupt as consumer, edge, active-high, exclusive by default', () => {
    expect(aml.extendedInterrupt([5])).toEqual(bytes(0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00));
    expect(aml.extendedInterrupt([9, 10], { edge: false, activeLow: true, shared: true })).toEqual(
      bytes(0x89, 0x0a, 0x00, 0x0d, 0x02, 9, 0, 0, 0, 10, 0, 0, 0),
    );
    expect(() => aml.extendedInterrupt([])).toThrow(AcpiError);
  });

  it('ends a ResourceTemplate with an End Tag whose zero checksum means "valid"', () => {
    const rt = aml.resourceTemplate([aml.irqNoFlags([4])]);
    // BufferOp, PkgLength, BytePrefix size 5, IRQNoFlags {4}, End Tag with checksum 0.
    expect(rt).toEqual(bytes(0x11, 0x08, 0x0a, 0x05, 0x22, 0x10, 0x00, 0x79, 0x00));
  });
});
