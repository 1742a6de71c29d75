// The core's refusal of a VmmAction: the action or a config feature is not supported, the VM is in
// the wrong lifecycle state for it, or its VmConfig is unusable. Transport-free: the api package
// maps each code to an HTTP status (api/src/errors.ts).
import { VmmError, type ErrorKind } from '@workervisor/base';

export type VmErrorKind = ErrorKind<'VM'>;

/** Code `ERR_VMM_VM_<KIND>`, e.g. `ERR_VMM_VM_NOT_BOOTED`; `details.field` names a config field at fault. */
export class VmError extends VmmError<'VM'> {
  constructor(kind: VmErrorKind, message: string, options?: { cause?: unknown; details?: Record<string, string | number | boolean> }) {
    super('VM', kind, message, options);
  }
}
