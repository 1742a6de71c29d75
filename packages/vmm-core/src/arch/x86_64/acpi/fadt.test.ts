import { le } from '@workervisor/base';
import { describe, expect, it } from 'vitest';
import { ACPI_RESET_VALUE, ACPI_SHUTDOWN_PORT } from '../layout.js';
import {
  buildFadt,
  FADT_FLAG_HW_REDUCED_ACPI,
  FADT_FLAG_PWR_BUTTON,
  FADT_FLAG_RESET_REG_SUP,
  FADT_FLAG_SLP_BUTTON,
  FADT_SIZE,
  GAS_ACCESS_BYTE,
  GAS_SPACE_SYSTEM_IO,
  genericAddress,
  IAPC_BOOT_ARCH_8042,
  IAPC_BOOT_ARCH_CMOS_RTC_NOT_PRESENT,
  IAPC_BOOT_ARCH_VGA_NOT_PRESENT,
} from './fadt.js';
import { byteSum, getAscii } from './sdt.js';

/** The 12-byte GAS at `offset` as its fields. */
function gasAt(t: Uint8Array, offset: number): { space: number; width: number; bitOffset: number; access: number; address: bigint } {
  return { space: t[offset]!, width: t[offset + 1]!, bitOffset: t[offset + 2]!, access: t[offset + 3]!, address: le.readU64(t, offset + 4) };
}

describe('buildFadt', () => {
  const fadt = buildFadt(0xe01f0);
  const shutdownPort = { space: GAS_SPACE_SYSTEM_IO, width: 8, bitOffset: 0, access: GAS_ACCESS_BYTE, address: BigInt(ACPI_SHUTDOWN_PORT) };

  it('is a 276-byte revision 6 FACP with a valid checksum', () => {
    expect(fadt.length).toBe(FADT_SIZE);
    expect(getAscii(fadt, 0, 4)).toBe('FACP');
    expect(le.u32(fadt, 4)).toBe(276);
    expect(fadt[8]).toBe(6);
    expect(fadt[131]).toBe(5); // minor revision
    expect(byteSum(fadt)).toBe(0);
  });

  it('is hardware-reduced with a reset register and control-method buttons', () => {
    const flags = le.u32(fadt, 112);
    expect(flags & FADT_FLAG_HW_REDUCED_ACPI).not.toBe(0);
    expect(flags & FADT_FLAG_RESET_REG_SUP).not.toBe(0);
    expect(flags & (FADT_FLAG_PWR_BUTTON | FADT_FLAG_SLP_BUTTON)).toBe(FADT_FLAG_PWR_BUTTON | FADT_FLAG_SLP_BUTTON);
  });

  it('puts reset, sleep control and sleep status on the 8-bit shutdown port', () => {
    expect(gasAt(fadt, 116)).toEqual(shutdownPort);
    expect(fadt[128]).toBe(ACPI_RESET_VALUE);
    expect(gasAt(fadt, 244)).toEqual(shutdownPort);
    expect(gasAt(fadt, 256)).toEqual(shutdownPort);
  });

  it('points at the DSDT through X_DSDT only and has no FACS', () => {
    expect(le.readU64(fadt, 140)).toBe(0xe01f0n);
    expect(le.u32(fadt, 40)).toBe(0);
    expect(le.u32(fadt, 36)).toBe(0);
    expect(le.readU64(fadt, 132)).toBe(0n);
  });

  it('leaves every fixed-feature block empty, as hardware-reduced ACPI requires', () => {
    expect(le.u16(fadt, 46)).toBe(0); // SCI_INT
    for (let off = 56; off < 88; off += 4) expect(le.u32(fadt, off)).toBe(0); // PM1/PM2/PM_TMR/GPE blocks
    for (let off = 148; off < 244; off++) expect(fadt[off]).toBe(0); // X_ blocks
  });

  it('declares the 8042, and no VGA or CMOS RTC, in IAPC_BOOT_ARCH', () => {
    const boot = le.u16(fadt, 109);
    expect(boot & IAPC_BOOT_ARCH_8042).not.toBe(0);
    expect(boot & IAPC_BOOT_ARCH_VGA_NOT_PRESENT).not.toBe(0);
    expect(boot & IAPC_BOOT_ARCH_CMOS_RTC_NOT_PRESENT).not.toBe(0);
  });

  it('carries the hypervisor vendor identity', () => {
    expect(getAscii(fadt, 268, 8)).toBe('WRKVSRVM');
  });
});

describe('genericAddress', () => {
  it('encodes the 12-byte structure with a 64-bit address', () => {
    expect([...genericAddress(1, 8, 1, 0x600)]).toEqual([1, 8, 0, 1, 0x00, 0x06, 0, 0, 0, 0, 0, 0]);
  });
});
