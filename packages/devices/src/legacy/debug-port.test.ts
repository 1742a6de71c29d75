import { describe, expect, it } from 'vitest';
import { Bus } from '../bus.js';
import { ManualClock } from '../testing/index.js';
import { BytePortBusDevice } from './byte-port-bus.js';
import { DEBUG_PORT_COUNT, DebugPort, DebugPortError } from './debug-port.js';

describe('DebugPort', () => {
  it('records each code with microseconds since the device was created', () => {
    const clock = new ManualClock(5_000_000n);
    const dev = new DebugPort({ now: clock.now });
    clock.advanceUs(10);
    dev.writeRegister(0, 0x01);
    clock.advanceUs(2_500);
    dev.writeRegister(0, 0x2a);
    expect(dev.codes()).toEqual([
      { code: 0x01, timeUs: 10 },
      { code: 0x2a, timeUs: 2_510 },
    ]);
    expect(dev.metrics.codes).toBe(2);
  });

  it('reads back the last code, and 0 before any', () => {
    const dev = new DebugPort();
    expect(dev.readRegister(0)).toBe(0);
    dev.writeRegister(0, 0x99);
    expect(dev.readRegister(0)).toBe(0x99);
  });

  it('keeps only the newest codes, oldest first, once the ring is full', () => {
    const dev = new DebugPort({ capacity: 3, now: new ManualClock().now });
    for (let i = 1; i <= 5; i++) dev.writeRegister(0, i);
    expect(dev.codes().map((c) => c.code)).toEqual([3, 4, 5]);
    dev.writeRegister(0, 6);
    expect(dev.codes().map((c) => c.code)).toEqual([4, 5, 6]);
    expect(dev.metrics.codes).toBe(6);
  });

  it('keeps 1024 codes by default', () => {
    const dev = new DebugPort();
    for (let i = 0; i < 1030; i++) dev.writeRegister(0, i & 0xff);
    expect(dev.codes()).toHaveLength(1024);
    expect(dev.codes()[0]!.code).toBe(6);
  });

  it('hands out copies that later writes do not change', () => {
    const dev = new DebugPort({ capacity: 2 });
    dev.writeRegister(0, 1);
    const snapshot = dev.codes();
    dev.writeRegister(0, 2);
    dev.writeRegister(0, 3);
    expect(snapshot.map((c) => c.code)).toEqual([1]);
  });

  it('counts accesses at other offsets without recording them', () => {
    const dev = new DebugPort();
    dev.writeRegister(1, 7);
    expect(dev.readRegister(1)).toBe(0);
    expect(dev.codes()).toEqual([]);
    expect(dev.metrics.missedWrites).toBe(1);
    expect(dev.metrics.missedReads).toBe(1);
  });

  it('saves and restores the last code through JSON', () => {
    const a = new DebugPort();
    a.writeRegister(0, 0x42);
    const b = new DebugPort();
    b.restore(JSON.parse(JSON.stringify(a.save())) as ReturnType<DebugPort['save']>);
    expect(b.readRegister(0)).toBe(0x42);
    expect(() => b.restore({ lastCode: 256 })).toThrow(DebugPortError);
  });

  it('rejects a zero history at construction', () => {
    expect(() => new DebugPort({ capacity: 0 })).toThrow(DebugPortError);
  });

  it('records a byte written to port 0x80 and ignores a 2-byte write', () => {
    const dev = new DebugPort();
    const bus = new Bus('pio');
    bus.insert(new BytePortBusDevice(dev), 0x80, DEBUG_PORT_COUNT, 'debug');
    bus.write(0x80, Uint8Array.of(0x55));
    bus.write(0x80, Uint8Array.of(0x66, 0x77));
    expect(dev.codes().map((c) => c.code)).toEqual([0x55]);
  });
});
