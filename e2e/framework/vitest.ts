// Vitest helpers that skip KVM tests with a printed reason when the machine cannot run them.
import { describe, it, type TestFunction } from 'vitest';
import { kvmStatus, type Readiness } from './kvm.js';

const warned = new Set<string>();

/** Prints why a suite is skipped (once per reason), so a skip is never silent. */
function warnSkip(name: string, readiness: Readiness): void {
  const reason = readiness.reason ?? 'not usable here';
  if (warned.has(`${name}\0${reason}`)) return;
  warned.add(`${name}\0${reason}`);
  console.warn(`[workervisor] skipping "${name}": ${reason}`);
}

/** `describe` that runs only when `readiness.usable`, and otherwise says why it skipped. */
export function describeWhen(readiness: Readiness, name: string, fn: () => void): void {
  if (!readiness.usable) warnSkip(name, readiness);
  describe.skipIf(!readiness.usable)(name, fn);
}

/** `describe` for suites that need /dev/kvm. */
export function describeKvm(name: string, fn: () => void): void {
  describeWhen(kvmStatus(), name, fn);
}

/** `it` for a test that needs /dev/kvm; `timeoutMs` as in vitest's `it`. */
export function itKvm(name: string, fn: TestFunction, timeoutMs?: number): void {
  const readiness = kvmStatus();
  if (!readiness.usable) warnSkip(name, readiness);
  it.skipIf(!readiness.usable)(name, fn, timeoutMs);
}
