// A small AML encoder: the subset of ACPI 6.5 section 20 (ACPI Machine Language) and the
// resource descriptors of section 6.4 that a DSDT for a microVM needs.
// Every function returns the encoded bytes of one term; terms compose by nesting arrays.
import { le } from '@workervisor/base';
import { AcpiError } from './error.js';

// Opcodes and prefixes, ACPI 6.5 section 20.3 ("AML Byte Stream Byte Values").
const ZERO_OP = 0x00;
const ONE_OP = 0x01;
const ONES_OP = 0xff;
const BYTE_PREFIX = 0x0a;
const WORD_PREFIX = 0x0b;
const DWORD_PREFIX = 0x0c;
const STRING_PREFIX = 0x0d;
const QWORD_PREFIX = 0x0e;
const NAME_OP = 0x08;
const SCOPE_OP = 0x10;
const BUFFER_OP = 0x11;
const PACKAGE_OP = 0x12;
const METHOD_OP = 0x14;
const RETURN_OP = 0xa4;
const STORE_OP = 0x70;
const AND_OP = 0x7b;
const NOTIFY_OP = 0x86;
const LEQUAL_OP = 0x93;
const IF_OP = 0xa0;
const LOCAL0_OP = 0x60; // Local0..Local7 = 0x60..0x67
const ARG0_OP = 0x68; // Arg0..Arg6 = 0x68..0x6E
const EXT_OP_PREFIX = 0x5b;
const OP_REGION_OP = 0x80; // after EXT_OP_PREFIX
const FIELD_OP = 0x81; // after EXT_OP_PREFIX
const DEVICE_OP = 0x82; // after EXT_OP_PREFIX
// Name string prefixes, section 20.2.2.
const ROOT_CHAR = 0x5c; // '\'
const PARENT_PREFIX_CHAR = 0x5e; // '^'
const DUAL_NAME_PREFIX = 0x2e;
const MULTI_NAME_PREFIX = 0x2f;
const NULL_NAME = 0x00;

// Resource descriptor tags, section 6.4.2 (small) and 6.4.3 (large).
const IRQ_NO_FLAGS_TAG = 0x22; // small item 0x04, length 2
const IO_PORT_TAG = 0x47; // small item 0x08, length 7
const END_TAG = 0x79; // small item 0x0F, length 1
const END_TAG_NO_CHECKSUM = 0x00;
const MEMORY32_FIXED_TAG = 0x86; // large item 0x06
const EXTENDED_INTERRUPT_TAG = 0x89; // large item 0x09

/** Largest value a PkgLength can carry (28 bits, section 20.2.4). */
export const MAX_PKG_LENGTH = 0x0fff_ffff;
const MAX_U64 = 0xffff_ffff_ffff_ffffn;

/** Concatenates encoded terms. */
export function concat(parts: ReadonlyArray<Uint8Array>): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * PkgLength (section 20.2.4) for a package whose contents after the PkgLength are
 * `contentLength` bytes. The encoded value counts its own 1-4 bytes too: one byte holds
 * up to 63, otherwise bits 7-6 of the lead byte give the number of following bytes,
 * bits 3-0 the low nibble, and each following byte the next 8 bits.
 */
export function pkgLength(contentLength: number): Uint8Array {
  if (!Number.isSafeInteger(contentLength) || contentLength < 0) {
    throw new AcpiError('value-out-of-range', `PkgLength content length ${contentLength} is not a byte count`);
  }
  if (contentLength + 1 <= 0x3f) return Uint8Array.of(contentLength + 1);
  for (let extra = 1; extra <= 3; extra++) {
    const total = contentLength + 1 + extra;
    if (total < 2 ** (4 + 8 * extra)) {
      const out = new Uint8Array(1 + extra);
      out[0] = (extra << 6) | (total & 0x0f);
      for (let i = 1; i <= extra; i++) out[i] = Math.floor(total / 2 ** (4 + 8 * (i - 1))) & 0xff;
      return out;
    }
  }
  throw new AcpiError('value-out-of-range', `PkgLength content of ${contentLength} bytes exceeds ${MAX_PKG_LENGTH}`);
}

/** PkgLength followed by its contents. */
function withPkgLength(contents: Uint8Array): Uint8Array {
  return concat([pkgLength(contents.length), contents]);
}

const LEAD_NAME_CHAR = /^[A-Z_]$/;
const NAME_CHAR = /^[A-Z0-9_]$/;

/**
 * NameSeg (section 20.2.2): 1-4 characters, a LeadNameChar ('A'-'Z', '_') then
 * DigitChar or LeadNameChar, padded to 4 bytes with '_' ("_S5" -> "_S5_").
 */
