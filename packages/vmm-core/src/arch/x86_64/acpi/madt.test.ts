import { le } from '@workervisor/base';
import { describe, expect, it } from 'vitest';
import { IOAPIC_START, LAPIC_START, MAX_VCPUS } from '../layout.js';
import { AcpiError } from './error.js';
import {
  buildMadt,
  MADT_FLAG_PCAT_COMPAT,
  MADT_TYPE_INTERRUPT_SOURCE_OVERRIDE,
  MADT_TYPE_IO_APIC,
  MADT_TYPE_LOCAL_APIC,
  MADT_TYPE_LOCAL_APIC_NMI,
  madtSize,
} from './madt.js';
import { byteSum, getAscii } from './sdt.js';

/** Splits the MADT's interrupt controller structures by their type/length bytes. */
function entries(madt: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let off = 44;
  while (off < madt.length) {
    const len = madt[off + 1]!;
    expect(len).toBeGreaterThan(1);
    out.push(madt.subarray(off, off + len));
    off += len;
  }
  expect(off).toBe(madt.length);
  return out;
}

describe('buildMadt', () => {
  it.each([1, 2, 8, MAX_VCPUS])('lists exactly %i enabled local APICs with APIC id = UID = index', (n) => {
    const madt = buildMadt(n);
    expect(madt.length).toBe(madtSize(n));
    expect(byteSum(madt)).toBe(0);
    const lapics = entries(madt).filter((e) => e[0] === MADT_TYPE_LOCAL_APIC);
    expect(lapics).toHaveLength(n);
    lapics.forEach((e, i) => {
      expect(e.length).toBe(8);
      expect(e[2]).toBe(i); // ACPI Processor UID
      expect(e[3]).toBe(i); // APIC ID
      expect(le.u32(e, 4)).toBe(1); // enabled
    });
  });

  it('has the APIC signature, the LAPIC address and PCAT_COMPAT', () => {
    const madt = buildMadt(2);
    expect(getAscii(madt, 0, 4)).toBe('APIC');
    expect(madt[8]).toBe(5);
    expect(le.u32(madt, 36)).toBe(LAPIC_START);
    expect(le.u32(madt, 40)).toBe(MADT_FLAG_PCAT_COMPAT);
  });

  it('describes one IOAPIC with id 0 at IOAPIC_START serving GSIs from 0', () => {
    const ioapics = entries(buildMadt(4)).filter((e) => e[0] === MADT_TYPE_IO_APIC);
    expect(ioapics).toHaveLength(1);
    const io = ioapics[0]!;
    expect(io.length).toBe(12);
    expect(io[2]).toBe(0);
    expect(le.u32(io, 4)).toBe(IOAPIC_START);
    expect(le.u32(io, 8)).toBe(0);
  });

  it('overrides ISA IRQ 0 to GSI 2 (the PIT on IOAPIC pin 2)', () => {
    const isos = entries(buildMadt(1)).filter((e) => e[0] === MADT_TYPE_INTERRUPT_SOURCE_OVERRIDE);
    expect(isos.map((e) => ({ bus: e[2], irq: e[3], gsi: le.u32(e, 4), flags: le.u16(e, 8), len: e.length }))).toEqual([
      { bus: 0, irq: 0, gsi: 2, flags: 0, len: 10 },
    ]);
  });

  it('routes NMI to LINT1 of every processor', () => {
    const nmis = entries(buildMadt(1)).filter((e) => e[0] === MADT_TYPE_LOCAL_APIC_NMI);
    expect(nmis).toHaveLength(1);
    expect([...nmis[0]!]).toEqual([4, 6, 0xff, 0, 0, 1]);
  });

  it.each([0, -1, 1.5, MAX_VCPUS + 1])('rejects %s vCPUs', (n) => {
    expect(() => buildMadt(n)).toThrow(AcpiError);
    expect(() => buildMadt(n)).toThrow(expect.objectContaining({ code: 'ERR_VMM_ACPI_INVALID_CONFIG' }));
  });
});
