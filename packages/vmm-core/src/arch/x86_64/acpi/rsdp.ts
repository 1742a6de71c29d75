// Root System Description Pointer, ACPI 2.0+ form: ACPI 6.5 section 5.2.5.3.
// Guests find it through boot_params.acpi_rsdp_addr, hvm_start_info.rsdp_paddr, or by
// scanning 0xE0000-0xFFFFF on 16-byte boundaries (section 5.2.5.1).
import { le } from '@workervisor/base';
import { fixChecksum, OEM_ID, putAscii } from './sdt.js';

/** Size of the revision-2 RSDP in bytes. */
export const RSDP_SIZE = 36;
/** The 8-byte signature a legacy scan looks for. */
export const RSDP_SIGNATURE = 'RSD PTR ';
/** Revision 2 = ACPI 2.0 and later (has Length, XsdtAddress and the extended checksum). */
export const RSDP_REVISION = 2;
/** The first checksum covers the ACPI 1.0 part: bytes [0, 20). */
export const RSDP_V1_SIZE = 20;

// Field offsets, section 5.2.5.3 table 5.3.
const CHECKSUM_OFFSET = 8;
const OEM_ID_OFFSET = 9;
const REVISION_OFFSET = 15;
const RSDT_ADDRESS_OFFSET = 16;
const LENGTH_OFFSET = 20;
const XSDT_ADDRESS_OFFSET = 24;
const EXTENDED_CHECKSUM_OFFSET = 32;

/**
 * The 36-byte RSDP pointing at the XSDT (guest-physical byte address). RsdtAddress is 0:
 * there is no RSDT, and every OS that reads a revision-2 RSDP uses the XSDT.
 */
export function buildRsdp(xsdtAddress: number): Uint8Array {
  const rsdp = new Uint8Array(RSDP_SIZE);
  putAscii(rsdp, 0, RSDP_SIGNATURE, 8);
  putAscii(rsdp, OEM_ID_OFFSET, OEM_ID, 6);
  rsdp[REVISION_OFFSET] = RSDP_REVISION;
  le.putU32(rsdp, RSDT_ADDRESS_OFFSET, 0);
  le.putU32(rsdp, LENGTH_OFFSET, RSDP_SIZE);
  le.writeU64(rsdp, XSDT_ADDRESS_OFFSET, BigInt(xsdtAddress));
  // The first checksum is computed before the extended one, which covers it.
  fixChecksum(rsdp, CHECKSUM_OFFSET, 0, RSDP_V1_SIZE);
  fixChecksum(rsdp, EXTENDED_CHECKSUM_OFFSET, 0, RSDP_SIZE);
  return rsdp;
}