export function nameSeg(seg: string): Uint8Array {
  if (seg.length < 1 || seg.length > 4 || !LEAD_NAME_CHAR.test(seg[0] ?? '') || ![...seg].every((c) => NAME_CHAR.test(c))) {
    throw new AcpiError('invalid-name', `"${seg}" is not an AML NameSeg (1-4 of A-Z, 0-9, _; not starting with a digit)`);
  }
  const out = new Uint8Array(4).fill(0x5f);
  for (let i = 0; i < seg.length; i++) out[i] = seg.charCodeAt(i);
  return out;
}

/**
 * NameString (section 20.2.2) from ASL-style text: an optional root '\' or any number of
 * parent '^' prefixes, then NameSegs joined by '.'; e.g. "\\_SB_.COM1", "^PCI0", "_HID", "\\".
 */
export function namePath(path: string): Uint8Array {
  let i = 0;
  const prefix: number[] = [];
  if (path.startsWith('\\')) {
    prefix.push(ROOT_CHAR);
    i = 1;
  } else {
    while (path[i] === '^') {
      prefix.push(PARENT_PREFIX_CHAR);
      i++;
    }
  }
  const rest = path.slice(i);
  const segs = rest === '' ? [] : rest.split('.').map(nameSeg);
  if (segs.length > 255) throw new AcpiError('invalid-name', `name path "${path}" has more than 255 segments`);
  let body: Uint8Array[];
  if (segs.length === 0) body = [Uint8Array.of(NULL_NAME)];
  else if (segs.length === 1) body = segs;
  else if (segs.length === 2) body = [Uint8Array.of(DUAL_NAME_PREFIX), ...segs];
  else body = [Uint8Array.of(MULTI_NAME_PREFIX, segs.length), ...segs];
  return concat([Uint8Array.from(prefix), ...body]);
}

/**
 * ComputationalData integer (section 20.2.3): ZeroOp, OneOp, or the shortest of
 * BytePrefix/WordPrefix/DWordPrefix/QWordPrefix that holds `value` (unsigned, < 2^64).
 * QWords need a table of revision 2 or more (64-bit integers).
 */
export function integer(value: number | bigint): Uint8Array {
  const v = typeof value === 'bigint' ? value : Number.isSafeInteger(value) ? BigInt(value) : -1n;
  if (v < 0n || v > MAX_U64) {
    throw new AcpiError('value-out-of-range', `AML integer ${value} is not an unsigned 64-bit value`);
  }
  if (v === 0n) return Uint8Array.of(ZERO_OP);
  if (v === 1n) return Uint8Array.of(ONE_OP);
  if (v <= 0xffn) return Uint8Array.of(BYTE_PREFIX, Number(v));
  if (v <= 0xffffn) {
    const out = Uint8Array.of(WORD_PREFIX, 0, 0);
    le.putU16(out, 1, Number(v));
    return out;
  }
  if (v <= 0xffff_ffffn) {
    const out = Uint8Array.of(DWORD_PREFIX, 0, 0, 0, 0);
    le.putU32(out, 1, Number(v));
    return out;
  }
  const out = new Uint8Array(9);
  out[0] = QWORD_PREFIX;
  le.writeU64(out, 1, v);
  return out;
}

/** OnesOp: all bits set (0xFFFFFFFF in a revision-1 table, 2^64-1 from revision 2). */
export function ones(): Uint8Array {
  return Uint8Array.of(ONES_OP);
}

/** String (section 20.2.3): StringPrefix, ASCII 0x01-0x7F, NUL. */
export function string(s: string): Uint8Array {
  const out = new Uint8Array(s.length + 2);
  out[0] = STRING_PREFIX;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x01 || c > 0x7f) {
      throw new AcpiError('invalid-string', `AML string ${JSON.stringify(s)} has a character outside ASCII 0x01-0x7F at ${i}`);
    }
    out[i + 1] = c;
  }
  return out;
}

/** DefBuffer (section 20.2.5.4): BufferOp PkgLength BufferSize ByteList, size = bytes.length. */
export function buffer(bytes: Uint8Array): Uint8Array {
  return concat([Uint8Array.of(BUFFER_OP), withPkgLength(concat([integer(bytes.length), bytes]))]);
}

/** DefPackage (section 20.2.5.4): PackageOp PkgLength NumElements (at most 255) elements. */
export function packageOf(elements: ReadonlyArray<Uint8Array>): Uint8Array {
  if (elements.length > 0xff) {
    throw new AcpiError('value-out-of-range', `AML Package of ${elements.length} elements exceeds 255 (use VarPackage)`);
  }
  return concat([Uint8Array.of(PACKAGE_OP), withPkgLength(concat([Uint8Array.of(elements.length), ...elements]))]);
}

