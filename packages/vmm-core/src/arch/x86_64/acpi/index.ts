// Builds the guest's ACPI tables (RSDP, XSDT, FADT, MADT, DSDT; ACPI 6.5 chapter 5) and
// writes them into guest memory in [RSDP_START, ACPI_TABLES_END).
import type { GuestMemory } from '@workervisor/devices';
import { ACPI_TABLES_END, RSDP_START } from '../layout.js';
import { buildDsdt } from './dsdt.js';
import { AcpiError } from './error.js';
import { buildFadt, FADT_SIZE } from './fadt.js';
import { buildMadt } from './madt.js';
import { buildRsdp, RSDP_SIZE } from './rsdp.js';
import { buildXsdt, xsdtSize } from './xsdt.js';

export { AcpiError, type AcpiErrorKind } from './error.js';
export { com1Node, i8042Node, pvpanicNode, virtioMmioNode, type VirtioMmioSlot } from './dsdt.js';
export { gedAml, type GedConfig } from './ged.js';

/** Tables after the RSDP start on this boundary (bytes). ACPI asks for none; 16 keeps dumps tidy. */
export const ACPI_TABLE_ALIGNMENT = 16;

/** What the machine looks like to ACPI. */
export interface AcpiConfig {
  /** Number of vCPUs, 1..MAX_VCPUS; vCPU i has APIC id i. */
  readonly vcpus: number;
  /** The devices' AML nodes for the DSDT's \_SB_ scope, in order (DeviceRegistration.acpi). */
  readonly devices: ReadonlyArray<Uint8Array>;
}

/** One table as written into guest memory. */
export interface AcpiTable {
  /** "RSDP" for the root pointer (its in-memory signature is "RSD PTR "), else the 4-byte signature. */
  readonly signature: string;
  /** Guest-physical byte address. */
  readonly address: number;
  /** The exact bytes written. */
  readonly bytes: Uint8Array;
}

/** The result of createAcpiTables. */
export interface AcpiTables {
  /** Guest-physical address of the RSDP: for boot_params.acpi_rsdp_addr and hvm_start_info.rsdp_paddr. */
  readonly rsdpAddress: number;
  /** Every table in address order, RSDP first. */
  readonly tables: ReadonlyArray<AcpiTable>;
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/**
 * Addresses for tables of `sizes` bytes placed one after another from `start`, each
 * aligned to ACPI_TABLE_ALIGNMENT. Throws AcpiError('no-space') past `end` (exclusive).
 */
export function planLayout(sizes: ReadonlyArray<number>, start: number, end: number): number[] {
  const addresses: number[] = [];
  let next = start;
  for (const size of sizes) {
    const address = alignUp(next, ACPI_TABLE_ALIGNMENT);
    addresses.push(address);
    next = address + size;
  }
  if (next > end) {
    throw new AcpiError(
      'no-space',
      `ACPI tables need 0x${(next - start).toString(16)} bytes at 0x${start.toString(16)} but only 0x${(end - start).toString(16)} are reserved`,
      { details: { needed: next - start, available: end - start } },
    );
  }
  return addresses;
}

/**
 * Builds the tables for `config` and writes them into `mem`: the RSDP at RSDP_START (on a
 * 16-byte boundary inside the 0xE0000-0xFFFFF legacy scan window), then XSDT, FADT, MADT
 * and DSDT, each aligned to ACPI_TABLE_ALIGNMENT.
 * Throws AcpiError: 'invalid-config' for a bad vCPU count, 'no-space' when
 * the tables pass ACPI_TABLES_END, 'guest-memory' when the range is not guest RAM.
 * `write: false` only lays them out (a snapshot restore, whose RAM holds them already).
 */
export function createAcpiTables(mem: GuestMemory, config: AcpiConfig, options: { write?: boolean } = {}): AcpiTables {
  // Tables without pointers first; their sizes fix the layout.
  const madt = buildMadt(config.vcpus);
  const dsdt = buildDsdt(config.devices);

  const [rsdpAddress, xsdtAddress, fadtAddress, madtAddress, dsdtAddress] = planLayout(
    [RSDP_SIZE, xsdtSize(2), FADT_SIZE, madt.length, dsdt.length],
    RSDP_START,
    ACPI_TABLES_END,
  ) as [number, number, number, number, number];
  const end = dsdtAddress + dsdt.length;

  const tables: AcpiTable[] = [
    { signature: 'RSDP', address: rsdpAddress, bytes: buildRsdp(xsdtAddress) },
    { signature: 'XSDT', address: xsdtAddress, bytes: buildXsdt([fadtAddress, madtAddress]) },
    { signature: 'FACP', address: fadtAddress, bytes: buildFadt(dsdtAddress) },
    { signature: 'APIC', address: madtAddress, bytes: madt },
    { signature: 'DSDT', address: dsdtAddress, bytes: dsdt },
  ];

  if (!mem.checkRange(RSDP_START, end - RSDP_START)) {
    throw new AcpiError('guest-memory', `guest RAM does not cover the ACPI tables at 0x${RSDP_START.toString(16)}-0x${end.toString(16)}`);
  }
  // A restored guest already has them (the same bytes: the same config) and may rely on that RAM.
  if (options.write === false) return { rsdpAddress, tables };
  for (const t of tables) {
    try {
      mem.write(t.address, t.bytes);
    } catch (cause) {
      throw new AcpiError('guest-memory', `writing ${t.signature} at 0x${t.address.toString(16)} failed`, { cause });
    }
  }
  return { rsdpAddress, tables };
}
