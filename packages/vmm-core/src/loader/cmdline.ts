// Kernel command line: a builder that validates each argument and the total length, and the
// NUL-terminated copy at CMDLINE_START. Spec: boot.rst ("cmd_line_ptr", "cmdline_size");
// Documentation/admin-guide/kernel-parameters.rst (quoting); Firecracker's Cmdline.
import type { GuestMemory } from '@workervisor/devices';
import { CMDLINE_MAX_SIZE, CMDLINE_START } from '../arch/x86_64/layout.js';
import { LoaderError } from './errors.js';

/** Longest command line the CMDLINE_START area holds, without its NUL. */
export const CMDLINE_MAX_LENGTH = CMDLINE_MAX_SIZE - 1;

/** Where the command line lies. addr is guest-physical; length excludes the NUL. */
export interface CmdlinePlacement {
  readonly addr: number;
  readonly length: number;
}

const WHITESPACE = /\s/;

function checkNoNul(what: string, s: string): void {
  if (s.includes('\0')) throw new LoaderError('cmdline-invalid', `${what} ${JSON.stringify(s)} contains a NUL`);
}

/**
 * A kernel command line built from arguments. Length is counted in UTF-8 bytes, as the kernel
 * sees it, and never exceeds maxLength.
 */
export class Cmdline {
  private readonly args: string[] = [];
  private bytes = 0;

  /** @param maxLength longest line in bytes without the NUL (the kernel's cmdline_size). */
  constructor(readonly maxLength: number = CMDLINE_MAX_LENGTH) {
    if (!Number.isSafeInteger(maxLength) || maxLength < 0 || maxLength > CMDLINE_MAX_LENGTH) {
      throw new LoaderError('cmdline-too-long', `maximum length ${maxLength} is outside [0, ${CMDLINE_MAX_LENGTH}]`);
    }
  }

  /** Parses a whole line ("console=ttyS0 quiet") into arguments; quotes are kept as written. */
  static parse(line: string, maxLength: number = CMDLINE_MAX_LENGTH): Cmdline {
    const c = new Cmdline(maxLength);
    const trimmed = line.trim();
    if (trimmed.length > 0) c.insertStr(trimmed);
    return c;
  }

  /**
   * Appends key=value. The key may not hold whitespace, '=' or quotes; a value with whitespace is
   * double-quoted (the kernel's parser strips the quotes) and may not itself hold a quote.
   */
  insert(key: string, value: string): this {
    checkNoNul('key', key);
    checkNoNul('value', value);
    if (key.length === 0 || WHITESPACE.test(key) || key.includes('=') || key.includes('"')) {
      throw new LoaderError('cmdline-invalid', `key ${JSON.stringify(key)} is empty or holds whitespace, '=' or '"'`);
    }
    let v = value;
    if (WHITESPACE.test(value)) {
      if (value.includes('"')) {
        throw new LoaderError('cmdline-invalid', `value ${JSON.stringify(value)} holds both whitespace and a quote`);
      }
      v = `"${value}"`;
    }
    return this.push(`${key}=${v}`);
  }

  /** Appends raw text (one or more arguments, e.g. "quiet" or "root=/dev/vda rw"). */
  insertStr(text: string): this {
    checkNoNul('argument', text);
    if (text.trim().length === 0) throw new LoaderError('cmdline-invalid', 'argument is empty');
    return this.push(text.trim());
  }

  /** Current length in bytes, without the NUL. */
  get length(): number {
    return this.bytes;
  }

  toString(): string {
    return this.args.join(' ');
  }

  /** UTF-8 bytes plus the terminating NUL. */
  toBytes(): Uint8Array {
    const text = new TextEncoder().encode(this.toString());
    const out = new Uint8Array(text.length + 1);
    out.set(text);
    return out;
  }

  private push(arg: string): this {
    const added = Buffer.byteLength(arg, 'utf8') + (this.args.length > 0 ? 1 : 0);
    if (this.bytes + added > this.maxLength) {
      throw new LoaderError(
        'cmdline-too-long',
        `command line would be ${this.bytes + added} bytes, more than the ${this.maxLength} the kernel accepts`,
      );
    }
    this.args.push(arg);
    this.bytes += added;
    return this;
  }
}

/**
 * Writes the command line NUL-terminated at CMDLINE_START after checking it against the kernel's
 * limit (LoadedKernel.cmdlineMaxLength; a bzImage's cmdline_size excludes the NUL).
 * Throws LoaderError 'cmdline-too-long'.
 */
export function writeCmdline(mem: GuestMemory, cmdline: Cmdline | string, maxLength: number = CMDLINE_MAX_LENGTH): CmdlinePlacement {
  const line = typeof cmdline === 'string' ? Cmdline.parse(cmdline) : cmdline;
  const limit = Math.min(maxLength, CMDLINE_MAX_LENGTH);
  if (line.length > limit) {
    throw new LoaderError('cmdline-too-long', `command line is ${line.length} bytes, more than the ${limit} the kernel accepts`);
  }
  // CMDLINE_START + CMDLINE_MAX_SIZE is below 1 MiB, which any bootable guest has.
  mem.write(CMDLINE_START, line.toBytes());
  return { addr: CMDLINE_START, length: line.length };
}
