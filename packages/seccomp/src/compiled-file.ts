// Workervisor's compiled filter file (`workervisor seccompiler --output`), and loading either form
// `--seccomp-filter` takes. Firecracker's own output is bitcode of a map thread -> [sock_filter];
// this is a simpler documented container with the same content. Little-endian:
//   magic "WVSECBPF" (8 bytes) | u32 version (1) | u32 AUDIT_ARCH_* | u32 filter count
//   then per filter: u16 name length | name (UTF-8) | u16 instruction count | sock_filter[count]
import { AUDIT_ARCH_X86_64, BPF_MAXINSNS, decodeProgram, encodeProgram, SOCK_FILTER_SIZE, type SockFilter } from './bpf.js';
import { compileFilterFile } from './compile.js';
import { SeccompError } from './errors.js';
import type { TargetArch } from './filter-file.js';

export const COMPILED_MAGIC = 'WVSECBPF';
export const COMPILED_VERSION = 1;
/** A filter file (either form) larger than this is refused before parsing. */
export const MAX_FILTER_FILE_BYTES = 1 << 20;
const MAX_FILTERS = 256;
const HEADER = 8 + 4 + 4 + 4;

/** Thread category -> program. */
export type CompiledFilters = ReadonlyMap<string, readonly SockFilter[]>;

export function encodeCompiledFilters(filters: CompiledFilters, arch: TargetArch = 'x86_64'): Uint8Array {
  if (arch !== 'x86_64') throw new SeccompError('unsupported-arch', `target arch '${String(arch)}' is not supported`);
  const parts: Uint8Array[] = [];
  const header = new Uint8Array(HEADER);
  const hv = new DataView(header.buffer);
  header.set(new TextEncoder().encode(COMPILED_MAGIC));
  hv.setUint32(8, COMPILED_VERSION, true);
  hv.setUint32(12, AUDIT_ARCH_X86_64, true);
  hv.setUint32(16, filters.size, true);
  parts.push(header);
  for (const [name, program] of filters) {
    const nameBytes = new TextEncoder().encode(name);
    if (nameBytes.length > 0xffff) throw new SeccompError('invalid-filter', `the thread category name is longer than 65535 bytes`, { at: { filter: name.slice(0, 40), field: '(key)' } });
    if (program.length === 0 || program.length > BPF_MAXINSNS) throw new SeccompError('too-long', `has ${program.length} instructions (1 to ${BPF_MAXINSNS} fit)`, { at: { filter: name, field: 'filter' } });
    const lengths = new Uint8Array(2);
    new DataView(lengths.buffer).setUint16(0, nameBytes.length, true);
    const count = new Uint8Array(2);
    new DataView(count.buffer).setUint16(0, program.length, true);
    parts.push(lengths, nameBytes, count, encodeProgram(program));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** True when bytes start with the compiled file's magic (anything else is taken for JSON). */
export function isCompiledFilterFile(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && new TextDecoder().decode(bytes.subarray(0, 8)) === COMPILED_MAGIC;
}

/** Reads a compiled file; throws SeccompError('invalid-compiled') saying what is wrong. */
export function decodeCompiledFilters(bytes: Uint8Array): Map<string, SockFilter[]> {
  const bad = (what: string): never => {
    throw new SeccompError('invalid-compiled', `not a valid compiled filter file: ${what}`);
  };
  if (!isCompiledFilterFile(bytes)) bad(`it does not start with "${COMPILED_MAGIC}"`);
  if (bytes.length < HEADER) bad('it is truncated in its header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== COMPILED_VERSION) bad(`version ${version} (this Workervisor reads version ${COMPILED_VERSION})`);
  const arch = view.getUint32(12, true);
  if (arch !== AUDIT_ARCH_X86_64) bad(`it is for audit arch 0x${arch.toString(16)}, not x86_64 (0x${AUDIT_ARCH_X86_64.toString(16)})`);
  const count = view.getUint32(16, true);
  if (count > MAX_FILTERS) bad(`${count} filters (at most ${MAX_FILTERS})`);
  const out = new Map<string, SockFilter[]>();
  let o = HEADER;
  const need = (n: number, what: string): void => {
    if (o + n > bytes.length) bad(`it is truncated in ${what}`);
  };
  for (let i = 0; i < count; i++) {
    need(2, `filter ${i}'s name length`);
    const nameLength = view.getUint16(o, true);
    o += 2;
    need(nameLength, `filter ${i}'s name`);
    let name: string;
    try {
      name = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(o, o + nameLength));
    } catch {
      return bad(`filter ${i}'s name is not UTF-8`);
    }
    o += nameLength;
    if (name === '' || out.has(name)) bad(`filter ${i}'s name ${JSON.stringify(name)} is ${name === '' ? 'empty' : 'given twice'}`);
    need(2, `filter ${JSON.stringify(name)}'s length`);
    const insns = view.getUint16(o, true);
    o += 2;
    if (insns === 0 || insns > BPF_MAXINSNS) bad(`filter ${JSON.stringify(name)} has ${insns} instructions (1 to ${BPF_MAXINSNS} fit)`);
    need(insns * SOCK_FILTER_SIZE, `filter ${JSON.stringify(name)}'s program`);
    out.set(name, decodeProgram(bytes.subarray(o, o + insns * SOCK_FILTER_SIZE)));
    o += insns * SOCK_FILTER_SIZE;
  }
  if (o !== bytes.length) bad(`${bytes.length - o} bytes after the last filter`);
  return out;
}

/**
 * What `--seccomp-filter FILE` reads: a compiled file (by its magic) or Firecracker's JSON,
 * compiled on the spot. Both give thread category -> program.
 */
export function loadFilterFile(bytes: Uint8Array, arch: TargetArch = 'x86_64'): Map<string, SockFilter[]> {
  if (bytes.length > MAX_FILTER_FILE_BYTES) throw new SeccompError('invalid-filter', `the filter file is ${bytes.length} bytes, more than ${MAX_FILTER_FILE_BYTES}`);
  if (isCompiledFilterFile(bytes)) return decodeCompiledFilters(bytes);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new SeccompError('invalid-json', `the filter file is neither a compiled filter file ("${COMPILED_MAGIC}") nor UTF-8 JSON`);
  }
  return compileFilterFile(text, arch);
}
