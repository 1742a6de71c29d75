import diagnostics from 'node:diagnostics_channel';
import { AcpiGed, VirtioBalloon, type BusDevice } from '@workervisor/devices';
import { FakeGuestMemory, RecordingIrq } from '@workervisor/devices/testing';
import type { Kvm, VmFd } from '@workervisor/native';
import { AccessKind, type VcpuHandle } from '@workervisor/vcpu-worker';
import { describe, expect, it } from 'vitest';
import { DeviceManager, type DeviceRegistration } from './device-manager.js';
import { Machine, type GuestExit } from './machine.js';
import type { GuestMemoryMmap } from './memory.js';
import { Teardown } from './teardown.js';

/** Answers reads with `fill` and records every access. */
class RecordingDevice implements BusDevice {
  readonly accesses: string[] = [];
  constructor(private readonly fill: number) {}
  read(offset: number, data: Uint8Array): void {
    data.fill(this.fill);
    this.accesses.push(`read ${offset}/${data.length}`);
  }
  write(offset: number, data: Uint8Array): void {
    this.accesses.push(`write ${offset}=${[...data].join(',')}`);
  }
}

/** A machine over real buses and a real teardown, without KVM: no guest RAM, no vCPU threads. */
function testMachine(regs: DeviceRegistration[] = []): { machine: Machine; teardown: Teardown; devices: DeviceManager; gedIrq: RecordingIrq } {
  const teardown = new Teardown();
  const devices = new DeviceManager(teardown);
  for (const r of regs) devices.register(r);
  const gedIrq = new RecordingIrq();
  const machine = new Machine({
    kvm: {} as Kvm,
    vm: {} as VmFd,
    memory: { size: 0 } as GuestMemoryMmap,
    devices,
    ged: new AcpiGed({ irq: gedIrq }),
    acpi: { rsdpAddress: 0xe_0000, tables: [] },
    teardown,
  });
  return { machine, teardown, devices, gedIrq };
}

