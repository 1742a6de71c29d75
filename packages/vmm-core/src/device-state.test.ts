// The snapshot side of DeviceManager and the virtio wiring: which devices a snapshot covers, each
// state back to its device, and a refusal by name for a device without snapshot support.
import { FakeGuestMemory, FakeTap, MockVirtqueue, RecordingIrq, mmioInitialize } from '@workervisor/devices/testing';
import { VirtioNet, VirtioRng } from '@workervisor/devices';
import type { VmFd } from '@workervisor/native';
import { describe, expect, it } from 'vitest';
import { DeviceManager, type DeviceContext, type DeviceStateHooks } from './device-manager.js';
import type { Machine } from './machine.js';
import { takeSnapshot } from './snapshot/take.js';
import { Teardown } from './teardown.js';
import { virtioDevice } from './virtio-wiring.js';
import { netDevice, type OpenedNet } from './net-host.js';

function recorder(saved: unknown): DeviceStateHooks & { restored: unknown[] } {
  const restored: unknown[] = [];
  return { save: () => saved, restore: (s) => void restored.push(s), restored };
}

/** A DeviceContext with fake memory and interrupts, and a VM whose ioeventfds always fail (notifications arrive as exits). */
function context(mem: FakeGuestMemory): DeviceContext {
  const noIoeventfds = (): never => {
    throw new Error('no KVM here');
  };
  const vm = { registerIoeventfd: noIoeventfds } as unknown as VmFd;
  let slot = 0;
  return { vm, memory: mem, discard: mem, exit: { reset() {}, powerOff() {}, panic() {} }, irq: () => new RecordingIrq(), nextVirtioSlot: () => slot++ };
}

describe('DeviceManager snapshot state', () => {
  it('names the devices with neither state hooks nor stateless: true', () => {
    const devices = new DeviceManager(new Teardown());
    devices.register({ name: 'com1', ranges: [], gsis: [], state: recorder({}) });
    devices.register({ name: 'pvpanic', ranges: [], gsis: [], stateless: true });
    devices.register({ name: 'net0', ranges: [], gsis: [] });
    devices.register({ name: 'net1', ranges: [], gsis: [], state: recorder({}), snapshotRefusal: 'its tap was passed as a file descriptor' });
    expect(devices.unsnapshottable()).toEqual([
      { name: 'net0', reason: 'it has no snapshot state yet' },
      { name: 'net1', reason: 'its tap was passed as a file descriptor' },
    ]);
  });

  it('saves each stateful device under its name and hands each its own state back', () => {
    const devices = new DeviceManager(new Teardown());
    const com1 = recorder({ ier: 1 });
    const ged = recorder({ events: 2 });
    devices.register({ name: 'com1', ranges: [], gsis: [], state: com1 });
    devices.register({ name: 'port', ranges: [], gsis: [], stateless: true });
    devices.register({ name: 'acpi-ged', ranges: [], gsis: [], state: ged });
    const states = devices.saveStates();
    expect(states).toEqual({ com1: { ier: 1 }, 'acpi-ged': { events: 2 } });
    expect(devices.restoreStates(states)).toEqual([]);
    expect([com1.restored, ged.restored]).toEqual([[{ ier: 1 }], [{ events: 2 }]]);
  });

  it('restores nothing when a state is missing or belongs to no device, and says which', () => {
    const devices = new DeviceManager(new Teardown());
    const com1 = recorder({});
    devices.register({ name: 'com1', ranges: [], gsis: [], state: com1 });
    devices.register({ name: 'rng', ranges: [], gsis: [], state: recorder({}) });
    expect(devices.restoreStates({ com1: {}, disk9: {} })).toEqual(['the snapshot has state for disk9, which this VM does not have', 'the snapshot has no state for rng']);
    expect(com1.restored).toEqual([]);
  });
});