/** DefName (section 20.2.5.1): `Name (path, value)`. */
export function name(path: string, value: Uint8Array): Uint8Array {
  return concat([Uint8Array.of(NAME_OP), namePath(path), value]);
}

/** DefScope (section 20.2.5.1): `Scope (path) { children }`. */
export function scope(path: string, children: ReadonlyArray<Uint8Array>): Uint8Array {
  return concat([Uint8Array.of(SCOPE_OP), withPkgLength(concat([namePath(path), ...children]))]);
}

/** DefDevice (section 20.2.5.2): `Device (path) { children }`. */
export function device(path: string, children: ReadonlyArray<Uint8Array>): Uint8Array {
  return concat([Uint8Array.of(EXT_OP_PREFIX, DEVICE_OP), withPkgLength(concat([namePath(path), ...children]))]);
}

/** Options of a control method (MethodFlags, section 20.2.5.2). */
export interface MethodOptions {
  /** Number of arguments, 0-7. */
  readonly argCount?: number;
  /** Serialized (true) or NotSerialized (false, the default). */
  readonly serialized?: boolean;
  /** SyncLevel 0-15 (default 0). */
  readonly syncLevel?: number;
}

/** DefMethod (section 20.2.5.2): `Method (path, argCount, Serialized?) { body }`. */
export function method(path: string, body: ReadonlyArray<Uint8Array>, options: MethodOptions = {}): Uint8Array {
  const argCount = options.argCount ?? 0;
  const syncLevel = options.syncLevel ?? 0;
  if (!Number.isInteger(argCount) || argCount < 0 || argCount > 7) {
    throw new AcpiError('value-out-of-range', `method ${path} argument count ${argCount} is not 0-7`);
  }
  if (!Number.isInteger(syncLevel) || syncLevel < 0 || syncLevel > 15) {
    throw new AcpiError('value-out-of-range', `method ${path} sync level ${syncLevel} is not 0-15`);
  }
  const flags = argCount | ((options.serialized === true ? 1 : 0) << 3) | (syncLevel << 4);
  return concat([Uint8Array.of(METHOD_OP), withPkgLength(concat([namePath(path), Uint8Array.of(flags), ...body]))]);
}

/** LocalObj (section 20.2.6.2): `Local0`..`Local7`. */
export function local(index: number): Uint8Array {
  checkRange('Local index', index, 7);
  return Uint8Array.of(LOCAL0_OP + index);
}

/** ArgObj (section 20.2.6.1): `Arg0`..`Arg6`. */
export function arg(index: number): Uint8Array {
  checkRange('Arg index', index, 6);
  return Uint8Array.of(ARG0_OP + index);
}

/** A NameString used as a term (a named object's value, or a SuperName target): `\_SB_.PWRB`, `GEVT`. */
export function reference(path: string): Uint8Array {
  return namePath(path);
}

/** DefStore (section 20.2.5.4): `Store (source, target)`, in ASL+ `target = source`. */
export function store(source: Uint8Array, target: Uint8Array): Uint8Array {
  return concat([Uint8Array.of(STORE_OP), source, target]);
}

/** DefAnd (section 20.2.5.4): `And (a, b, target)`; without a target (NullName) it only yields `a & b`. */
export function and(a: Uint8Array, b: Uint8Array, target?: Uint8Array): Uint8Array {
  return concat([Uint8Array.of(AND_OP), a, b, target ?? Uint8Array.of(NULL_NAME)]);
}

/** DefLEqual (section 20.2.5.4): `LEqual (a, b)`, in ASL+ `a == b`. */
export function lEqual(a: Uint8Array, b: Uint8Array): Uint8Array {
  return concat([Uint8Array.of(LEQUAL_OP), a, b]);
}

/** DefIfElse without an Else (section 20.2.5.3): `If (predicate) { body }`. */
export function ifThen(predicate: Uint8Array, body: ReadonlyArray<Uint8Array>): Uint8Array {
  return concat([Uint8Array.of(IF_OP), withPkgLength(concat([predicate, ...body]))]);
}

/** DefNotify (section 20.2.5.3): `Notify (object, value)`; value 0x80 is a device-specific status change (section 5.6.6). */
export function notify(object: Uint8Array, value: number): Uint8Array {
  return concat([Uint8Array.of(NOTIFY_OP), object, integer(value)]);
}

