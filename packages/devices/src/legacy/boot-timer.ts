// Firecracker's boot-timer MMIO device (src/vmm/src/devices/pseudo/boot_timer.rs): the guest's
// init writes the byte 123 at offset 0 when boot has finished and the VMM logs the time taken.
import type { BusDevice } from '../bus-device.js';
import { createLogger } from '@workervisor/base';
import { rateLimitedAt } from './shared.js';

/** The byte that signals "guest boot complete" (Firecracker's MAGIC_VALUE_SIGNAL_GUEST_BOOT_COMPLETE). */
export const BOOT_COMPLETE_MAGIC = 123;

/** A moment in the VMM process: monotonic wall time and process CPU time. */
export interface Instant {
  /** process.hrtime.bigint(), nanoseconds. */
  readonly monotonicNs: bigint;
  /** process.cpuUsage() user + system, microseconds. */
  readonly cpuUs: number;
}

/** Now, as an Instant. */
export function instantNow(): Instant {
  const cpu = process.cpuUsage();
  return { monotonicNs: process.hrtime.bigint(), cpuUs: cpu.user + cpu.system };
}

/** Time from the start instant to the guest's boot-complete signal. */
export interface BootTime {
  readonly us: number;
  readonly ms: number;
  readonly cpuUs: number;
  readonly cpuMs: number;
}

export interface BootTimerMetrics {
  /** Boot-complete signals received. */
  signals: number;
  /** Other reads and writes (ignored, as Firecracker does). */
  ignoredAccesses: number;
}

const log = createLogger('boot-timer');

/**
 * Map it at vmm-core's BOOT_TIMER_START with BOOT_TIMER_SIZE (4 KiB) on the MMIO bus. It is its
 * own bus adapter: the only register is a 1-byte write at offset 0, and reads return zeros.
 */
export class BootTimer implements BusDevice {
  readonly metrics: BootTimerMetrics = { signals: 0, ignoredAccesses: 0 };
  private last: BootTime | undefined;
  private readonly infoLog = rateLimitedAt(log, 'info', 5, 60_000);

  /**
   * start: the instant boot time is measured from (Firecracker uses the process start; default:
   * construction). clock: replaces instantNow in tests.
   */
  constructor(
    private readonly start: Instant = instantNow(),
    private readonly clock: () => Instant = instantNow,
  ) {}

  /** The most recent boot time the guest signalled, or undefined before it did. */
  get bootTime(): BootTime | undefined {
    return this.last;
  }

  read(_offset: number, data: Uint8Array): void {
    this.metrics.ignoredAccesses++;
    data.fill(0);
  }

  write(offset: number, data: Uint8Array): void {
    if (offset !== 0 || data.length !== 1 || data[0] !== BOOT_COMPLETE_MAGIC) {
      this.metrics.ignoredAccesses++;
      return;
    }
    const now = this.clock();
    const us = Number((now.monotonicNs - this.start.monotonicNs) / 1000n);
    const cpuUs = Math.max(0, now.cpuUs - this.start.cpuUs);
    const time = { us, ms: Math.floor(us / 1000), cpuUs, cpuMs: Math.floor(cpuUs / 1000) };
    this.last = time;
    this.metrics.signals++;
    // Firecracker's line (without its column padding), so scripts that scrape it keep working.
    this.infoLog.warn(`Guest-boot-time = ${time.us} us ${time.ms} ms, ${time.cpuUs} CPU us ${time.cpuMs} CPU ms`);
  }
}
