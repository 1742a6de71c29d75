// Machine: a built, wired VM — KVM fds, guest RAM, buses, devices, vCPU workers — and the exit
// dispatch between them. builder.ts creates it; controller.ts drives its lifecycle.
import diagnostics from 'node:diagnostics_channel';
import type { AcpiGed, Bus, I8042, Serial, DebugPort, BootTimer } from '@workervisor/devices';
import { createLogger, fromErrorData } from '@workervisor/base';
import type { EventFd, FdWatcher, Kvm, VmFd } from '@workervisor/native';
import { AccessKind, type MailboxServer, type VcpuEvent, type VcpuHandle, type VcpuStats } from '@workervisor/vcpu-worker';
import type { GuestMemoryMmap } from './memory.js';
import type { LoadedKernel } from './loader/kernel.js';
import type { AcpiTables } from './arch/x86_64/acpi/index.js';
import { virtioCounters, type VirtioSlot } from './virtio-wiring.js';

const log = createLogger('machine');
const accessChannel = diagnostics.channel('workervisor:vcpu:access');

/** Why the guest wants the VM to end. */
export type GuestExit =
  | { kind: 'reset'; reason: string }
  | { kind: 'poweroff'; reason: string }
  | { kind: 'panic'; reason: string }
  | { kind: 'failed'; error: Error };

export interface MachineParts {
  kvm: Kvm;
  vm: VmFd;
  memory: GuestMemoryMmap;
  pio: Bus;
  mmio: Bus;
  serial: Serial;
  i8042: I8042;
  debugPort: DebugPort;
  bootTimer: BootTimer;
  /** The ACPI Generic Event Device behind the power button. */
  ged: AcpiGed;
  kernel: LoadedKernel;
  acpi: AcpiTables;
  /** Virtio devices in slot order; their eventfds, watchers and files are released by a cleanup. */
  virtio: readonly VirtioSlot[];
  irqFds: EventFd[];
  doorbell: EventFd;
  doorbellWatcher: FdWatcher;
  mailboxes: MailboxServer;
  /** Undo hooks for host-side resources (stdin listeners, files), run at teardown. */
  cleanups: Array<() => void>;
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
    if (accessChannel.hasSubscribers) accessChannel.publish({ kind, addr, size: data.length });
    switch (kind) {
      case AccessKind.PioRead:
        this.parts.pio.read(addr, data);
        break;
      case AccessKind.PioWrite:
        this.parts.pio.write(addr, data);
        break;
      case AccessKind.MmioRead:
        this.parts.mmio.read(addr, data);
        break;
      case AccessKind.MmioWrite:
        this.parts.mmio.write(addr, data);
        break;
    }
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

  /** Per-device counters, Cloud Hypervisor's vm.counters shape: device -> counter -> value. */
  counters(): Record<string, Record<string, number>> {
    const p = this.parts;
    const numeric = (o: object): Record<string, number> =>
      Object.fromEntries(Object.entries(o).filter((e): e is [string, number] => typeof e[1] === 'number'));
    return {
      com1: numeric(p.serial.metrics),
      i8042: numeric(p.i8042.metrics),
      'debug-port': numeric(p.debugPort.metrics),
      'acpi-ged': numeric(p.ged.metrics),
      'pio-bus': numeric(p.pio.metrics),
      'mmio-bus': numeric(p.mmio.metrics),
      'exit-mailbox': { served: p.mailboxes.served },
      ...Object.fromEntries(p.virtio.map((s) => [s.name, virtioCounters(s)])),
    };
  }

  /** Stops every vCPU and releases every host resource. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const p = this.parts;
    // Release vCPUs blocked on a forwarded access first, then stop them (sticky native stop).
    p.mailboxes.close();
    await Promise.all(this.vcpus.map((v) => v.stop()));
    p.doorbellWatcher.stop();
    p.doorbell.close();
    for (const fd of p.irqFds) fd.close();
    for (const c of p.cleanups) c();
    p.vm.close();
    p.kvm.close();
    p.memory.release();
  }
}
