// Extended System Description Table: 64-bit pointers to every table but the DSDT (which
// the FADT points to) and the FACS. ACPI 6.5 section 5.2.8.
import { le } from '@workervisor/base';
import { buildSdt, SDT_HEADER_SIZE } from './sdt.js';

/** XSDT revision (section 5.2.8 table 5.8). */
export const XSDT_REVISION = 1;

/** An XSDT listing `entries` (guest-physical byte addresses of FADT, MADT, ...). */
export function buildXsdt(entries: ReadonlyArray<number>): Uint8Array {
  const body = new Uint8Array(8 * entries.length);
  entries.forEach((address, i) => le.writeU64(body, 8 * i, BigInt(address)));
  return buildSdt({ signature: 'XSDT', revision: XSDT_REVISION }, body);
}

/** Size in bytes of an XSDT with `count` entries. */
export function xsdtSize(count: number): number {
  return SDT_HEADER_SIZE + 8 * count;
}
