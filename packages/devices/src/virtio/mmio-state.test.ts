// MmioTransport.save/restore: a live transport comes back live on the same queues and indices in a
// fresh transport, without an interrupt; malformed or mismatched states are refused by field.
import { describe, expect, it } from 'vitest';
import { FakeGuestMemory, MockVirtqueue, RecordingIrq, mmioInitialize, mmioRead32, mmioWrite32 } from '../testing/index.js';
import { VIRTIO_F_VERSION_1, VirtioError, type ActivateContext, type VirtioDevice } from './device.js';
import { MmioTransport } from './mmio.js';

/** A device that pops one chain per notification and records its activations. */
class PoppingDevice implements VirtioDevice {
  readonly type = 42;
  readonly name = 'pop';
  readonly queueMaxSizes = [8];
  readonly features = VIRTIO_F_VERSION_1 | 0b1n;
  ctx: ActivateContext | undefined;
  heads: number[] = [];
  resets = 0;
  readConfig(): void {}
  writeConfig(): void {}
  activate(ctx: ActivateContext): void {
    this.ctx = ctx;
  }
  reset(): void {
    this.resets++;
    this.ctx = undefined;
  }
  queueNotify(index: number): void {
    const q = this.ctx?.queues[index];
    const chain = q?.pop(this.ctx!.mem);
    if (q === undefined || chain === undefined) return;
    this.heads.push(chain.head);
    q.addUsed(this.ctx!.mem, chain.head, 0);
  }
}

function transportOn(mem: FakeGuestMemory): { transport: MmioTransport; device: PoppingDevice; irq: RecordingIrq } {
  const device = new PoppingDevice();
  const irq = new RecordingIrq();
  return { transport: new MmioTransport({ device, mem, irq }), device, irq };
}

describe('MmioTransport save/restore', () => {
  it('brings a live device back live, on the same queue, continuing at the saved ring indices', () => {
    const mem = new FakeGuestMemory(0x4_0000);
    const vq = new MockVirtqueue(mem, { size: 8, ringBase: 0x1000 });
    const a = transportOn(mem);
    mmioInitialize(a.transport, [vq], VIRTIO_F_VERSION_1 | 1n);
    vq.addChain([{ len: 16 }]);
    a.transport.queueNotify(0);
    vq.takeUsed();
    const state = JSON.parse(JSON.stringify(a.transport.save())) as ReturnType<MmioTransport['save']>;
    expect(state).toMatchObject({ status: 0x0f, driverFeatures: '0x100000001', queues: [{ ready: true, nextAvail: 1, nextUsed: 1 }] });

    const b = transportOn(mem);
    b.transport.restore(state);
    expect(b.transport.active).toBe(true);
    expect(b.device.ctx?.features).toBe(VIRTIO_F_VERSION_1 | 1n);
    expect(mmioRead32(b.transport, 0x70)).toBe(0x0f);
    expect(b.irq.count).toBe(0);
    // The guest's second request is the next one the restored queue sees (index 1, not 0 again).
    const second = vq.addChain([{ len: 16 }]);
    b.transport.queueNotify(0);
    expect(b.device.heads).toEqual([second.head]);
    expect(vq.takeUsed()).toHaveLength(1);
  });

  it('restores a device the driver had not finished setting up as inactive, registers kept', () => {
    const mem = new FakeGuestMemory(0x4_0000);
    const a = transportOn(mem);
    mmioWrite32(a.transport, 0x70, 1);
    mmioWrite32(a.transport, 0x70, 3);
    mmioWrite32(a.transport, 0x30, 0);
    const b = transportOn(mem);
    b.transport.restore(a.transport.save());
    expect(b.transport.active).toBe(false);
    expect(b.device.ctx).toBeUndefined();
    expect(mmioRead32(b.transport, 0x70)).toBe(3);
  });

  it.each([
    ['a non-object', 7, 'transport state must be an object'],
    ['a bad status', { status: -1 }, 'transport state field status must be a u32'],
    ['features the device does not offer', { driverFeatures: '0x100000002' }, 'are not all offered'],
    ['another number of queues', { queues: [] }, 'the state has 0 queues, the device 1'],
    ['a queue larger than its maximum', { queues: [{ size: 16, ready: true, descTable: 0, availRing: 0, usedRing: 0, nextAvail: 0, nextUsed: 0 }] }, 'queue 0 size 16 exceeds its maximum 8'],
    ['a ring index above u16', { queues: [{ size: 8, ready: true, descTable: 0, availRing: 0, usedRing: 0, nextAvail: 0x10000, nextUsed: 0 }] }, 'queue 0 field nextAvail must be a u16 ring index'],
  ])('refuses %s', (_what, patch, message) => {
    const mem = new FakeGuestMemory(0x4_0000);
    const { transport } = transportOn(mem);
    const state = typeof patch === 'object' ? { ...transport.save(), ...patch } : patch;
    expect(() => transport.restore(state as never)).toThrow(VirtioError);
    expect(() => transport.restore(state as never)).toThrow(message);
  });
});
