// Landlock (landlock(7)) for the calling thread: the kernel's ABI version, a ruleset of
// path-beneath rules, restrict_self (after PR_SET_NO_NEW_PRIVS), and execve. The domain covers the
// calling thread and what it starts later, and survives execve; other threads keep theirs.
import { closeSync } from 'node:fs';
import { binding } from './binding.js';
import { wrap } from './errors.js';

/** LANDLOCK_ACCESS_FS_* (linux/landlock.h), with the ABI that introduced each. */
export const LANDLOCK_ACCESS_FS = {
  EXECUTE: 1 << 0,
  WRITE_FILE: 1 << 1,
  READ_FILE: 1 << 2,
  READ_DIR: 1 << 3,
  REMOVE_DIR: 1 << 4,
  REMOVE_FILE: 1 << 5,
  MAKE_CHAR: 1 << 6,
  MAKE_DIR: 1 << 7,
  MAKE_REG: 1 << 8,
  MAKE_SOCK: 1 << 9,
  MAKE_FIFO: 1 << 10,
  MAKE_BLOCK: 1 << 11,
  MAKE_SYM: 1 << 12,
  /** ABI 2. */
  REFER: 1 << 13,
  /** ABI 3. */
  TRUNCATE: 1 << 14,
  /** ABI 5. */
  IOCTL_DEV: 1 << 15,
} as const;

/** The rights a rule on a regular file (not a directory) may hold; others make add_rule fail with EINVAL. */
export const LANDLOCK_FILE_ACCESS = LANDLOCK_ACCESS_FS.EXECUTE | LANDLOCK_ACCESS_FS.WRITE_FILE | LANDLOCK_ACCESS_FS.READ_FILE | LANDLOCK_ACCESS_FS.TRUNCATE | LANDLOCK_ACCESS_FS.IOCTL_DEV;

/** The kernel's Landlock ABI version (landlock_create_ruleset with LANDLOCK_CREATE_RULESET_VERSION); 0 without Landlock. */
export function landlockAbiVersion(): number {
  return wrap('landlock', 'asking the Landlock ABI version', () => binding().landlockAbiVersion());
}

/** One path-beneath rule: `access` (LANDLOCK_ACCESS_FS_* bits) on `path` and, for a directory, everything under it. */
export interface LandlockPathRule {
  readonly path: string;
  readonly access: number;
}

/**
 * Puts the calling thread under a ruleset that handles `handled` rights and allows only `rules`
 * (no_new_privs is set first). Irreversible. Throws KvmError('landlock') naming the rule's path.
 */
export function landlockRestrictSelf(handled: number, rules: readonly LandlockPathRule[]): void {
  const b = binding();
  const fd = wrap('landlock', 'creating a Landlock ruleset', () => b.landlockCreateRuleset(handled));
  try {
    for (const rule of rules) wrap('landlock', `adding the Landlock rule for ${rule.path}`, () => b.landlockAddPathRule(fd, rule.path, rule.access & handled));
    wrap('landlock', 'entering the Landlock domain', () => b.landlockRestrictSelf(fd));
  } finally {
    closeSync(fd);
  }
}

/** Replaces the process image (execve(2)); returns only by throwing KvmError('landlock'). */
export function execProcess(file: string, argv: readonly string[], env: Readonly<Record<string, string | undefined>>): never {
  const vars = Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
  return wrap('landlock', `executing ${file}`, () => binding().execve(file, [...argv], vars));
}
