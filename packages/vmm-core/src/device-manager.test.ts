import type { BusDevice } from '@workervisor/devices';
import { describe, expect, it } from 'vitest';
import { DeviceManager, numericFields } from './device-manager.js';
import { Teardown } from './teardown.js';

const silent: BusDevice = { read: (_o, d) => d.fill(0), write: () => {} };

describe('DeviceManager', () => {
  it('puts each range on its bus under the device name or the range name', () => {
    const devices = new DeviceManager(new Teardown());
    devices.register({
      name: 'i8042',
      ranges: [
        { bus: 'pio', base: 0x60, size: 5, device: silent },
        { bus: 'mmio', base: 0xd000_0000, size: 0x1000, device: silent, name: 'virtio-i8042' },
      ],
      gsis: [1],
    });
    expect(devices.pio.ranges()).toEqual([{ base: 0x60, len: 5, name: 'i8042' }]);
    expect(devices.mmio.ranges()).toEqual([{ base: 0xd000_0000, len: 0x1000, name: 'virtio-i8042' }]);
    expect(devices.devices.map((d) => d.name)).toEqual(['i8042']);
  });

  it("pushes a device's teardown steps, named after it, to run in reverse of acquisition", () => {
    const teardown = new Teardown();
    const devices = new DeviceManager(teardown);
    devices.register({ name: 'com1', ranges: [], gsis: [4], teardown: [{ name: 'host output', run: () => {} }, { name: 'stdin', run: () => {} }] });
    devices.register({ name: 'console', ranges: [], gsis: [5], teardown: [{ name: 'host end', run: () => {} }, { name: 'virtio transport', run: () => {} }] });
    expect(teardown.pending).toEqual(['console: virtio transport', 'console: host end', 'com1: stdin', 'com1: host output']);
  });

  it('still releases a device whose range overlaps another and is refused', async () => {
    const teardown = new Teardown();
    const devices = new DeviceManager(teardown);
    devices.register({ name: 'com1', ranges: [{ bus: 'pio', base: 0x3f8, size: 8, device: silent }], gsis: [] });
    let released = false;
    expect(() =>
      devices.register({ name: 'clash', ranges: [{ bus: 'pio', base: 0x3fc, size: 1, device: silent }], gsis: [], teardown: [{ name: 'socket', run: () => void (released = true) }] }),
    ).toThrow(expect.objectContaining({ code: 'ERR_VMM_BUS_OVERLAP' }));
    expect(devices.devices.map((d) => d.name)).toEqual(['com1']);
    await teardown.run();
    expect(released).toBe(true);
  });

  it('gives the ACPI nodes in registration order, skipping devices without one', () => {
    const devices = new DeviceManager(new Teardown());
    devices.register({ name: 'a', ranges: [], gsis: [], acpi: Uint8Array.of(1) });
    devices.register({ name: 'b', ranges: [], gsis: [] });
    devices.register({ name: 'c', ranges: [], gsis: [], acpi: Uint8Array.of(3) });
    expect(devices.acpiNodes()).toEqual([Uint8Array.of(1), Uint8Array.of(3)]);
  });

  it("lists every device the guest reaches by id with its ranges and GSIs, in Cloud Hypervisor's device_tree shape", () => {
    const devices = new DeviceManager(new Teardown());
    devices.register({ name: 'com1', ranges: [{ bus: 'pio', base: 0x3f8, size: 8, device: silent }], gsis: [4] });
    devices.register({ name: 'exit-mailbox', ranges: [], gsis: [] });
    devices.register({ name: 'balloon', ranges: [{ bus: 'mmio', base: 0xd000_1000, size: 0x1000, device: silent, name: 'virtio-balloon' }], gsis: [6] });
    expect(devices.deviceTree()).toEqual({
      com1: { id: 'com1', resources: [{ PioAddressRange: { base: 0x3f8, size: 8 } }, { LegacyIrq: 4 }], children: [] },
      balloon: { id: 'balloon', resources: [{ MmioAddressRange: { base: 0xd000_1000, size: 0x1000 } }, { LegacyIrq: 6 }], children: [] },
    });
  });

  it('reports the numeric fields of a metrics object only', () => {
    expect(numericFields({ bytesOut: 3, name: 'com1', errors: 0, nested: { a: 1 } })).toEqual({ bytesOut: 3, errors: 0 });
  });
});
