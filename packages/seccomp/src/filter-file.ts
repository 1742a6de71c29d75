// Firecracker's seccompiler JSON format (docs/seccompiler.md, src/seccompiler/src/types.rs), read
// and checked into typed filters: one filter per thread category, each a default_action, a
// filter_action and or-bound rules of a syscall plus and-bound argument conditions. Stricter than
// serde in one way: a key the format does not have is refused by name, never ignored.
import { SeccompError, type FilterLocation } from './errors.js';
import { parseJson, type JsonObject, type JsonValue } from './json.js';
import { X86_64_SYSCALLS } from './syscalls-x86_64.js';

export type SeccompAction =
  | { readonly kind: 'allow' | 'kill_thread' | 'kill_process' | 'log' | 'trap' }
  | { readonly kind: 'errno'; readonly errno: number }
  | { readonly kind: 'trace'; readonly data: number };

export type ConditionOp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'masked_eq';

/** `args[i] <op> val`, unsigned; a dword compares the low 32 bits only. */
export interface SeccompCondition {
  /** Syscall argument 0-5. */
  readonly index: number;
  readonly type: 'dword' | 'qword';
  readonly op: ConditionOp;
  /** For masked_eq: the condition is `(args[i] & mask) == val`. */
  readonly mask: bigint;
  readonly val: bigint;
}

export interface SyscallRule {
  readonly syscall: string;
  readonly nr: number;
  /** And-bound; empty matches every call of the syscall. */
  readonly args: readonly SeccompCondition[];
}

export interface SeccompFilter {
  readonly defaultAction: SeccompAction;
  readonly filterAction: SeccompAction;
  /** Or-bound, in file order. */
  readonly rules: readonly SyscallRule[];
}

/** Thread category (Firecracker's vmm, api, vcpu) -> its filter, in file order. */
export type SeccompFilterSet = ReadonlyMap<string, SeccompFilter>;

export const TARGET_ARCHES = ['x86_64'] as const;
export type TargetArch = (typeof TARGET_ARCHES)[number];

/** Checks a --target-arch value. Firecracker also targets aarch64; Workervisor runs on x86_64 only. */
export function parseTargetArch(text: string): TargetArch {
  if (text.toLowerCase() === 'x86_64') return 'x86_64';
  throw new SeccompError('unsupported-arch', `target arch '${text}' is not supported (only x86_64${text.toLowerCase() === 'aarch64' ? '; Workervisor does not run on aarch64' : ''})`);
}

const SIMPLE_ACTIONS = ['allow', 'kill_thread', 'kill_process', 'log', 'trap'] as const;
const OPS = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
const U32_MAX = 0xffff_ffffn;
const U64_MAX = 0xffff_ffff_ffff_ffffn;
const ACTION_HELP = `allow, kill_thread, kill_process, log, trap, {"errno": N} or {"trace": N}`;

/** Parses and checks a filter file's text. Throws SeccompError naming the filter, rule and field. */
export function parseFilterFile(text: string, arch: TargetArch = 'x86_64'): SeccompFilterSet {
  return readFilterSet(parseJson(text), arch);
}

/** Checks an already parsed filter file (see parseJson: objects are Maps, big integers bigint). */
export function readFilterSet(doc: JsonValue, arch: TargetArch = 'x86_64'): SeccompFilterSet {
  if (arch !== 'x86_64') throw new SeccompError('unsupported-arch', `target arch '${String(arch)}' is not supported`);
  if (!(doc instanceof Map)) throw new SeccompError('invalid-filter', `the file must be a JSON object of filters keyed by thread category, not ${typeName(doc)}`);
  const out = new Map<string, SeccompFilter>();
  for (const [name, value] of doc) {
    if (name === '') throw new SeccompError('invalid-filter', 'a filter needs a non-empty thread category as its key', { at: { field: '(key)' } });
    out.set(name, readFilter(name, value));
  }
  return out;
}

function readFilter(name: string, value: JsonValue): SeccompFilter {
  const obj = expectObject(value, { filter: name, field: '(filter)' }, ['default_action', 'filter_action', 'filter', 'comment']);
  checkComment(obj, { filter: name, field: 'comment' });
  const rules = required(obj, 'filter', { filter: name, field: 'filter' });
  if (!Array.isArray(rules)) throw new SeccompError('invalid-filter', `must be an array of rules, not ${typeName(rules)}`, { at: { filter: name, field: 'filter' } });
  return {
    defaultAction: readAction(required(obj, 'default_action', { filter: name, field: 'default_action' }), { filter: name, field: 'default_action' }),
    filterAction: readAction(required(obj, 'filter_action', { filter: name, field: 'filter_action' }), { filter: name, field: 'filter_action' }),
    rules: rules.map((rule, i) => readRule(rule, name, i)),
  };
}

function readAction(value: JsonValue, at: FilterLocation): SeccompAction {
  if (typeof value === 'string') {
    const kind = SIMPLE_ACTIONS.find((a) => a === value);
    if (kind !== undefined) return { kind };
    const hint = value === 'errno' || value === 'trace' ? ` (${value} takes a value: {"${value}": N})` : ` (expected ${ACTION_HELP})`;
    throw new SeccompError('invalid-action', `unknown action ${JSON.stringify(value)}${hint}`, { at });
  }
  if (value instanceof Map && value.size === 1) {
    const [key, data] = [...value][0]!;
    if (key === 'errno' || key === 'trace') {
      const n = typeof data === 'number' && Number.isInteger(data) && data >= 0 && data <= 0xffff ? data : undefined;
      if (n === undefined) throw new SeccompError('invalid-action', `${key} must be a whole number from 0 to 65535, not ${show(data)}`, { at: { ...at, field: `${at.field}.${key}` } });
      return key === 'errno' ? { kind: 'errno', errno: n } : { kind: 'trace', data: n };
    }
  }
  throw new SeccompError('invalid-action', `${show(value)} is not an action (expected ${ACTION_HELP})`, { at });
}

