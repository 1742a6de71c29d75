import { describe, expect, it } from 'vitest';
import { Bus } from '../bus.js';
import { BytePortBusDevice, type ByteRegisterDevice } from './byte-port-bus.js';

/** A register file of `size` bytes that records register accesses. */
class Registers implements ByteRegisterDevice {
  readonly name = 'regs';
  readonly metrics = { invalidAccesses: 0 };
  readonly values: number[];
  readonly reads: number[] = [];
  constructor(size: number) {
    this.values = Array.from({ length: size }, (_, i) => 0x10 + i);
  }
  readRegister(offset: number): number {
    this.reads.push(offset);
    return this.values[offset] ?? 0;
  }
  writeRegister(offset: number, value: number): void {
    this.values[offset] = value;
  }
}

describe('BytePortBusDevice', () => {
  it('passes a 1-byte read and write to the register at the offset', () => {
    const regs = new Registers(8);
    const dev = new BytePortBusDevice(regs);
    const data = new Uint8Array(1);
    dev.read(3, data);
    expect(data[0]).toBe(0x13);
    dev.write(5, Uint8Array.of(0xfe));
    expect(regs.values[5]).toBe(0xfe);
    expect(regs.metrics.invalidAccesses).toBe(0);
  });

  it('keeps only the low byte of what a register core returns', () => {
    const regs = new Registers(1);
    regs.values[0] = 0x1_23;
    const data = new Uint8Array(1);
    new BytePortBusDevice(regs).read(0, data);
    expect(data[0]).toBe(0x23);
  });

  it.each([2, 4, 8])('ignores a %i-byte read: zeros, counted, the register never read', (width) => {
    const regs = new Registers(8);
    const data = new Uint8Array(width).fill(0xff);
    new BytePortBusDevice(regs).read(0, data);
    expect([...data]).toEqual(new Array(width).fill(0));
    expect(regs.reads).toEqual([]);
    expect(regs.metrics.invalidAccesses).toBe(1);
  });

  it.each([2, 4, 8])('ignores a %i-byte write: no register changes, counted', (width) => {
    const regs = new Registers(8);
    const before = [...regs.values];
    new BytePortBusDevice(regs).write(0, new Uint8Array(width).fill(0x77));
    expect(regs.values).toEqual(before);
    expect(regs.metrics.invalidAccesses).toBe(1);
  });

  it('sees offsets from its base when mapped on a bus', () => {
    const regs = new Registers(8);
    const bus = new Bus('pio');
    bus.insert(new BytePortBusDevice(regs), 0x3f8, 8, 'com1');
    bus.write(0x3ff, Uint8Array.of(0x42));
    expect(regs.values[7]).toBe(0x42);
    bus.read(0x3fc, new Uint8Array(2));
    expect(regs.metrics.invalidAccesses).toBe(1);
  });
});
