// Event register behind the ACPI Generic Event Device (hardware-reduced ACPI, ACPI 6.5 section
// 5.6.9): the VMM sets an event bit and raises the GED interrupt; the DSDT's _EVT reads the register.
import type { IrqTrigger } from '../bus-device.js';
import { VmmError } from '@workervisor/base';
import type { ErrorKind } from '@workervisor/base';
import { createLogger, RateLimitedLog } from '@workervisor/base';
import type { ByteRegisterDevice } from './byte-port-bus.js';
import { intField, rateLimitedAt } from './shared.js';

/** The register window: one byte at offset 0 (the DSDT's OperationRegion is this long). */
export const ACPI_GED_REGISTER_SIZE = 1;

/**
 * Event bits of the register. Bit 3 is the power button, as in Cloud Hypervisor's
 * AcpiNotificationFlags (bits 0-2 are its CPU, memory and PCI hotplug events, unused here).
 */
export const GED_EVENT_POWER_BUTTON = 0b0000_1000;
const GED_EVENT_MASK = GED_EVENT_POWER_BUTTON;

export interface AcpiGedOptions {
  /** The GED interrupt (the GSI in the DSDT's GED _CRS), edge-triggered. */
  readonly irq: IrqTrigger;
}

export interface AcpiGedMetrics {
  /** powerButton() calls. */
  powerButtonPresses: number;
  /** Interrupts raised. */
  interrupts: number;
  /** Reads of the register that returned at least one event bit (the guest's _EVT ran). */
  eventsDelivered: number;
  /** Reads of the register with no event pending. */
  emptyReads: number;
  /** Reads and writes at offsets other than 0, and writes (the register is read-only). */
  missedReads: number;
  missedWrites: number;
  /** Accesses wider than one byte (counted by the bus adapter). */
  invalidAccesses: number;
}

/** Snapshot state: the event bits not yet read by the guest. */
export interface AcpiGedState {
  readonly pending: number;
}

export class AcpiGedError extends VmmError<'ACPI_GED'> {
  constructor(kind: ErrorKind<'ACPI_GED'>, message: string) {
    super('ACPI_GED', kind, message);
  }
}

const log = createLogger('acpi-ged');

/**
 * A one-byte, read-only, read-to-clear event register. Map it with BytePortBusDevice at
 * vmm-core's GED_START on the MMIO bus (ACPICA reads a ByteAcc field with one 1-byte load).
 * Events raised before the guest reads accumulate in the register; each raises one edge.
 */
export class AcpiGed implements ByteRegisterDevice {
  readonly name = 'acpi-ged';
  readonly metrics: AcpiGedMetrics = {
    powerButtonPresses: 0,
    interrupts: 0,
    eventsDelivered: 0,
    emptyReads: 0,
    missedReads: 0,
    missedWrites: 0,
    invalidAccesses: 0,
  };

  private pending = 0;
  private readonly irq: IrqTrigger;
  private readonly warnLog = new RateLimitedLog(log);
  private readonly infoLog = rateLimitedAt(log, 'info', 5);

  constructor(options: AcpiGedOptions) {
    this.irq = options.irq;
  }

  /** Event bits set and not yet read by the guest. */
  get pendingEvents(): number {
    return this.pending;
  }

  /** Presses the power button: sets GED_EVENT_POWER_BUTTON and raises the GED interrupt. */
  powerButton(): void {
    this.metrics.powerButtonPresses++;
    this.infoLog.warn('power button pressed');
    this.raise(GED_EVENT_POWER_BUTTON);
  }

  /** Returns the pending event bits and clears them (one _EVT run consumes every event). */
  readRegister(offset: number): number {
    if (offset !== 0) {
      this.metrics.missedReads++;
      this.warnLog.warn(`acpi-ged: read at unknown offset ${offset}`);
      return 0;
    }
    const events = this.pending;
    this.pending = 0;
    if (events === 0) this.metrics.emptyReads++;
    else this.metrics.eventsDelivered++;
    return events;
  }

  /** The register is read-only: writes are counted and ignored. */
  writeRegister(offset: number, value: number): void {
    this.metrics.missedWrites++;
    this.warnLog.warn(`acpi-ged: ignored write of 0x${(value & 0xff).toString(16)} at offset ${offset}; the event register is read-only`);
  }

  save(): AcpiGedState {
    return { pending: this.pending };
  }

  /** Restores a save() without raising the interrupt. Throws AcpiGedError('invalid-state') on malformed input. */
  restore(state: AcpiGedState): void {
    const fail = (message: string): never => {
      throw new AcpiGedError('invalid-state', message);
    };
    const pending = intField(state, 'pending', 0xff, fail);
    if ((pending & ~GED_EVENT_MASK) !== 0) fail(`state field pending has unknown event bits 0x${pending.toString(16)}`);
    this.pending = pending;
  }

  private raise(event: number): void {
    this.pending |= event;
    this.metrics.interrupts++;
    this.irq.trigger();
  }
}
