import { describe, expect, it } from 'vitest';
import { FakeGuestMemory, MockVirtqueue, RecordingIrq, mmioInitialize, mmioRead32, mmioWrite32 } from '../testing/index.js';
import { VIRTIO_F_RING_EVENT_IDX, VIRTIO_F_VERSION_1, type ActivateContext, type VirtioDevice } from './device.js';
import { MmioTransport } from './mmio.js';

/** A device that records what the transport asks of it. */
class FakeDevice implements VirtioDevice {
  readonly type = 42;
  readonly name = 'fake';
  readonly queueMaxSizes = [8, 4];
  readonly config = Uint8Array.from({ length: 8 }, (_, i) => 0xa0 + i);
  features = VIRTIO_F_VERSION_1 | VIRTIO_F_RING_EVENT_IDX | 0b101n;
  activations: ActivateContext[] = [];
  resets = 0;
  notified: number[] = [];
  configWrites: Array<[number, number[]]> = [];
  failActivate = false;
  failNotify = false;

  readConfig(offset: number, data: Uint8Array): void {
    data.set(this.config.subarray(offset, offset + data.length));
  }
  writeConfig(offset: number, data: Uint8Array): void {
    this.configWrites.push([offset, [...data]]);
  }
  activate(ctx: ActivateContext): void {
    if (this.failActivate) throw new Error('no backend');
    this.activations.push(ctx);
  }
  reset(): void {
    this.resets++;
  }
  queueNotify(index: number): void {
    if (this.failNotify) throw new Error('boom');
    this.notified.push(index);
  }
}

function setup() {
  const mem = new FakeGuestMemory(0x4_0000);
  const device = new FakeDevice();
  const irq = new RecordingIrq();
  const transport = new MmioTransport({ device, mem, irq });
  const queues = [new MockVirtqueue(mem, { size: 8, ringBase: 0x1000 }), new MockVirtqueue(mem, { size: 4, ringBase: 0x2000 })];
  return { mem, device, irq, transport, queues };
}