describe('Machine', () => {
  it('dispatches PIO accesses to the PIO bus and MMIO accesses to the MMIO bus', () => {
    const port = new RecordingDevice(0x11);
    const window = new RecordingDevice(0x22);
    const { machine } = testMachine([
      { name: 'port', ranges: [{ bus: 'pio', base: 0x1000, size: 4, device: port }], gsis: [] },
      { name: 'window', ranges: [{ bus: 'mmio', base: 0x1000, size: 0x100, device: window }], gsis: [] },
    ]);
    const pioData = new Uint8Array(1);
    machine.dispatch(AccessKind.PioRead, 0x1001, pioData);
    machine.dispatch(AccessKind.PioWrite, 0x1002, Uint8Array.of(7));
    const mmioData = new Uint8Array(4);
    machine.dispatch(AccessKind.MmioRead, 0x1010, mmioData);
    machine.dispatch(AccessKind.MmioWrite, 0x1020, Uint8Array.of(1, 2, 3, 4));
    expect(pioData[0]).toBe(0x11);
    expect(mmioData[0]).toBe(0x22);
    expect(port.accesses).toEqual(['read 1/1', 'write 2=7']);
    expect(window.accesses).toEqual(['read 16/4', 'write 32=1,2,3,4']);
  });

  it('counts an access to an address no device claims on that bus', () => {
    const { machine, devices } = testMachine([{ name: 'port', ranges: [{ bus: 'pio', base: 0x60, size: 1, device: new RecordingDevice(0) }], gsis: [] }]);
    const data = Uint8Array.of(0xff);
    machine.dispatch(AccessKind.MmioRead, 0x60, data);
    expect(data[0]).toBe(0);
    expect(devices.mmio.metrics.missedReads).toBe(1);
    expect(devices.pio.metrics.missedReads).toBe(0);
  });

  it('publishes each forwarded access on workervisor:vcpu:access', () => {
    const { machine } = testMachine();
    const seen: unknown[] = [];
    const listener = (m: unknown): void => void seen.push(m);
    diagnostics.subscribe('workervisor:vcpu:access', listener);
    machine.dispatch(AccessKind.PioWrite, 0x80, Uint8Array.of(1));
    diagnostics.unsubscribe('workervisor:vcpu:access', listener);
    expect(seen).toEqual([{ kind: AccessKind.PioWrite, addr: 0x80, size: 1 }]);
  });

  it('turns vCPU events into guest exits', () => {
    const { machine } = testMachine();
    const exits: GuestExit[] = [];
    machine.onGuestExit((e) => exits.push(e));
    machine.onVcpuEvent({ type: 'reset', id: 1, reason: 'triple fault' });
    machine.onVcpuEvent({ type: 'shutdown', id: 0, reason: 'hlt' });
    machine.onVcpuEvent({ type: 'finished', id: 0 });
    machine.onVcpuEvent({ type: 'failed', id: 0, error: { name: 'KvmError', code: 'ERR_VMM_INTERNAL', kind: 'internal', message: 'KVM_RUN failed' } });
    expect(exits.slice(0, 2)).toEqual([
      { kind: 'reset', reason: 'vcpu1: triple fault' },
      { kind: 'poweroff', reason: 'vcpu0: hlt' },
    ]);
    expect(exits[2]).toMatchObject({ kind: 'failed', error: { message: 'KVM_RUN failed' } });
    expect(exits).toHaveLength(3);
  });

  it('ignores a guest exit reported after close', async () => {
    const { machine } = testMachine();
    const exits: GuestExit[] = [];
    machine.onGuestExit((e) => exits.push(e));
    await machine.close();
    machine.guestExit({ kind: 'poweroff', reason: 'late' });
    machine.onVcpuEvent({ type: 'reset', id: 0, reason: 'late' });
    expect(exits).toEqual([]);
  });

  it('runs its teardown once on close, however often close is called', async () => {
    const ran: string[] = [];
    const { machine } = testMachine([
      { name: 'a', ranges: [], gsis: [], teardown: [{ name: 'host end', run: () => void ran.push('a') }] },
      { name: 'b', ranges: [], gsis: [], teardown: [{ name: 'host end', run: () => void ran.push('b') }] },
    ]);
    await Promise.all([machine.close(), machine.close()]);
    await machine.close();
    expect(ran).toEqual(['b', 'a']);
  });

  it('derives its counters from the registrations, in their order, live', () => {
    const metrics = { bytesOut: 1, name: 'not a number' };
    const { machine, devices } = testMachine([
      { name: 'com1', ranges: [], gsis: [], counters: () => ({ bytesOut: metrics.bytesOut }) },
      { name: 'silent', ranges: [], gsis: [] },
      { name: 'disk0', ranges: [], gsis: [], counters: () => ({ reads: 2 }) },
    ]);
    expect(machine.counters()).toEqual({ com1: { bytesOut: 1 }, disk0: { reads: 2 } });
    expect(Object.keys(machine.counters())).toEqual(['com1', 'disk0']);
    metrics.bytesOut = 5;
    devices.register({ name: 'rng', ranges: [], gsis: [], counters: () => ({ bytes: 3 }) });
    expect(machine.counters()).toEqual({ com1: { bytesOut: 5 }, disk0: { reads: 2 }, rng: { bytes: 3 } });
  });

  it("sets the balloon's target and reports its actual size, and says when there is no balloon", () => {
    const { machine } = testMachine();
    expect(machine.setBalloonTarget(4096)).toBe(false);
    expect(machine.balloonActualBytes()).toBe(0);
    const balloon = new VirtioBalloon({ discard: new FakeGuestMemory(4096) });
    const teardown = new Teardown();
    const withBalloon = new Machine({ kvm: {} as Kvm, vm: {} as VmFd, memory: { size: 0 } as GuestMemoryMmap, devices: new DeviceManager(teardown), ged: new AcpiGed({ irq: new RecordingIrq() }), acpi: { rsdpAddress: 0, tables: [] }, teardown, balloon });
    expect(withBalloon.setBalloonTarget(8 * 4096)).toBe(true);
    expect(balloon.targetPages).toBe(8);
    balloon.writeConfig(4, Uint8Array.of(3, 0, 0, 0));
    expect(withBalloon.balloonActualBytes()).toBe(3 * 4096);
  });

  it('presses the power button on the GED: its event bit and one interrupt', () => {
    const { machine, gedIrq } = testMachine();
    machine.powerButton();
    expect(gedIrq.total).toBe(1);
    expect(machine.parts.ged.metrics.powerButtonPresses).toBe(1);
  });

  it('resumes and pauses every vCPU', async () => {
    const { machine } = testMachine();
    const calls: string[] = [];
    for (const id of [0, 1]) {
      machine.vcpus.push({ resume: async () => void calls.push(`resume ${id}`), pause: async () => void calls.push(`pause ${id}`) } as unknown as VcpuHandle);
    }
    await machine.resume();
    await machine.pause();
    expect(calls).toEqual(['resume 0', 'resume 1', 'pause 0', 'pause 1']);
  });
});
