import { describe, expect, it } from 'vitest';
import { Bus } from '../bus.js';
import { RecordingIrq } from '../testing/index.js';
import { AcpiGed, ACPI_GED_REGISTER_SIZE, GED_EVENT_POWER_BUTTON } from './acpi-ged.js';
import { BytePortBusDevice } from './byte-port-bus.js';

function setup() {
  const irq = new RecordingIrq();
  const ged = new AcpiGed({ irq });
  return { irq, ged };
}

describe('AcpiGed', () => {
  it('sets the power-button bit (0x08, Cloud Hypervisor\'s) and raises one edge per press', () => {
    const { ged, irq } = setup();
    expect(GED_EVENT_POWER_BUTTON).toBe(0x08);
    ged.powerButton();
    expect(irq.take()).toBe(1);
    expect(ged.pendingEvents).toBe(GED_EVENT_POWER_BUTTON);
    expect(ged.metrics).toMatchObject({ powerButtonPresses: 1, interrupts: 1 });
  });

  it('reads the pending events once and then 0 (read-to-clear, as _EVT reads it once)', () => {
    const { ged } = setup();
    ged.powerButton();
    expect(ged.readRegister(0)).toBe(GED_EVENT_POWER_BUTTON);
    expect(ged.readRegister(0)).toBe(0);
    expect(ged.metrics).toMatchObject({ eventsDelivered: 1, emptyReads: 1 });
  });

  it('keeps presses made before the guest reads as one pending bit, with an edge each', () => {
    const { ged, irq } = setup();
    ged.powerButton();
    ged.powerButton();
    expect(irq.take()).toBe(2);
    expect(ged.readRegister(0)).toBe(GED_EVENT_POWER_BUTTON);
    expect(ged.readRegister(0)).toBe(0);
  });

  it('reads 0 and raises nothing before any event', () => {
    const { ged, irq } = setup();
    expect(ged.readRegister(0)).toBe(0);
    expect(irq.total).toBe(0);
  });

  it('ignores writes: the register is read-only and a write does not clear it', () => {
    const { ged } = setup();
    ged.powerButton();
    ged.writeRegister(0, 0);
    expect(ged.metrics.missedWrites).toBe(1);
    expect(ged.readRegister(0)).toBe(GED_EVENT_POWER_BUTTON);
  });

  it('counts reads past the one-byte register without clearing it', () => {
    const { ged } = setup();
    ged.powerButton();
    expect(ged.readRegister(1)).toBe(0);
    expect(ged.metrics.missedReads).toBe(1);
    expect(ged.readRegister(0)).toBe(GED_EVENT_POWER_BUTTON);
  });

  it('is read with a 1-byte load through the MMIO bus; wider reads return 0 and keep the event', () => {
    const { ged } = setup();
    const bus = new Bus('mmio');
    bus.insert(new BytePortBusDevice(ged), 0xc000_1000, ACPI_GED_REGISTER_SIZE, 'acpi-ged');
    ged.powerButton();
    const wide = new Uint8Array(4);
    bus.read(0xc000_1000, wide); // past the 1-byte window: the bus misses it
    expect([...wide]).toEqual([0, 0, 0, 0]);
    expect(bus.metrics.missedReads).toBe(1);
    const adapter = new BytePortBusDevice(ged);
    adapter.read(0, Uint8Array.of(0xff, 0xff)); // a 2-byte read in a wider mapping: the adapter refuses it
    expect(ged.metrics.invalidAccesses).toBe(1);
    const byte = new Uint8Array(1);
    bus.read(0xc000_1000, byte);
    expect(byte[0]).toBe(GED_EVENT_POWER_BUTTON);
  });

  it('saves and restores the pending events without raising the interrupt', () => {
    const { ged } = setup();
    ged.powerButton();
    const state = ged.save();
    expect(JSON.parse(JSON.stringify(state))).toEqual({ pending: GED_EVENT_POWER_BUTTON });
    const other = setup();
    other.ged.restore(state);
    expect(other.irq.total).toBe(0);
    expect(other.ged.readRegister(0)).toBe(GED_EVENT_POWER_BUTTON);
  });

  it.each([{ pending: 0x100 }, { pending: 0x01 }, { pending: -1 }, {}])('rejects a malformed state %o', (state) => {
    const { ged } = setup();
    expect(() => ged.restore(state as never)).toThrow(expect.objectContaining({ code: 'ERR_VMM_ACPI_GED_INVALID_STATE' }));
  });
});
