// The two interfaces every device model is written against (STYLE.md "Devices in TS").

/** A device mapped at some range of a PIO or MMIO bus. Sees only offsets inside it. */
export interface BusDevice {
  /** Guest read of data.length (1/2/4/8) bytes at offset; fill data (pre-zeroed). Never throws for guest-caused problems. */
  read(offset: number, data: Uint8Array): void;
  /** Guest write of data.length bytes at offset. Never throws for guest-caused problems. */
  write(offset: number, data: Uint8Array): void;
}

/** Raises one interrupt line (edge) for a device. */
export interface IrqTrigger {
  trigger(): void;
}

/** Asks the VMM to end or restart the VM; devices (i8042, ACPI PM) hold one. */
export interface VmExitRequester {
  /** The guest asked for a CPU/system reset. */
  reset(reason: string): void;
  /** The guest asked to power off (ACPI S5). */
  powerOff(reason: string): void;
}