describe('MmioTransport', () => {
  it('identifies itself as a version 2 virtio-mmio device', () => {
    const { transport } = setup();
    expect(mmioRead32(transport, 0x000)).toBe(0x74726976);
    expect(mmioRead32(transport, 0x004)).toBe(2);
    expect(mmioRead32(transport, 0x008)).toBe(42);
    expect(mmioRead32(transport, 0x00c)).toBe(0);
  });

  it('exposes the 64 feature bits through DeviceFeaturesSel', () => {
    const { transport } = setup();
    mmioWrite32(transport, 0x14, 0);
    expect(mmioRead32(transport, 0x10)).toBe(0x2000_0005);
    mmioWrite32(transport, 0x14, 1);
    expect(mmioRead32(transport, 0x10)).toBe(1);
    mmioWrite32(transport, 0x14, 2);
    expect(mmioRead32(transport, 0x10)).toBe(0);
  });

  it('activates the device after the full handshake with the negotiated features and queues', () => {
    const { transport, device, queues } = setup();
    const status = mmioInitialize(transport, queues, VIRTIO_F_VERSION_1 | 0b1n);
    expect(status).toBe(0x0f);
    expect(transport.active).toBe(true);
    expect(device.activations).toHaveLength(1);
    const ctx = device.activations[0] as ActivateContext;
    expect(ctx.features).toBe(VIRTIO_F_VERSION_1 | 1n);
    expect(ctx.queues.map((q) => [q.size, q.descTable, q.availRing, q.usedRing, q.ready])).toEqual(queues.map((q) => [q.size, q.descTable, q.availRing, q.usedRing, true]));
    expect(ctx.queues[0]?.eventIdx).toBe(false);
  });

  it('turns on EVENT_IDX in the queues when negotiated', () => {
    const { transport, device, queues } = setup();
    mmioInitialize(transport, queues);
    expect(device.activations[0]?.queues[1]?.eventIdx).toBe(true);
  });

  it('reports the queue sizes and reads back queue registers', () => {
    const { transport } = setup();
    mmioWrite32(transport, 0x30, 1);
    expect(mmioRead32(transport, 0x34)).toBe(4);
    mmioWrite32(transport, 0x30, 7);
    expect(mmioRead32(transport, 0x34)).toBe(0);
  });

  it('refuses FEATURES_OK without VIRTIO_F_VERSION_1', () => {
    const { transport, device, queues } = setup();
    const status = mmioInitialize(transport, queues, 0b1n);
    expect(status & 8).toBe(0);
    expect(transport.metrics.rejectedFeatures).toBe(1);
    expect(device.activations).toHaveLength(0);
  });

  it('refuses FEATURES_OK when the driver accepts a feature that was not offered', () => {
    const { transport, queues } = setup();
    expect(mmioInitialize(transport, queues, VIRTIO_F_VERSION_1 | 0b10n) & 8).toBe(0);
  });

  it('ignores feature and queue writes outside their handshake step', () => {
    const { transport, device, queues } = setup();
    mmioWrite32(transport, 0x20, 1); // before DRIVER
    mmioWrite32(transport, 0x38, 2); // before FEATURES_OK
    expect(transport.metrics.ignoredWrites).toBe(2);
    mmioInitialize(transport, queues);
    mmioWrite32(transport, 0x30, 0);
    mmioWrite32(transport, 0x80, 0x8000); // after DRIVER_OK
    expect(device.activations[0]?.queues[0]?.descTable).toBe(0x1000);
    expect(transport.metrics.ignoredWrites).toBe(3);
  });

  it('ignores status writes that skip a step or clear bits', () => {
    const { transport } = setup();
    mmioWrite32(transport, 0x70, 1);
    mmioWrite32(transport, 0x70, 1 | 8); // FEATURES_OK without DRIVER
    expect(mmioRead32(transport, 0x70)).toBe(1);
    mmioWrite32(transport, 0x70, 1 | 2);
    mmioWrite32(transport, 0x70, 2); // clears ACKNOWLEDGE
    expect(mmioRead32(transport, 0x70)).toBe(3);
    expect(transport.metrics.badStatusWrites).toBe(2);
    mmioWrite32(transport, 0x70, 3 | 128);
    expect(mmioRead32(transport, 0x70)).toBe(0x83);
  });

  it('resets everything when 0 is written to Status', () => {
    const { transport, device, queues } = setup();
    mmioInitialize(transport, queues);
    transport.queueNotify(0);
    mmioWrite32(transport, 0x70, 0);
    expect(mmioRead32(transport, 0x70)).toBe(0);
    expect(transport.active).toBe(false);
    expect(device.resets).toBeGreaterThanOrEqual(2); // mmioInitialize resets first
    mmioWrite32(transport, 0x30, 0);
    expect(mmioRead32(transport, 0x44)).toBe(0);
    expect(mmioRead32(transport, 0x80)).toBe(0);
    expect(mmioRead32(transport, 0x38)).toBe(8);
    expect(mmioRead32(transport, 0x60)).toBe(0);
  });

  it('sets DEVICE_NEEDS_RESET and raises a config interrupt when a ready queue is outside RAM', () => {
    const { transport, device, irq, mem } = setup();
    const bad = new MockVirtqueue(mem, { size: 8, ringBase: 0x3_ffc0 });
    const status = mmioInitialize(transport, [bad]);
    expect(status & 0x40).toBe(0x40);
    expect(device.activations).toHaveLength(0);
    expect(transport.metrics.activationFailures).toBe(1);
    expect(irq.take()).toBe(1);
    expect(mmioRead32(transport, 0x60)).toBe(2);
    expect(mmioRead32(transport, 0xfc)).toBe(1);
  });

  it('sets DEVICE_NEEDS_RESET when the device cannot activate', () => {
    const { transport, device, queues } = setup();
    device.failActivate = true;
    expect(mmioInitialize(transport, queues) & 0x40).toBe(0x40);
    expect(transport.active).toBe(false);
  });

  it('passes queue notifications to an active device only', () => {
    const { transport, device, queues } = setup();
    mmioWrite32(transport, 0x50, 0);
    expect(device.notified).toEqual([]);
    mmioInitialize(transport, queues);
    mmioWrite32(transport, 0x50, 1);
    transport.queueNotify(0);
    transport.queueNotify(5);
    expect(device.notified).toEqual([1, 0]);
    expect(transport.metrics.queueNotifications).toBe(2);
    expect(transport.metrics.ignoredNotifications).toBe(2);
  });

  it('serves buffers made available before DRIVER_OK once the device is activated', () => {
    const { transport, device, queues } = setup();
    queues[1]!.addChain([{ addr: 0x8000, len: 16, writable: true }]);
    transport.queueNotify(1); // as Linux's virtio_balloon kicks its stats queue before DRIVER_OK
    expect(device.notified).toEqual([]);
    mmioInitialize(transport, queues);
    expect(device.notified, 'queue 1 had a buffer, queue 0 none').toEqual([1]);
  });

  it('contains a device exception in the notify path', () => {
    const { transport, device, queues } = setup();
    mmioInitialize(transport, queues);
    device.failNotify = true;
    expect(() => mmioWrite32(transport, 0x50, 0)).not.toThrow();
    expect(mmioRead32(transport, 0x70) & 0x40).toBe(0x40);
  });

  it('sets and acknowledges interrupt status bits', () => {
    const { transport, device, irq, queues } = setup();
    mmioInitialize(transport, queues);
    device.activations[0]?.interrupt.signalUsedQueue(0);
    device.activations[0]?.interrupt.signalConfigChange();
    expect(irq.take()).toBe(2);
    expect(mmioRead32(transport, 0x60)).toBe(3);
    expect(mmioRead32(transport, 0xfc)).toBe(1);
    mmioWrite32(transport, 0x64, 1);
    expect(mmioRead32(transport, 0x60)).toBe(2);
  });

  it('reads and writes config space at any width', () => {
    const { transport, device } = setup();
    const one = new Uint8Array(1);
    transport.read(0x103, one);
    expect(one[0]).toBe(0xa3);
    const two = new Uint8Array(2);
    transport.read(0x104, two);
    expect([...two]).toEqual([0xa4, 0xa5]);
    transport.write(0x101, Uint8Array.of(7, 8));
    expect(device.configWrites).toEqual([[1, [7, 8]]]);
  });

  it('ignores register accesses that are not aligned 4-byte ones', () => {
    const { transport } = setup();
    const two = Uint8Array.of(0xff, 0xff);
    transport.read(0x000, two);
    expect([...two]).toEqual([0, 0]);
    const four = new Uint8Array(4);
    transport.read(0x002, four);
    expect([...four]).toEqual([0, 0, 0, 0]);
    transport.write(0x070, Uint8Array.of(1));
    expect(mmioRead32(transport, 0x70)).toBe(0);
    const eight = new Uint8Array(8);
    transport.read(0x010, eight);
    expect(transport.metrics.invalidAccesses).toBe(4);
  });

  it('reads 0 from unknown registers and says there is no shared memory', () => {
    const { transport } = setup();
    expect(mmioRead32(transport, 0x0c0)).toBe(0);
    mmioWrite32(transport, 0x0c8, 1);
    expect(transport.metrics.unknownRegisters).toBe(2);
    expect(mmioRead32(transport, 0x0b0)).toBe(0xffff_ffff);
    expect(mmioRead32(transport, 0x0b4)).toBe(0xffff_ffff);
  });

  it('refuses a device that does not offer VIRTIO_F_VERSION_1', () => {
    const device = new FakeDevice();
    device.features = 1n;
    expect(() => new MmioTransport({ device, mem: new FakeGuestMemory(0x1000), irq: new RecordingIrq() })).toThrow(RangeError);
  });
});