/** Address spaces of an OperationRegion (section 19.6.100, table 5.174's RegionSpace keywords). */
export const REGION_SPACE = { SystemMemory: 0x00, SystemIO: 0x01 } as const;
export type RegionSpace = keyof typeof REGION_SPACE;

/**
 * DefOpRegion (section 20.2.5.2): `OperationRegion (name, space, offset, length)`; offset is a
 * guest-physical byte address (SystemMemory) or a port (SystemIO), length is bytes.
 */
export function operationRegion(path: string, space: RegionSpace, offset: number, length: number): Uint8Array {
  checkRange('OperationRegion offset', offset, Number.MAX_SAFE_INTEGER);
  checkRange('OperationRegion length', length, 0xffff_ffff);
  return concat([Uint8Array.of(EXT_OP_PREFIX, OP_REGION_OP), namePath(path), Uint8Array.of(REGION_SPACE[space]), integer(offset), integer(length)]);
}

/** FieldFlags (section 20.2.5.2): AccessType bits 0-3, LockRule bit 4, UpdateRule bits 5-6. */
export const FIELD_ACCESS = { AnyAcc: 0, ByteAcc: 1, WordAcc: 2, DWordAcc: 3, QWordAcc: 4, BufferAcc: 5 } as const;
export const FIELD_UPDATE = { Preserve: 0, WriteAsOnes: 1, WriteAsZeros: 2 } as const;

export interface FieldOptions {
  readonly access: keyof typeof FIELD_ACCESS;
  /** Lock (true) takes the global lock around accesses; default NoLock. */
  readonly lock?: boolean;
  /** Default Preserve. */
  readonly update?: keyof typeof FIELD_UPDATE;
}

/** One NamedField of a FieldList: a 1-4 character name and its width in bits. */
export interface FieldUnit {
  readonly name: string;
  readonly bits: number;
}

/**
 * The bit width of a NamedField (section 20.2.5.2): PkgLength's byte layout, but the value is
 * the width itself, not a length that counts its own bytes.
 */
function fieldBits(bits: number): Uint8Array {
  checkRange('Field unit width in bits', bits, MAX_PKG_LENGTH);
  if (bits <= 0x3f) return Uint8Array.of(bits);
  const extra = bits < 2 ** 12 ? 1 : bits < 2 ** 20 ? 2 : 3;
  const out = new Uint8Array(1 + extra);
  out[0] = (extra << 6) | (bits & 0x0f);
  for (let i = 1; i <= extra; i++) out[i] = Math.floor(bits / 2 ** (4 + 8 * (i - 1))) & 0xff;
  return out;
}

/** DefField (section 20.2.5.2): `Field (region, access, lock, update) { name, bits, ... }`, units packed from bit 0. */
export function field(region: string, options: FieldOptions, units: ReadonlyArray<FieldUnit>): Uint8Array {
  const flags = FIELD_ACCESS[options.access] | ((options.lock === true ? 1 : 0) << 4) | (FIELD_UPDATE[options.update ?? 'Preserve'] << 5);
  const list = units.map((u) => concat([nameSeg(u.name), fieldBits(u.bits)]));
  return concat([Uint8Array.of(EXT_OP_PREFIX, FIELD_OP), withPkgLength(concat([namePath(region), Uint8Array.of(flags), ...list]))]);
}

/** DefReturn (section 20.2.5.3): `Return (value)`. */
export function returnValue(value: Uint8Array): Uint8Array {
  return concat([Uint8Array.of(RETURN_OP), value]);
}

/**
 * The 32-bit compressed EISA id of a 7-character PNP id ("PNP0501" -> 0x0105D041), as the
 * ASL EISAID macro computes it (ACPI 6.5 section 19.6, "EISAID"): three letters of 5 bits each ('A' = 1)
 * then four hex digits, stored big-endian and read back as a little-endian DWord.
 */
export function eisaIdValue(id: string): number {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) {
    throw new AcpiError('invalid-string', `"${id}" is not an EISA id (3 capital letters then 4 hex digits)`);
  }
  const letters = ((id.charCodeAt(0) - 0x40) << 10) | ((id.charCodeAt(1) - 0x40) << 5) | (id.charCodeAt(2) - 0x40);
  const product = Number.parseInt(id.slice(3), 16);
  const bytes = Uint8Array.of(letters >>> 8, letters & 0xff, product >>> 8, product & 0xff);
  return le.u32(bytes, 0);
}

/** `EisaId ("PNP0501")` as an AML integer. */
export function eisaId(id: string): Uint8Array {
  return integer(eisaIdValue(id));
}

// ----- Resource descriptors (section 6.4), the bytes inside a ResourceTemplate buffer. -----

