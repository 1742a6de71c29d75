// SeccompError: a filter file that does not compile, or a compiled file that does not load. The
// message names where: the filter (thread category), the rule's index and syscall, and the field.
import { VmmError, type ErrorKind } from '@workervisor/base';

export type SeccompErrorKind = ErrorKind<'SECCOMP'>;

/** Where in a filter file a problem is; every part is optional except the field. */
export interface FilterLocation {
  /** The thread category (top-level key), e.g. `vmm`. */
  readonly filter?: string;
  /** The rule's 0-based index in the filter's `filter` array. */
  readonly rule?: number;
  /** The rule's `syscall`, when it has a readable one. */
  readonly syscall?: string;
  /** The JSON path inside the filter or rule: `default_action`, `args[1].op`, ... */
  readonly field: string;
}

/** `filter "vmm", rule 3 (ioctl), args[0].op` */
export function describeLocation(at: FilterLocation): string {
  const parts: string[] = [];
  if (at.filter !== undefined) parts.push(`filter ${JSON.stringify(at.filter)}`);
  if (at.rule !== undefined) parts.push(`rule ${at.rule}${at.syscall === undefined ? '' : ` (${at.syscall})`}`);
  parts.push(at.field);
  return parts.join(', ');
}

export class SeccompError extends VmmError<'SECCOMP'> {
  /** Where the problem is, for a filter-file problem. */
  readonly location: FilterLocation | undefined;

  constructor(kind: SeccompErrorKind, message: string, options?: { at?: FilterLocation; cause?: unknown }) {
    const at = options?.at;
    const details: Record<string, string | number> = {};
    if (at?.filter !== undefined) details.filter = at.filter;
    if (at?.rule !== undefined) details.rule = at.rule;
    if (at?.syscall !== undefined) details.syscall = at.syscall;
    if (at !== undefined) details.field = at.field;
    super('SECCOMP', kind, at === undefined ? message : `${describeLocation(at)}: ${message}`, {
      ...(options?.cause === undefined ? {} : { cause: options.cause }),
      ...(at === undefined ? {} : { details }),
    });
    this.location = at;
  }
}
