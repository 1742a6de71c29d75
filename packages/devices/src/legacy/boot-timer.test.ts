import { afterEach, describe, expect, it, vi } from 'vitest';
import { Bus } from '../bus.js';
import { configureLogging, logLevel } from '@workervisor/base';
import { BOOT_COMPLETE_MAGIC, BootTimer, type Instant, instantNow } from './boot-timer.js';

function clockAt(instants: Instant[]): () => Instant {
  return () => instants.shift() ?? { monotonicNs: 0n, cpuUs: 0 };
}

describe('BootTimer', () => {
  const level = logLevel();
  afterEach(() => {
    vi.restoreAllMocks();
    configureLogging(level);
  });

  it('measures boot time from the start instant when the guest writes 123 at offset 0', () => {
    const start = { monotonicNs: 1_000_000_000n, cpuUs: 500 };
    const timer = new BootTimer(start, clockAt([{ monotonicNs: 1_250_400_000n, cpuUs: 40_700 }]));
    timer.write(0, Uint8Array.of(BOOT_COMPLETE_MAGIC));
    expect(timer.bootTime).toEqual({ us: 250_400, ms: 250, cpuUs: 40_200, cpuMs: 40 });
    expect(timer.metrics.signals).toBe(1);
  });

  it('logs Firecracker\'s "Guest-boot-time = <us> us <ms> ms" line at info', () => {
    configureLogging('info');
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const timer = new BootTimer({ monotonicNs: 0n, cpuUs: 0 }, clockAt([{ monotonicNs: 3_004_000n, cpuUs: 1_000 }]));
    timer.write(0, Uint8Array.of(123));
    expect(lines.join('')).toMatch(/INFO .*Guest-boot-time = 3004 us 3 ms, 1000 CPU us 1 CPU ms/);
  });

  it('ignores other values, offsets and widths', () => {
    const timer = new BootTimer();
    timer.write(0, Uint8Array.of(122));
    timer.write(1, Uint8Array.of(123));
    timer.write(0, Uint8Array.of(123, 0));
    expect(timer.bootTime).toBeUndefined();
    expect(timer.metrics.ignoredAccesses).toBe(3);
  });

  it('reads as zeros', () => {
    const timer = new BootTimer();
    const data = Uint8Array.of(1, 2, 3, 4);
    timer.read(0, data);
    expect([...data]).toEqual([0, 0, 0, 0]);
  });

  it('keeps the latest signal when the guest signals again', () => {
    const timer = new BootTimer(
      { monotonicNs: 0n, cpuUs: 0 },
      clockAt([
        { monotonicNs: 1_000_000n, cpuUs: 0 },
        { monotonicNs: 2_000_000n, cpuUs: 0 },
      ]),
    );
    timer.write(0, Uint8Array.of(123));
    timer.write(0, Uint8Array.of(123));
    expect(timer.bootTime?.ms).toBe(2);
    expect(timer.metrics.signals).toBe(2);
  });

  it('measures from construction by default with the real clock', () => {
    const timer = new BootTimer();
    timer.write(0, Uint8Array.of(123));
    expect(timer.bootTime!.us).toBeGreaterThanOrEqual(0);
    expect(instantNow().monotonicNs).toBeGreaterThan(0n);
  });

  it('signals through the MMIO bus at the boot-timer window', () => {
    const timer = new BootTimer({ monotonicNs: 0n, cpuUs: 0 }, clockAt([{ monotonicNs: 7_000n, cpuUs: 0 }]));
    const bus = new Bus('mmio');
    bus.insert(timer, 0xc000_0000, 0x1000, 'boot-timer');
    bus.write(0xc000_0000, Uint8Array.of(123));
    expect(timer.bootTime?.us).toBe(7);
  });
});
