import { describe, expect, it } from 'vitest';
import { Bus } from '../bus.js';
import { RecordingExitRequester } from '../testing/index.js';
import { AcpiShutdown, ACPI_SHUTDOWN_PORT_COUNT } from './acpi-shutdown.js';
import { BytePortBusDevice } from './byte-port-bus.js';

function setup(options: { resetValue?: number; s5SleepType?: number } = {}) {
  const exit = new RecordingExitRequester();
  const dev = new AcpiShutdown({ exit, ...options });
  return { exit, dev };
}

describe('AcpiShutdown', () => {
  it('powers off on SLP_TYP 5 with SLP_EN (0x34)', () => {
    const { dev, exit } = setup();
    dev.writeRegister(0, 0x34);
    expect(exit.requests).toEqual([{ kind: 'power-off', reason: 'acpi-s5' }]);
    expect(dev.metrics.powerOffRequests).toBe(1);
  });

  it('resets on the FADT reset value', () => {
    const { dev, exit } = setup();
    dev.writeRegister(0, 0x01);
    expect(exit.requests).toEqual([{ kind: 'reset', reason: 'acpi-reset' }]);
  });

  it('follows a configured reset value and S5 sleep type', () => {
    const { dev, exit } = setup({ resetValue: 0x06, s5SleepType: 7 });
    dev.writeRegister(0, 0x01);
    dev.writeRegister(0, 0x34);
    expect(exit.requests).toEqual([]);
    dev.writeRegister(0, 0x06);
    dev.writeRegister(0, (7 << 2) | 0x20);
    expect(exit.requests.map((r) => r.kind)).toEqual(['reset', 'power-off']);
  });

  it('ignores Linux clearing WAK_STS before it sleeps', () => {
    const { dev, exit } = setup();
    dev.writeRegister(0, 0x80);
    dev.writeRegister(0, 0x34);
    expect(exit.requests.map((r) => r.kind)).toEqual(['power-off']);
  });

  it('ignores SLP_TYP 5 written without SLP_EN', () => {
    const { dev, exit } = setup();
    dev.writeRegister(0, 5 << 2);
    expect(exit.requests).toEqual([]);
  });

  it('logs, counts and ignores other sleep states', () => {
    const { dev, exit } = setup();
    dev.writeRegister(0, (3 << 2) | 0x20);
    expect(exit.requests).toEqual([]);
    expect(dev.metrics.unsupportedSleeps).toBe(1);
  });

  it('reads 0 so WAK_STS is never seen set', () => {
    const { dev } = setup();
    dev.writeRegister(0, 0x80);
    expect(dev.readRegister(0)).toBe(0);
  });

  it('counts accesses at offsets other than 0', () => {
    const { dev, exit } = setup();
    expect(dev.readRegister(1)).toBe(0);
    dev.writeRegister(2, 0x34);
    expect(exit.requests).toEqual([]);
    expect(dev.metrics.missedReads + dev.metrics.missedWrites).toBe(2);
  });

  it('powers off through the bus at 0x600 and ignores a 2-byte write there', () => {
    const { dev, exit } = setup();
    const bus = new Bus('pio');
    bus.insert(new BytePortBusDevice(dev), 0x600, ACPI_SHUTDOWN_PORT_COUNT, 'acpi');
    bus.write(0x600, Uint8Array.of(0x34, 0x00));
    expect(exit.requests).toEqual([]);
    bus.write(0x600, Uint8Array.of(0x34));
    expect(exit.powerOffs).toBe(1);
  });
});