function readRule(value: JsonValue, filter: string, rule: number): SyscallRule {
  const named = value instanceof Map ? value.get('syscall') : undefined;
  const base = { filter, rule, ...(typeof named === 'string' ? { syscall: named } : {}) };
  const obj = expectObject(value, { ...base, field: '(rule)' }, ['syscall', 'args', 'comment']);
  const syscall = required(obj, 'syscall', { ...base, field: 'syscall' });
  if (typeof syscall !== 'string') throw new SeccompError('invalid-filter', `must be a syscall name, not ${typeName(syscall)}`, { at: { ...base, field: 'syscall' } });
  const at = { ...base, syscall };
  const nr = X86_64_SYSCALLS.get(syscall);
  if (nr === undefined) throw new SeccompError('unknown-syscall', `unknown x86_64 syscall ${JSON.stringify(syscall)}`, { at: { ...at, field: 'syscall' } });
  checkComment(obj, { ...at, field: 'comment' });
  const args = obj.get('args');
  if (args === undefined) return { syscall, nr, args: [] };
  if (!Array.isArray(args)) throw new SeccompError('invalid-condition', `must be an array of conditions, not ${typeName(args)}`, { at: { ...at, field: 'args' } });
  return { syscall, nr, args: args.map((c, i) => readCondition(c, { ...at, field: `args[${i}]` })) };
}

function readCondition(value: JsonValue, at: FilterLocation): SeccompCondition {
  const obj = expectObject(value, at, ['index', 'type', 'op', 'val', 'comment'], 'invalid-condition');
  const field = (f: string): FilterLocation => ({ ...at, field: `${at.field}.${f}` });
  const bad = (f: string, message: string): never => {
    throw new SeccompError('invalid-condition', message, { at: field(f) });
  };
  checkComment(obj, field('comment'), 'invalid-condition');
  const index = required(obj, 'index', field('index'), 'invalid-condition');
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 5) bad('index', `must be a syscall argument index from 0 to 5, not ${show(index)}`);
  const type = required(obj, 'type', field('type'), 'invalid-condition');
  if (type !== 'dword' && type !== 'qword') bad('type', `must be "dword" (4 bytes) or "qword" (8 bytes), not ${show(type)}`);
  const width = type === 'dword' ? U32_MAX : U64_MAX;
  const op = required(obj, 'op', field('op'), 'invalid-condition');
  let kind: ConditionOp;
  let mask = width;
  if (typeof op === 'string' && (OPS as readonly string[]).includes(op)) {
    kind = op as ConditionOp;
  } else if (op instanceof Map && op.size === 1 && op.has('masked_eq')) {
    kind = 'masked_eq';
    mask = unsigned(op.get('masked_eq')!, width, () => bad('op.masked_eq', `the mask must be a whole number from 0 to ${width} for a ${String(type)}, not ${show(op.get('masked_eq')!)}`));
  } else {
    return bad('op', `unknown operator ${show(op)} (expected eq, ne, lt, le, gt, ge or {"masked_eq": MASK})`);
  }
  const rawVal = required(obj, 'val', field('val'), 'invalid-condition');
  const val = unsigned(rawVal, width, () => bad('val', `must be a whole number from 0 to ${width} for a ${String(type)}, not ${show(rawVal)}`));
  return { index: index as number, type: type as 'dword' | 'qword', op: kind, mask, val };
}

function unsigned(value: JsonValue, max: bigint, fail: () => never): bigint {
  const n = typeof value === 'bigint' ? value : typeof value === 'number' && Number.isInteger(value) ? BigInt(value) : undefined;
  if (n === undefined || n < 0n || n > max) return fail();
  return n;
}

function expectObject(value: JsonValue, at: FilterLocation, keys: readonly string[], kind: 'invalid-filter' | 'invalid-condition' = 'invalid-filter'): JsonObject {
  if (!(value instanceof Map)) throw new SeccompError(kind, `must be an object, not ${typeName(value)}`, { at });
  for (const key of value.keys()) {
    if (!keys.includes(key)) {
      const where = at.field.startsWith('(') ? { ...at, field: key } : { ...at, field: `${at.field}.${key}` };
      throw new SeccompError(kind, `unknown key (expected ${keys.join(', ')})`, { at: where });
    }
  }
  return value;
}

function required(obj: JsonObject, key: string, at: FilterLocation, kind: 'invalid-filter' | 'invalid-condition' = 'invalid-filter'): JsonValue {
  const value = obj.get(key);
  if (value === undefined) throw new SeccompError(kind, 'is missing', { at });
  return value;
}

function checkComment(obj: JsonObject, at: FilterLocation, kind: 'invalid-filter' | 'invalid-condition' = 'invalid-filter'): void {
  const c = obj.get('comment');
  if (c !== undefined && typeof c !== 'string') throw new SeccompError(kind, `must be a string, not ${typeName(c)}`, { at });
}

function typeName(v: JsonValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Map) return 'an object';
  return `a ${typeof v === 'bigint' ? 'number' : typeof v}`;
}

/** A short rendering of a value for a message (never a whole subtree). */
function show(v: JsonValue): string {
  if (v instanceof Map || Array.isArray(v)) return typeName(v);
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}