function checkRange(what: string, value: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new AcpiError('value-out-of-range', `${what} ${value} is not in 0..0x${max.toString(16)}`);
  }
}

/**
 * I/O Port descriptor (section 6.4.2.5, 8 bytes): `IO (Decode16, min, max, alignment, length)`.
 * Ports are 16-bit; alignment and length are bytes (0-255).
 */
export function io(min: number, max: number, alignment: number, length: number): Uint8Array {
  checkRange('IO range minimum', min, 0xffff);
  checkRange('IO range maximum', max, 0xffff);
  checkRange('IO alignment', alignment, 0xff);
  checkRange('IO length', length, 0xff);
  const out = Uint8Array.of(IO_PORT_TAG, 0x01 /* decodes 16-bit addresses */, 0, 0, 0, 0, alignment, length);
  le.putU16(out, 2, min);
  le.putU16(out, 4, max);
  return out;
}

/** IRQ descriptor without the flags byte (section 6.4.2.1, 3 bytes): `IRQNoFlags () {irqs}`, edge, active-high, exclusive; ISA IRQs 0-15. */
export function irqNoFlags(irqs: ReadonlyArray<number>): Uint8Array {
  let mask = 0;
  for (const irq of irqs) {
    checkRange('IRQNoFlags interrupt', irq, 15);
    mask |= 1 << irq;
  }
  const out = Uint8Array.of(IRQ_NO_FLAGS_TAG, 0, 0);
  le.putU16(out, 1, mask);
  return out;
}

/** 32-bit Fixed Memory Range descriptor (section 6.4.3.4, 12 bytes): `Memory32Fixed (ReadWrite|ReadOnly, base, length)`; bytes. */
export function memory32Fixed(base: number, length: number, writable = true): Uint8Array {
  checkRange('Memory32Fixed base', base, 0xffff_ffff);
  checkRange('Memory32Fixed length', length, 0xffff_ffff);
  const out = Uint8Array.of(MEMORY32_FIXED_TAG, 0, 0, writable ? 0x01 : 0x00, 0, 0, 0, 0, 0, 0, 0, 0);
  le.putU16(out, 1, 9);
  le.putU32(out, 4, base);
  le.putU32(out, 8, length);
  return out;
}

/** Flags of an Extended Interrupt descriptor; the defaults are ResourceConsumer, Edge, ActiveHigh, Exclusive. */
export interface ExtendedInterruptOptions {
  readonly consumer?: boolean;
  readonly edge?: boolean;
  readonly activeLow?: boolean;
  readonly shared?: boolean;
  readonly wakeCapable?: boolean;
}

/**
 * Extended Interrupt descriptor (section 6.4.3.6): `Interrupt (ResourceConsumer, Edge,
 * ActiveHigh, Exclusive) {gsis}`; 32-bit global system interrupt numbers, 1-255 of them.
 */
export function extendedInterrupt(gsis: ReadonlyArray<number>, options: ExtendedInterruptOptions = {}): Uint8Array {
  if (gsis.length < 1 || gsis.length > 0xff) {
    throw new AcpiError('value-out-of-range', `Extended Interrupt descriptor needs 1-255 interrupts, got ${gsis.length}`);
  }
  const flags =
    ((options.consumer ?? true) ? 0x01 : 0) |
    ((options.edge ?? true) ? 0x02 : 0) |
    ((options.activeLow ?? false) ? 0x04 : 0) |
    ((options.shared ?? false) ? 0x08 : 0) |
    ((options.wakeCapable ?? false) ? 0x10 : 0);
  const out = new Uint8Array(5 + 4 * gsis.length);
  out[0] = EXTENDED_INTERRUPT_TAG;
  le.putU16(out, 1, 2 + 4 * gsis.length);
  out[3] = flags;
  out[4] = gsis.length;
  gsis.forEach((gsi, i) => {
    checkRange('Extended Interrupt number', gsi, 0xffff_ffff);
    le.putU32(out, 5 + 4 * i, gsi);
  });
  return out;
}

/**
 * `ResourceTemplate () { descriptors }`: a Buffer of the descriptors followed by the End
 * Tag (section 6.4.2.9). Its checksum byte is 0, which the spec defines as "treat the
 * template as if the checksum succeeded"; iasl and ACPICA's resource conversion emit the
 * same, so our bytes round-trip through `iasl -d` + `iasl` unchanged.
 */
export function resourceTemplate(descriptors: ReadonlyArray<Uint8Array>): Uint8Array {
  return buffer(concat([...descriptors, Uint8Array.of(END_TAG, END_TAG_NO_CHECKSUM)]));
}
