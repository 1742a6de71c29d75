// The thin bus adapter shared by the legacy devices: byte-wide register files on the PIO bus
// (vm-superio's split of register core and bus glue). Only 1-byte accesses reach the core.
import type { BusDevice } from '../bus-device.js';
import { createLogger, RateLimitedLog } from '@workervisor/base';

/** A register core whose registers are one byte wide, addressed by offset from its base. */
export interface ByteRegisterDevice {
  /** Short name for log lines (`com1`, `i8042`). */
  readonly name: string;
  /** Counters the adapter adds to; the core owns the rest of its metrics. */
  readonly metrics: { invalidAccesses: number };
  /** Guest read of the register at offset; returns 0..255. Never throws for guest-caused problems. */
  readRegister(offset: number): number;
  /** Guest write of value (0..255) to the register at offset. Never throws for guest-caused problems. */
  writeRegister(offset: number, value: number): void;
}

const log = createLogger('pio');

/**
 * Maps a ByteRegisterDevice onto a Bus. Accesses wider than one byte are not how any of these
 * chips is driven (Linux uses inb/outb), so they are logged (rate-limited), counted in
 * `metrics.invalidAccesses` and ignored; such reads return zeros.
 */
export class BytePortBusDevice implements BusDevice {
  private readonly badWidthLog = new RateLimitedLog(log);

  constructor(readonly device: ByteRegisterDevice) {}

  read(offset: number, data: Uint8Array): void {
    if (data.length !== 1) {
      this.invalid('read', offset, data.length);
      data.fill(0);
      return;
    }
    data[0] = this.device.readRegister(offset) & 0xff;
  }

  write(offset: number, data: Uint8Array): void {
    if (data.length !== 1) {
      this.invalid('write', offset, data.length);
      return;
    }
    this.device.writeRegister(offset, data[0] ?? 0);
  }

  private invalid(op: 'read' | 'write', offset: number, width: number): void {
    this.device.metrics.invalidAccesses++;
    this.badWidthLog.warn(`${this.device.name}: ignored ${width}-byte ${op} at offset ${offset}; only 1-byte accesses are supported`);
  }
}
