// QEMU's pvpanic device on one I/O port (docs/specs/pvpanic.rst in QEMU): the guest reads the
// events it may report and writes an event when its kernel panics. Linux's pvpanic-mmio driver
// binds the DSDT's QEMU0001 node and writes PVPANIC_PANICKED from its panic notifier.
import { createLogger, RateLimitedLog } from '@workervisor/base';
import type { ByteRegisterDevice } from './byte-port-bus.js';

/** Map one port (vmm-core's PVPANIC_PORT, 0x505 as in QEMU) with this length. */
export const PVPANIC_PORT_COUNT = 1;
/** Event bit 0: the guest kernel panicked. */
export const PVPANIC_PANICKED = 0b0000_0001;
/** Event bit 1: a crash kernel (kdump) is loaded and will take over. */
export const PVPANIC_CRASH_LOADED = 0b0000_0010;
const SUPPORTED_EVENTS = PVPANIC_PANICKED | PVPANIC_CRASH_LOADED;

export interface PvPanicOptions {
  /** Called once per panic event the guest writes; the VMM decides what a crash does. */
  readonly onPanic: (reason: string) => void;
}

export interface PvPanicMetrics {
  /** PVPANIC_PANICKED writes. */
  panics: number;
  /** PVPANIC_CRASH_LOADED writes. */
  crashLoaded: number;
  /** Writes with bits outside the supported events (ignored). */
  unknownEvents: number;
  missedReads: number;
  missedWrites: number;
  invalidAccesses: number;
}

const log = createLogger('pvpanic');

/** Reads return the supported events; writes report them. Stateless: no save/restore. */
export class PvPanic implements ByteRegisterDevice {
  readonly name = 'pvpanic';
  readonly metrics: PvPanicMetrics = { panics: 0, crashLoaded: 0, unknownEvents: 0, missedReads: 0, missedWrites: 0, invalidAccesses: 0 };
  private readonly warnLog = new RateLimitedLog(log);

  constructor(private readonly options: PvPanicOptions) {}

  readRegister(offset: number): number {
    if (offset !== 0) {
      this.metrics.missedReads++;
      return 0;
    }
    return SUPPORTED_EVENTS;
  }

  writeRegister(offset: number, value: number): void {
    if (offset !== 0) {
      this.metrics.missedWrites++;
      this.warnLog.warn(`pvpanic: write at unknown offset ${offset}`);
      return;
    }
    if ((value & ~SUPPORTED_EVENTS) !== 0) {
      this.metrics.unknownEvents++;
      this.warnLog.warn(`pvpanic: unknown event bits 0x${value.toString(16)} ignored`);
    }
    if ((value & PVPANIC_CRASH_LOADED) !== 0) {
      this.metrics.crashLoaded++;
      log.info('guest reports a crash kernel taking over (pvpanic crash-loaded)');
    }
    if ((value & PVPANIC_PANICKED) !== 0) {
      this.metrics.panics++;
      this.options.onPanic('guest kernel panic (pvpanic)');
    }
  }
}
