// Machine: a built, wired VM — guest RAM, buses, devices, vCPU workers — the exit dispatch between
// them and the one teardown that releases it all. builder.ts creates it; controller.ts drives it.
import type { AcpiGed, VirtioBalloon } from '@workervisor/devices';
import { createLogger, fromErrorData } from '@workervisor/base';
import type { Kvm, VmFd } from '@workervisor/native';
import type { AccessKind, VcpuEvent, VcpuHandle, VcpuStats } from '@workervisor/vcpu-worker';
import type { AcpiTables } from './arch/x86_64/acpi/index.js';
import type { DeviceNode } from '@workervisor/schema';
import type { DeviceManager } from './device-manager.js';
import type { GuestMemoryMmap } from './memory.js';
import type { Teardown } from './teardown.js';

const log = createLogger('machine');

/** Why the guest wants the VM to end. */
export type GuestExit =
  | { kind: 'reset'; reason: string }
  | { kind: 'poweroff'; reason: string }
  | { kind: 'panic'; reason: string }
  | { kind: 'failed'; error: Error };

export interface MachineParts {
  /** /dev/kvm and the VM fd (snapshots read the MSR list, CPUID and VM state through them). */
  readonly kvm: Kvm;
  readonly vm: VmFd;
  readonly memory: GuestMemoryMmap;
  /** The buses and every registered device (counters, ACPI nodes, snapshot hooks). */
  readonly devices: DeviceManager;
  /** The ACPI Generic Event Device behind the power button. */
  readonly ged: AcpiGed;
  readonly acpi: AcpiTables;
  /** Every release step of the machine, in order (builder.ts pushes them as it acquires). */
  readonly teardown: Teardown;
  /** The virtio-balloon, when the VM has one (vm.resize's desired_balloon sets its target). */
  readonly balloon?: VirtioBalloon;
}

export class Machine {
  readonly vcpus: VcpuHandle[] = [];
  private closed = false;
  private exitHandler: (exit: GuestExit) => void = () => {};

  constructor(readonly parts: MachineParts) {}

  /** Sets who hears the guest's reset/poweroff/failure (the controller). */
  onGuestExit(handler: (exit: GuestExit) => void): void {
    this.exitHandler = handler;
  }

  /** Reports a guest exit from a device or a vCPU. */
  guestExit(exit: GuestExit): void {
    if (this.closed) return;
    this.exitHandler(exit);
  }

  /** The core's side of a forwarded access: the PIO or MMIO bus. */
  dispatch(kind: AccessKind, addr: number, data: Uint8Array): void {
    this.parts.devices.dispatch(kind, addr, data);
  }

  /** What a vCPU worker reports on its own. */
  onVcpuEvent(event: VcpuEvent): void {
    switch (event.type) {
      case 'reset':
        this.guestExit({ kind: 'reset', reason: `vcpu${event.id}: ${event.reason}` });
        break;
      case 'shutdown':
        this.guestExit({ kind: 'poweroff', reason: `vcpu${event.id}: ${event.reason}` });
        break;
      case 'failed':
        this.guestExit({ kind: 'failed', error: fromErrorData(event.error) });
        break;
      case 'finished':
        log.debug(`vCPU ${event.id} finished`);
        break;
    }
  }

  /**
   * Presses the ACPI power button: the GED raises its interrupt and the guest's ACPI decides
   * (Linux: button driver -> KEY_POWER -> whoever listens powers off through the FADT). A paused
   * guest sees the interrupt when it resumes; a guest without ACPI never reads the event.
   */
  powerButton(): void {
    this.parts.ged.powerButton();
  }

  async resume(): Promise<void> {
    await Promise.all(this.vcpus.map((v) => v.resume()));
  }

  async pause(): Promise<void> {
    await Promise.all(this.vcpus.map((v) => v.pause()));
  }

  async vcpuStats(): Promise<VcpuStats[]> {
    return Promise.all(this.vcpus.map((v) => v.stats()));
  }

  /**
   * Sets the balloon's target to `bytes` (whole 4 KiB pages); the guest's driver inflates or
   * deflates towards it. Returns false when the VM has no balloon.
   */
  setBalloonTarget(bytes: number): boolean {
    if (this.parts.balloon === undefined) return false;
    this.parts.balloon.setTarget(bytes);
    return true;
  }

  /** The balloon's size as the guest's driver last reported it (`actual`), in bytes; 0 without one. */
  balloonActualBytes(): number {
    return (this.parts.balloon?.actual ?? 0) * 4096;
  }

  /** Every device with its id and resources (vm.info's device_tree). */
  deviceTree(): Record<string, DeviceNode> {
    return this.parts.devices.deviceTree();
  }

  /** Per-device counters, Cloud Hypervisor's vm.counters shape: device -> counter -> value. */
  counters(): Record<string, Record<string, number>> {
    return this.parts.devices.counters();
  }

  /** Stops every vCPU and releases every host resource (the teardown stack). Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await this.parts.teardown.run();
  }
}