describe('virtio device snapshot state', () => {
  it('saves the transport with the device and brings a live device back live', () => {
    const mem = new FakeGuestMemory(0x10_0000);
    const a = virtioDevice(context(mem), 'rng', new VirtioRng({ name: 'rng' }));
    mmioInitialize(a.transport, [new MockVirtqueue(mem, { size: 8, ringBase: 0x1000 })]);
    const saved = JSON.parse(JSON.stringify(a.state!.save())) as { transport: { status: number }; device: unknown };
    expect(saved.transport.status).toBe(0x0f);
    const b = virtioDevice(context(mem), 'rng', new VirtioRng({ name: 'rng' }));
    b.state!.restore(saved);
    expect(b.transport.active).toBe(true);
    expect(() => b.state!.restore({ device: {} })).toThrow('rng: the snapshot state has no transport or device part');
  });

  it('gives virtio-net snapshot state, so a snapshot covers it', () => {
    const mem = new FakeGuestMemory(0x10_0000);
    const devices = new DeviceManager(new Teardown());
    devices.register(virtioDevice(context(mem), 'net0', new VirtioNet({ backend: new FakeTap(), mac: Uint8Array.of(2, 0, 0, 0, 0, 1), name: 'net0' })));
    expect(devices.unsnapshottable()).toEqual([]);
    expect(devices.saveStates()['net0']).toMatchObject({ device: { mac: '02:00:00:00:00:01', heldRx: [] } });
  });

  it('refuses a virtio-net whose tap was passed as a file descriptor (a restore reopens taps by name)', () => {
    const mem = new FakeGuestMemory(0x10_0000);
    const devices = new DeviceManager(new Teardown());
    const opened = (tap: OpenedNet['spec']['tap']): OpenedNet => ({ spec: { tap, mac: '02:00:00:00:00:01', queueSize: 16, offloads: { csum: true, tso: true, ufo: true } }, backend: new FakeTap() as unknown as OpenedNet['backend'] });
    const ctx = context(mem);
    devices.register(netDevice(ctx, opened({ kind: 'name', name: 'tap0' }), 0));
    devices.register(netDevice(ctx, opened({ kind: 'fd', fd: 99 }), 1));
    expect(devices.unsnapshottable()).toEqual([{ name: 'net1', reason: 'its tap was passed as a file descriptor, which a restore cannot reopen (name the tap instead)' }]);
  });

  it('makes vm.snapshot refuse by name, saying why, before it touches a vCPU or writes a file', async () => {
    const devices = new DeviceManager(new Teardown());
    devices.register({ name: 'net0', ranges: [], gsis: [], state: recorder({}), snapshotRefusal: 'its tap was passed as a file descriptor, which a restore cannot reopen (name the tap instead)' });
    devices.register({ name: 'fs0', ranges: [], gsis: [] });
    const machine = { parts: { devices }, vcpus: [] } as unknown as Machine;
    await expect(takeSnapshot(machine, {} as never, '0', '/nonexistent/never-written')).rejects.toMatchObject({
      code: 'ERR_VMM_SNAPSHOT_UNSUPPORTED_DEVICE',
      message: 'vm.snapshot is not supported for device net0: its tap was passed as a file descriptor, which a restore cannot reopen (name the tap instead); fs0: it has no snapshot state yet',
    });
  });
  it('quiesces the host-driven devices for the whole snapshot and lets them go on after, even when it fails', async () => {
    const events: string[] = [];
    const devices = new DeviceManager(new Teardown());
    devices.register({ name: 'net0', ranges: [], gsis: [], state: { ...recorder({}), quiesce: () => void events.push('quiesce'), unquiesce: () => void events.push('unquiesce') } });
    devices.register({ name: 'com1', ranges: [], gsis: [], state: recorder({}) });
    const vcpu = {
      saveSnapshot: async () => {
        events.push('vcpu save');
        throw new Error('vCPU 0 is running');
      },
    };
    const machine = { parts: { devices, kvm: { msrIndexList: () => [], checkExtension: () => 0 } }, vcpus: [vcpu] } as unknown as Machine;
    await expect(takeSnapshot(machine, {} as never, '0', '/nonexistent/never-written')).rejects.toThrow('vCPU 0 is running');
    expect(events).toEqual(['quiesce', 'vcpu save', 'unquiesce']);
  });
});
