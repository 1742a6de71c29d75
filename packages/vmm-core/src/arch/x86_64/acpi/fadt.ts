// Fixed ACPI Description Table, revision 6, for a hardware-reduced platform (ACPI 6.5
// section 5.2.9; hardware-reduced ACPI: section 4.1). Power-off and reset go through the
// sleep control/status and reset registers, all on the one-byte ACPI_SHUTDOWN_PORT.
import { le } from '@workervisor/base';
import { ACPI_RESET_VALUE, ACPI_SHUTDOWN_PORT } from '../layout.js';
import { buildSdt, putAscii, SDT_HEADER_SIZE } from './sdt.js';

/** FADT major revision 6 (ACPI 6.0+), 276 bytes long. */
export const FADT_REVISION = 6;
/** FADT minor revision: the ACPI 6.5 layout. */
export const FADT_MINOR_REVISION = 5;
export const FADT_SIZE = 276;
/** Hypervisor Vendor Identity (8 bytes at offset 268): lets a guest tell it runs under us. */
export const HYPERVISOR_VENDOR_ID = 'WRKVSRVM';

// Fixed Feature Flags, section 5.2.9.1 table 5.10.
/**
 * Set: the power button, if any, is a control-method device (there is no fixed-feature button).
 * Ours is the DSDT's PNP0C0C \_SB.PWRB, notified by the GED (ged.ts).
 */
export const FADT_FLAG_PWR_BUTTON = 1 << 4;
/** Same for the sleep button. */
export const FADT_FLAG_SLP_BUTTON = 1 << 5;
/** RESET_REG is valid: the guest resets the machine by writing RESET_VALUE to it. */
export const FADT_FLAG_RESET_REG_SUP = 1 << 10;
/** No fixed-feature hardware (PM1, GPE, SCI, PM timer, FACS): section 4.1. */
export const FADT_FLAG_HW_REDUCED_ACPI = 1 << 20;

// IA-PC Boot Architecture Flags, section 5.2.9.3 table 5.11.
/** The machine has an 8042 keyboard controller (we describe one as PNP0303 in the DSDT). */
export const IAPC_BOOT_ARCH_8042 = 1 << 1;
/** No VGA: the OS must not probe the legacy VGA ranges. */
export const IAPC_BOOT_ARCH_VGA_NOT_PRESENT = 1 << 2;
/** MSI must not be enabled (there is no PCI). */
export const IAPC_BOOT_ARCH_MSI_NOT_SUPPORTED = 1 << 3;
/** OSPM must not take ASPM control (there is no PCIe). */
export const IAPC_BOOT_ARCH_PCIE_ASPM_CONTROLS = 1 << 4;
/** No CMOS RTC at ports 0x70/0x71: Linux then registers no rtc_cmos device to poke them. */
export const IAPC_BOOT_ARCH_CMOS_RTC_NOT_PRESENT = 1 << 5;

// Field offsets, section 5.2.9 table 5.9.
const DSDT_OFFSET = 40;
const IAPC_BOOT_ARCH_OFFSET = 109;
const FLAGS_OFFSET = 112;
const RESET_REG_OFFSET = 116;
const RESET_VALUE_OFFSET = 128;
const MINOR_REVISION_OFFSET = 131;
const X_DSDT_OFFSET = 140;
const SLEEP_CONTROL_REG_OFFSET = 244;
const SLEEP_STATUS_REG_OFFSET = 256;
const HYPERVISOR_VENDOR_ID_OFFSET = 268;

// Generic Address Structure, section 5.2.3.2 table 5.1.
export const GAS_SIZE = 12;
/** Address Space ID 1: System I/O. */
export const GAS_SPACE_SYSTEM_IO = 1;
/** Access Size 1: byte access. */
export const GAS_ACCESS_BYTE = 1;

/** A Generic Address Structure: 12 bytes. `address` is a port or guest-physical byte address. */
export function genericAddress(spaceId: number, bitWidth: number, accessSize: number, address: number): Uint8Array {
  const gas = new Uint8Array(GAS_SIZE);
  gas[0] = spaceId;
  gas[1] = bitWidth;
  gas[2] = 0; // Register Bit Offset
  gas[3] = accessSize;
  le.writeU64(gas, 4, BigInt(address));
  return gas;
}

/**
 * Flags we set: hardware-reduced, a reset register, and no fixed-feature buttons: the power
 * button is control-method (PWRB + GED in the DSDT), and there is no sleep button (Firecracker
 * sets the same button bits).
 */
export const FADT_FLAGS = FADT_FLAG_HW_REDUCED_ACPI | FADT_FLAG_RESET_REG_SUP | FADT_FLAG_PWR_BUTTON | FADT_FLAG_SLP_BUTTON;

/**
 * IA-PC boot flags. Cloud Hypervisor leaves them 0; Firecracker sets VGA/MSI/ASPM. We set
 * those too, plus 8042 (our i8042 exists) and no CMOS RTC (we emulate none).
 */
export const IAPC_BOOT_ARCH_FLAGS =
  IAPC_BOOT_ARCH_8042 |
  IAPC_BOOT_ARCH_VGA_NOT_PRESENT |
  IAPC_BOOT_ARCH_MSI_NOT_SUPPORTED |
  IAPC_BOOT_ARCH_PCIE_ASPM_CONTROLS |
  IAPC_BOOT_ARCH_CMOS_RTC_NOT_PRESENT;

/**
 * A revision-6 hardware-reduced FADT pointing at the DSDT (guest-physical byte address).
 * Only X_DSDT is set (the 32-bit DSDT field stays 0): ACPICA warns when both are set and
 * differ, and a revision-6 reader uses X_DSDT. FIRMWARE_CTRL/X_FIRMWARE_CTRL are 0: a
 * hardware-reduced platform has no FACS.
 */
export function buildFadt(dsdtAddress: number): Uint8Array {
  const body = new Uint8Array(FADT_SIZE - SDT_HEADER_SIZE);
  const at = (offset: number): number => offset - SDT_HEADER_SIZE;
  le.putU32(body, at(DSDT_OFFSET), 0);
  le.putU16(body, at(IAPC_BOOT_ARCH_OFFSET), IAPC_BOOT_ARCH_FLAGS);
  le.putU32(body, at(FLAGS_OFFSET), FADT_FLAGS);
  // One 8-bit I/O register does reset (write ACPI_RESET_VALUE), sleep control (write
  // SLP_TYPx << 2 | SLP_EN) and sleep status (reads WAK_STS): Cloud Hypervisor's layout.
  const port = (): Uint8Array => genericAddress(GAS_SPACE_SYSTEM_IO, 8, GAS_ACCESS_BYTE, ACPI_SHUTDOWN_PORT);
  body.set(port(), at(RESET_REG_OFFSET));
  body[at(RESET_VALUE_OFFSET)] = ACPI_RESET_VALUE;
  body[at(MINOR_REVISION_OFFSET)] = FADT_MINOR_REVISION;
  le.writeU64(body, at(X_DSDT_OFFSET), BigInt(dsdtAddress));
  body.set(port(), at(SLEEP_CONTROL_REG_OFFSET));
  body.set(port(), at(SLEEP_STATUS_REG_OFFSET));
  putAscii(body, at(HYPERVISOR_VENDOR_ID_OFFSET), HYPERVISOR_VENDOR_ID, 8);
  return buildSdt({ signature: 'FACP', revision: FADT_REVISION }, body);
}
