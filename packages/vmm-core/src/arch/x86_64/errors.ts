// Errors of the x86_64 boot-state builders (zero page, hvm_start_info, vCPU registers, CPUID, LAPIC).
import { VmmError } from '@workervisor/base';
import type { ErrorKind } from '@workervisor/base';

/**
 * X86Error kinds (ERROR_CODES.X86 in @workervisor/base):
 * - `memory-too-small`: Guest RAM is too small for the boot structures or the requested layout.
 * - `invalid-address`: An address or size that is not a safe, non-negative integer, or outside what a field holds.
 * - `memory-map-too-large`: More memory-map entries than the zero page / start-info area holds.
 * - `invalid-vcpu`: vCPU index or count outside [0, MAX_VCPUS).
 * - `invalid-state`: A setup header or LAPIC register page of the wrong size.
 */
export type X86ErrorKind = ErrorKind<'X86'>;

/** `new X86Error('memory-too-small', ...)` has code `ERR_VMM_X86_MEMORY_TOO_SMALL`. */
export class X86Error extends VmmError<'X86'> {
  constructor(
    kind: X86ErrorKind,
    message: string,
    options?: { cause?: unknown; details?: Record<string, string | number | boolean> },
  ) {
    super('X86', kind, message, options);
  }
}

/** Throws X86Error('invalid-address') unless value is a safe integer in [0, max]. */
export function checkAddress(what: string, value: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new X86Error('invalid-address', `${what} ${String(value)} is not an integer in [0, 0x${max.toString(16)}]`);
  }
}
