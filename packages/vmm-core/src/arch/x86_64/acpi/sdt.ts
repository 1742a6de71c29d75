// The System Description Table header shared by every ACPI table but the RSDP, and the
// checksum rule: ACPI 6.5 section 5.2.6 ("System Description Table Header").
import { le } from '@workervisor/base';
import { AcpiError } from './error.js';

/** Size of the common header in bytes. */
export const SDT_HEADER_SIZE = 36;
/** OEMID written in every table (6 bytes). */
export const OEM_ID = 'WRKVSR';
/** OEM revision of every table we build. */
export const OEM_REVISION = 1;
/** Creator ID (4 bytes): the "ASL compiler" that produced the tables, i.e. us. */
export const CREATOR_ID = 'WRKV';
/** Creator revision. */
export const CREATOR_REVISION = 1;

// Header field offsets, section 5.2.6 table 5.4.
const LENGTH_OFFSET = 4;
const REVISION_OFFSET = 8;
const CHECKSUM_OFFSET = 9;
const OEM_ID_OFFSET = 10;
const OEM_TABLE_ID_OFFSET = 16;
const OEM_REVISION_OFFSET = 24;
const CREATOR_ID_OFFSET = 28;
const CREATOR_REVISION_OFFSET = 32;

/** Sum of bytes [start, end) modulo 256. A valid ACPI table sums to 0. */
export function byteSum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum = (sum + (bytes[i] ?? 0)) & 0xff;
  return sum;
}

/**
 * Stores at `checksumOffset` the byte that makes [start, end) sum to 0 mod 256
 * (the byte itself is counted, so it is zeroed first).
 */
export function fixChecksum(bytes: Uint8Array, checksumOffset: number, start = 0, end = bytes.length): void {
  bytes[checksumOffset] = 0;
  bytes[checksumOffset] = (0x100 - byteSum(bytes, start, end)) & 0xff;
}

/** Writes an ASCII identifier of exactly `width` bytes, padded with spaces (OEM ids, signatures). */
export function putAscii(bytes: Uint8Array, offset: number, text: string, width: number): void {
  if (text.length > width || !/^[\x20-\x7e]*$/.test(text)) {
    throw new AcpiError('invalid-string', `"${text}" is not printable ASCII of at most ${width} characters`);
  }
  for (let i = 0; i < width; i++) bytes[offset + i] = i < text.length ? text.charCodeAt(i) : 0x20;
}

/** Reads a fixed-width ASCII field back (for tests and dumps). */
export function getAscii(bytes: Uint8Array, offset: number, width: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + width));
}

/** What a table says about itself in its header. */
export interface SdtOptions {
  /** 4-character signature ("FACP", "APIC", "DSDT", "XSDT"). */
  readonly signature: string;
  /** Table revision (the table's own layout version, not the ACPI spec's). */
  readonly revision: number;
  /** 8-character OEM table id; default "WRKV" + signature. */
  readonly oemTableId?: string;
}

/**
 * A complete table: header + body, with Length set and the checksum fixed so that all
 * Length bytes sum to 0. `body` is everything after the 36-byte header.
 */
export function buildSdt(options: SdtOptions, body: Uint8Array): Uint8Array {
  if (options.signature.length !== 4) {
    throw new AcpiError('invalid-string', `table signature "${options.signature}" is not 4 characters`);
  }
  const length = SDT_HEADER_SIZE + body.length;
  if (length > 0xffff_ffff) throw new AcpiError('value-out-of-range', `table ${options.signature} of ${length} bytes is too long`);
  const table = new Uint8Array(length);
  putAscii(table, 0, options.signature, 4);
  le.putU32(table, LENGTH_OFFSET, length);
  table[REVISION_OFFSET] = options.revision;
  putAscii(table, OEM_ID_OFFSET, OEM_ID, 6);
  putAscii(table, OEM_TABLE_ID_OFFSET, options.oemTableId ?? `WRKV${options.signature}`, 8);
  le.putU32(table, OEM_REVISION_OFFSET, OEM_REVISION);
  putAscii(table, CREATOR_ID_OFFSET, CREATOR_ID, 4);
  le.putU32(table, CREATOR_REVISION_OFFSET, CREATOR_REVISION);
  table.set(body, SDT_HEADER_SIZE);
  fixChecksum(table, CHECKSUM_OFFSET);
  return table;
}
