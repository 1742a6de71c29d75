// The one error type of the ACPI table builder (STYLE.md "Errors"): bad input, AML that
// cannot be encoded, tables that do not fit their window, and guest-memory write failures.
import { VmmError } from '@workervisor/base';
import type { ErrorKind } from '@workervisor/base';

/**
 * AcpiError kinds (ERROR_CODES.ACPI in @workervisor/base):
 * - `invalid-name`: A NameSeg/NamePath that ACPI 6.5 section 20.2.2 does not allow.
 * - `value-out-of-range`: A number that does not fit its AML or table field (integer, PkgLength, IRQ, address).
 * - `invalid-string`: A string that cannot be an AML String (section 20.2.3: ASCII 0x01-0x7F).
 * - `invalid-config`: A createAcpiTables config that cannot describe a machine (vCPU count, virtio slot).
 * - `no-space`: The tables do not fit in [RSDP_START, ACPI_TABLES_END).
 * - `guest-memory`: Writing a table into guest memory failed (the cause is chained).
 */
export type AcpiErrorKind = ErrorKind<'ACPI'>;

/** `new AcpiError('no-space', ...)` has code `ERR_VMM_ACPI_NO_SPACE`. */
export class AcpiError extends VmmError<'ACPI'> {
  constructor(
    kind: AcpiErrorKind,
    message: string,
    options?: { cause?: unknown; details?: Record<string, string | number | boolean> },
  ) {
    super('ACPI', kind, message, options);
  }
}
