import { describe, expect, it } from 'vitest';
import { BytePortBusDevice } from './byte-port-bus.js';
import { PVPANIC_CRASH_LOADED, PVPANIC_PANICKED, PvPanic } from './pvpanic.js';

function device(): { panics: string[]; dev: PvPanic; bus: BytePortBusDevice } {
  const panics: string[] = [];
  const dev = new PvPanic({ onPanic: (reason) => panics.push(reason) });
  return { panics, dev, bus: new BytePortBusDevice(dev) };
}

describe('PvPanic', () => {
  it('offers the panicked and crash-loaded events on a read, as QEMU does', () => {
    const { bus } = device();
    const data = new Uint8Array(1);
    bus.read(0, data);
    expect(data[0]).toBe(PVPANIC_PANICKED | PVPANIC_CRASH_LOADED);
  });

  it('reports a panic once per PANICKED write and counts it', () => {
    const { bus, dev, panics } = device();
    bus.write(0, Uint8Array.of(PVPANIC_PANICKED));
    expect(panics).toEqual(['guest kernel panic (pvpanic)']);
    expect(dev.metrics.panics).toBe(1);
  });

  it('does not treat crash-loaded alone as a panic', () => {
    const { bus, dev, panics } = device();
    bus.write(0, Uint8Array.of(PVPANIC_CRASH_LOADED));
    expect(panics).toEqual([]);
    expect(dev.metrics.crashLoaded).toBe(1);
  });

  it('ignores unknown bits, other offsets and wide accesses without reporting a panic', () => {
    const { bus, dev, panics } = device();
    bus.write(0, Uint8Array.of(0x80));
    bus.write(1, Uint8Array.of(PVPANIC_PANICKED));
    bus.write(0, Uint8Array.of(PVPANIC_PANICKED, 0));
    const wide = new Uint8Array(2).fill(0xff);
    bus.read(0, wide);
    expect(panics).toEqual([]);
    expect(wide).toEqual(new Uint8Array(2));
    expect(dev.metrics).toMatchObject({ unknownEvents: 1, missedWrites: 1, invalidAccesses: 2 });
  });
});
