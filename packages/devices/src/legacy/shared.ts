// Helpers shared by the legacy devices: rate-limited logging at levels other than warn, and
// checks for the JSON state a snapshot hands back to restore().
import type { Logger, LogLevel } from '@workervisor/base';
import { RateLimitedLog } from '@workervisor/base';

/**
 * A RateLimitedLog that writes at `level` instead of warn (log.ts only limits warn), for
 * guest-triggerable info/debug lines such as reset requests or POST codes.
 */
export function rateLimitedAt(log: Logger, level: Exclude<LogLevel, 'warn'>, burst?: number, intervalMs?: number): RateLimitedLog {
  const atLevel: Logger = { ...log, warn: log[level] };
  return new RateLimitedLog(atLevel, burst, intervalMs);
}

/** Reads `state[field]` as an integer in [0, max]; calls fail(message) (which throws) otherwise. */
export function intField(state: object, field: string, max: number, fail: (message: string) => never): number {
  const v = (state as Record<string, unknown>)[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) fail(`state field ${field} must be an integer in 0..${max}, got ${String(v)}`);
  return v;
}

/** Reads `state[field]` as a boolean. */
export function boolField(state: object, field: string, fail: (message: string) => never): boolean {
  const v = (state as Record<string, unknown>)[field];
  if (typeof v !== 'boolean') fail(`state field ${field} must be a boolean, got ${String(v)}`);
  return v;
}

/** Reads `state[field]` as an array of bytes no longer than maxLength. */
export function byteArrayField(state: object, field: string, maxLength: number, fail: (message: string) => never): number[] {
  const v = (state as Record<string, unknown>)[field];
  if (!Array.isArray(v) || v.length > maxLength) fail(`state field ${field} must be an array of at most ${maxLength} bytes`);
  const out: number[] = [];
  for (const b of v as unknown[]) {
    if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 0xff) fail(`state field ${field} holds a non-byte value ${String(b)}`);
    out.push(b);
  }
  return out;
}
