// KvmError: a failed syscall or ioctl, with errno, syscall and ioctl name (STYLE.md "Errors").
import { VmmError, type ErrorKind } from '@workervisor/base';

export interface NativeErrnoError extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
  ioctl?: string;
}

/** What failed, from the caller's side: the KVM object and operation (ERROR_CODES.KVM). */
export type KvmErrorKind = ErrorKind<'KVM'>;

/**
 * A failure reported by the kernel. `code` is `ERR_VMM_KVM_<KIND>` like every Workervisor error;
 * `errnoName` is the errno's name (EINTR, EPERM, ...), `errno` its number.
 */
export class KvmError extends VmmError<'KVM'> {
  readonly errnoName: string;
  readonly errno: number;
  readonly syscall: string;
  readonly ioctl: string | undefined;

  constructor(kind: KvmErrorKind, message: string, native: NativeErrnoError) {
    super('KVM', kind, message, { cause: native });
    this.errnoName = native.code ?? 'EUNKNOWN';
    this.errno = native.errno ?? 0;
    this.syscall = native.syscall ?? 'unknown';
    this.ioctl = native.ioctl;
  }
}

function isErrno(err: unknown): err is NativeErrnoError {
  return err instanceof Error && typeof (err as NativeErrnoError).errno === 'number';
}

/** Runs fn; a native errno error becomes a KvmError with `what` as its message prefix. */
export function wrap<T>(kind: KvmErrorKind, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isErrno(err)) {
      const op = err.ioctl ?? err.syscall ?? 'syscall';
      // A message already written for people (see Kvm.open) is kept; raw ones get the op and errno.
      const message = err.message.includes(' failed: ') || err.message.includes(' failed with ') ? `${what}: ${op} failed with ${err.code ?? 'errno ' + String(err.errno)}` : err.message;
      throw new KvmError(kind, message, err);
    }
    throw err;
  }
}
