// A PIO or MMIO bus: maps address ranges to BusDevices and dispatches guest accesses (Firecracker's Bus).
import type { BusDevice } from './bus-device.js';
import { VmmError } from '@workervisor/base';
import type { ErrorKind } from '@workervisor/base';
import { createLogger, RateLimitedLog } from '@workervisor/base';

export class BusError extends VmmError<'BUS'> {
  constructor(kind: ErrorKind<'BUS'>, message: string) {
    super('BUS', kind, message);
  }
}

interface Entry {
  readonly base: number;
  readonly len: number;
  readonly name: string;
  readonly device: BusDevice;
}

/** Counters of accesses that hit no device (the guest probing empty space). */
export interface BusMetrics {
  missedReads: number;
  missedWrites: number;
}

const log = createLogger('bus');

/** Address ranges -> devices. Lookups are a binary search over sorted, non-overlapping ranges. */
export class Bus {
  private entries: Entry[] = [];
  readonly metrics: BusMetrics = { missedReads: 0, missedWrites: 0 };
  private readonly missLog = new RateLimitedLog(log);

  constructor(readonly name: 'pio' | 'mmio') {}

  /** Maps device at [base, base+len). Throws BusError on an empty or overlapping range. */
  insert(device: BusDevice, base: number, len: number, name: string): void {
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(len) || base < 0 || len <= 0) {
      throw new BusError('invalid-range', `${this.name} range ${name} at 0x${base.toString(16)}+0x${len.toString(16)} is invalid`);
    }
    const clash = this.entries.find((e) => base < e.base + e.len && e.base < base + len);
    if (clash !== undefined) {
      throw new BusError(
        'overlap',
        `${this.name} range ${name} 0x${base.toString(16)}+0x${len.toString(16)} overlaps ${clash.name} at 0x${clash.base.toString(16)}+0x${clash.len.toString(16)}`,
      );
    }
    this.entries.push({ base, len, name, device });
    this.entries.sort((a, b) => a.base - b.base);
  }

  /** Removes the device mapped at base; returns whether one was. */
  remove(base: number): boolean {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.base !== base);
    return this.entries.length !== before;
  }

  private find(addr: number): Entry | undefined {
    let lo = 0;
    let hi = this.entries.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.entries[mid]!;
      if (addr < e.base) hi = mid - 1;
      else if (addr >= e.base + e.len) lo = mid + 1;
      else return e;
    }
    return undefined;
  }

  /** Guest read at addr; data is zero-filled when no device claims it. Returns whether one did. */
  read(addr: number, data: Uint8Array): boolean {
    const e = this.find(addr);
    if (e === undefined || addr + data.length > e.base + e.len) {
      data.fill(0);
      this.metrics.missedReads++;
      this.missLog.warn(`${this.name} read of ${data.length} bytes at 0x${addr.toString(16)} hit no device`);
      return false;
    }
    e.device.read(addr - e.base, data);
    return true;
  }

  /** Guest write at addr; ignored when no device claims it. Returns whether one did. */
  write(addr: number, data: Uint8Array): boolean {
    const e = this.find(addr);
    if (e === undefined || addr + data.length > e.base + e.len) {
      this.metrics.missedWrites++;
      this.missLog.warn(`${this.name} write of ${data.length} bytes at 0x${addr.toString(16)} hit no device`);
      return false;
    }
    e.device.write(addr - e.base, data);
    return true;
  }

  /** The mapped ranges, for diagnostics and ACPI generation. */
  ranges(): ReadonlyArray<{ base: number; len: number; name: string }> {
    return this.entries.map(({ base, len, name }) => ({ base, len, name }));
  }
}
