// ACPI hardware-reduced sleep control/status register and reset register on one I/O port (Cloud
// Hypervisor's AcpiShutdownDevice). Bit layout: ACPI 6.5 section 4.8.3.7-4.8.3.8 (SLP_TYP, SLP_EN, WAK_STS).
import type { VmExitRequester } from '../bus-device.js';
import { createLogger, RateLimitedLog } from '@workervisor/base';
import type { ByteRegisterDevice } from './byte-port-bus.js';
import { rateLimitedAt } from './shared.js';

/** Map one port (vmm-core's ACPI_SHUTDOWN_PORT) with this length. */
export const ACPI_SHUTDOWN_PORT_COUNT = 1;

const SLP_EN = 0b0010_0000; // sleep control bit 5: enter the state in SLP_TYP
const SLP_TYP_SHIFT = 2; // sleep control bits 2-4
const SLP_TYP_MASK = 0b111;
const WAK_STS = 0b1000_0000; // sleep status bit 7, write-1-to-clear

export interface AcpiShutdownOptions {
  readonly exit: VmExitRequester;
  /** The FADT RESET_VALUE; default 0x01 (vmm-core's ACPI_RESET_VALUE). */
  readonly resetValue?: number;
  /** The SLP_TYP the DSDT's `_S5_` package declares; default 5 (ACPI_S5_SLEEP_TYPE). */
  readonly s5SleepType?: number;
}

export interface AcpiShutdownMetrics {
  powerOffRequests: number;
  resetRequests: number;
  /** Sleep states other than S5 (S1-S4 are not supported). */
  unsupportedSleeps: number;
  invalidAccesses: number;
  missedReads: number;
  missedWrites: number;
}

const log = createLogger('acpi');

/**
 * Write (s5SleepType << 2) | SLP_EN (0x34 by default) -> powerOff('acpi-s5'); write resetValue ->
 * reset('acpi-reset'). Reads return 0, so the guest sees WAK_STS clear. Stateless: no save/restore.
 */
export class AcpiShutdown implements ByteRegisterDevice {
  readonly name = 'acpi-shutdown';
  readonly metrics: AcpiShutdownMetrics = {
    powerOffRequests: 0,
    resetRequests: 0,
    unsupportedSleeps: 0,
    invalidAccesses: 0,
    missedReads: 0,
    missedWrites: 0,
  };

  private readonly exit: VmExitRequester;
  private readonly resetValue: number;
  private readonly s5SleepType: number;
  private readonly warnLog = new RateLimitedLog(log);
  private readonly infoLog = rateLimitedAt(log, 'info', 3);

  constructor(options: AcpiShutdownOptions) {
    this.exit = options.exit;
    this.resetValue = (options.resetValue ?? 0x01) & 0xff;
    this.s5SleepType = (options.s5SleepType ?? 5) & SLP_TYP_MASK;
  }

  readRegister(offset: number): number {
    if (offset !== 0) {
      this.metrics.missedReads++;
      this.warnLog.warn(`acpi-shutdown: read at unknown offset ${offset}`);
    }
    return 0;
  }

  writeRegister(offset: number, value: number): void {
    const v = value & 0xff;
    if (offset !== 0) {
      this.metrics.missedWrites++;
      this.warnLog.warn(`acpi-shutdown: write of 0x${v.toString(16)} at unknown offset ${offset}`);
      return;
    }
    if (v === this.resetValue) {
      this.metrics.resetRequests++;
      this.infoLog.warn('guest requested a reset through the ACPI reset register');
      this.exit.reset('acpi-reset');
      return;
    }
    if ((v & SLP_EN) === 0) {
      // Linux's acpi_hw_extended_sleep first writes WAK_STS to clear it, and wake-up writes
      // SLP_TYP without SLP_EN: neither asks for anything.
      if ((v & ~WAK_STS) !== 0) log.debug(`acpi-shutdown: ignored write 0x${v.toString(16)} without SLP_EN`);
      return;
    }
    const sleepType = (v >> SLP_TYP_SHIFT) & SLP_TYP_MASK;
    if (sleepType === this.s5SleepType) {
      this.metrics.powerOffRequests++;
      this.infoLog.warn('guest requested power off (ACPI S5)');
      this.exit.powerOff('acpi-s5');
      return;
    }
    this.metrics.unsupportedSleeps++;
    this.warnLog.warn(`acpi-shutdown: guest asked for unsupported sleep type ${sleepType}; ignored`);
  }
}
