import { GED_EVENT_POWER_BUTTON } from '@workervisor/devices';
import { describe, expect, it } from 'vitest';
import { COM1_IRQ, GED_IRQ, GED_SIZE, GED_START, BOOT_TIMER_SIZE, BOOT_TIMER_START, I8042_IRQ, VIRTIO_IRQ_BASE, VIRTIO_MMIO_SLOTS, VIRTIO_MMIO_START } from '../layout.js';
import * as aml from './aml.js';
import { GED_POWER_BUTTON_BIT, GED_REGISTER_LENGTH, gedAml } from './ged.js';

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

const GED = { base: GED_START, irq: GED_IRQ };

describe('gedAml', () => {
  it('declares PWRB as a PNP0C0C power button before the GED', () => {
    const [pwrb, ged] = gedAml(GED);
    expect(pwrb).toEqual(aml.device('PWRB', [aml.name('_HID', aml.eisaId('PNP0C0C')), aml.name('_UID', aml.integer(0))]));
    expect(indexOf(ged!, aml.name('_HID', aml.string('ACPI0013')))).toBeGreaterThan(0);
  });

  it('lists only the edge-triggered GED interrupt in _CRS (Linux evged fails on any other resource)', () => {
    const ged = gedAml(GED)[1]!;
    const crs = aml.name('_CRS', aml.resourceTemplate([aml.extendedInterrupt([GED_IRQ])]));
    expect(indexOf(ged, crs)).toBeGreaterThan(0);
    expect(indexOf(ged, Uint8Array.of(0x86, 0x09, 0x00))).toBe(-1); // no Memory32Fixed
  });

  it('maps the 1-byte register at the GED base as a ByteAcc field GEVT', () => {
    const ged = gedAml(GED)[1]!;
    expect(indexOf(ged, aml.operationRegion('GEVR', 'SystemMemory', GED_START, 1))).toBeGreaterThan(0);
    expect(indexOf(ged, aml.field('GEVR', { access: 'ByteAcc', update: 'WriteAsZeros' }, [{ name: 'GEVT', bits: 8 }]))).toBeGreaterThan(0);
  });

  it('has _EVT(1 arg, Serialized) read GEVT once and Notify PWRB 0x80 when bit 3 is set', () => {
    const ged = gedAml(GED)[1]!;
    const body = [
      0x70, ...ascii('GEVT'), 0x60, // Local0 = GEVT
      0xa0, 0x10, // If, PkgLength 16
      0x93, 0x7b, 0x60, 0x0a, 0x08, 0x00, 0x0a, 0x08, // (Local0 & 0x08) == 0x08
      0x86, ...ascii('PWRB'), 0x0a, 0x80, // Notify (PWRB, 0x80)
    ];
    const evt = Uint8Array.of(0x14, 1 + 4 + 1 + body.length, ...ascii('_EVT'), 0x09, ...body);
    expect(indexOf(ged, evt)).toBeGreaterThan(0);
    expect(ged.subarray(ged.length - evt.length)).toEqual(evt);
  });

  it('uses the bit the device sets and the register size it decodes', () => {
    expect(GED_POWER_BUTTON_BIT).toBe(GED_EVENT_POWER_BUTTON);
    expect(GED_REGISTER_LENGTH).toBe(GED_SIZE);
  });

  it('sits on a free GSI and in a free MMIO page', () => {
    const virtioIrqs = Array.from({ length: VIRTIO_MMIO_SLOTS }, (_, i) => VIRTIO_IRQ_BASE + i);
    expect([COM1_IRQ, I8042_IRQ, 0, 2, ...virtioIrqs]).not.toContain(GED_IRQ);
    expect(GED_IRQ).toBeLessThan(24); // KVM's IOAPIC has 24 pins
    expect(GED_START).toBeGreaterThanOrEqual(BOOT_TIMER_START + BOOT_TIMER_SIZE);
    expect(GED_START + GED_SIZE).toBeLessThanOrEqual(VIRTIO_MMIO_START);
  });

  it.each([
    { base: 0xffff_ffff + 1, irq: 23 },
    { base: -1, irq: 23 },
    { base: GED_START, irq: -1 },
    { base: GED_START, irq: 2 ** 32 },
  ])('rejects a GED outside 32-bit fields: %o', (bad) => {
    expect(() => gedAml(bad)).toThrow(expect.objectContaining({ code: 'ERR_VMM_ACPI_INVALID_CONFIG' }));
  });
});
