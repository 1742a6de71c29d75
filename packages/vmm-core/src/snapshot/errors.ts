// SnapshotError: vm.snapshot and vm.restore failures (the URL, the directory and its files, a
// device without snapshot support, a snapshot from another format version or CPU).
import { VmmError, type ErrorKind } from '@workervisor/base';

export type SnapshotErrorKind = ErrorKind<'SNAPSHOT'>;

/** Code `ERR_VMM_SNAPSHOT_<KIND>`, e.g. `ERR_VMM_SNAPSHOT_VERSION_MISMATCH`. */
export class SnapshotError extends VmmError<'SNAPSHOT'> {
  constructor(kind: SnapshotErrorKind, message: string, options?: { cause?: unknown; details?: Record<string, string | number | boolean> }) {
    super('SNAPSHOT', kind, message, options);
  }
}
