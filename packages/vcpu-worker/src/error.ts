// VcpuError: a vCPU worker that does not answer, has ended, or is asked for its snapshot state in
// the wrong state. Shared by the core's handle and the worker (whose errors cross as data).
import { VmmError, type ErrorKind } from '@workervisor/base';

export type VcpuErrorKind = ErrorKind<'VCPU'>;

export class VcpuError extends VmmError<'VCPU'> {
  constructor(kind: VcpuErrorKind, message: string, options?: { cause?: unknown }) {
    super('VCPU', kind, message, options);
  }
}
