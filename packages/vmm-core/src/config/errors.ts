// The two ways a VmConfig is refused, built in this one place: the key path goes into
// `details.field`, which the API's error body carries and the CLI maps back to its flag.
import { VmError } from '../vm-error.js';

/** The config error type the resolver throws. */
export type ConfigError = VmError;

/** A value that cannot work (out of range, missing, contradicting another key): ERR_VMM_VM_INVALID_CONFIG. */
export function invalidConfig(field: string, message: string): ConfigError {
  return new VmError('invalid-config', message, { details: { field } });
}

/** A key asking for something this VMM does not build: ERR_VMM_VM_NOT_SUPPORTED. */
export function notSupported(field: string, message: string): ConfigError {
  return new VmError('not-supported', message, { details: { field } });
}
