// The one shape every device is wired through (Firecracker's device_manager; Cloud Hypervisor's
// Aml trait for the ACPI part): a registration declares the device's bus ranges, GSIs, ACPI node,
// counters, snapshot hooks and teardown, and the DeviceManager puts it on the buses.
import diagnostics from 'node:diagnostics_channel';
import { Bus, type BusDevice, type GuestMemory, type IrqTrigger, type MemoryDiscard, type VmExitRequester } from '@workervisor/devices';
import type { VmFd } from '@workervisor/native';
import type { DeviceNode } from '@workervisor/schema';
import { AccessKind } from '@workervisor/vcpu-worker';
import type { Teardown, TeardownStep } from './teardown.js';

/** Publishes `{ kind, addr, size }` for each forwarded access, when someone listens. */
const accessChannel = diagnostics.channel('workervisor:vcpu:access');

/** A reset or power-off request from a device, plus a guest kernel panic (pvpanic). */
export interface GuestExitRequester extends VmExitRequester {
  panic(reason: string): void;
}

/** What a device factory may use while it creates its device (the builder provides it). */
export interface DeviceContext {
  /** The VM, for ioeventfds on the device's registers. */
  readonly vm: VmFd;
  /** Guest RAM, for DMA-capable devices (virtio). */
  readonly memory: GuestMemory;
  /** Gives guest RAM back to the host (the balloon's inflated pages). */
  readonly discard: MemoryDiscard;
  /** Where reset, power-off and panic requests go. */
  readonly exit: GuestExitRequester;
  /** An edge on `gsi` (a KVM irqfd); the machine closes it after the vCPUs and devices stop. */
  irq(gsi: number): IrqTrigger;
  /** Claims the next free virtio-mmio slot (layout.ts); throws RangeError when none is left. */
  nextVirtioSlot(): number;
}

/** One address range of a device on the PIO or MMIO bus (addresses from arch/x86_64/layout.ts). */
export interface BusRange {
  readonly bus: 'pio' | 'mmio';
  /** First port or guest-physical byte address. */
  readonly base: number;
  /** Length in ports or bytes. */
  readonly size: number;
  /** What answers accesses inside the range; it sees offsets from base. */
  readonly device: BusDevice;
  /** The bus entry's name in diagnostics; defaults to the registration's name. */
  readonly name?: string;
}

/** Snapshot hooks of a stateful device: a JSON-safe state out, the same state back in. */
export interface DeviceStateHooks {
  save(): unknown;
  restore(state: unknown): void;
  /**
   * For a device the host drives (a tap, a socket): stop touching guest RAM and raising
   * interrupts until unquiesce(), for the span of a snapshot (its vCPU states are saved first).
   */
  quiesce?(): void;
  unquiesce?(): void;
}

/** Everything the machine needs to know about one device. */
export interface DeviceRegistration {
  /** Its name: the vm.counters key (`com1`, `disk0`) and the default bus entry name. */
  readonly name: string;
  /** Where the guest reaches it; inserted on the buses by register(). */
  readonly ranges: readonly BusRange[];
  /** The GSIs (IOAPIC pins) it raises, through irqfds the factory took from its DeviceContext. */
  readonly gsis: readonly number[];
  /** Its AML Device() node inside the DSDT's \_SB_ scope, when the guest finds it through ACPI. */
  readonly acpi?: Uint8Array;
  /** Its counters for vm.counters (numbers only); without them it is not listed. */
  readonly counters?: () => Record<string, number>;
  /** Snapshot hooks (save/restore), for the devices that have state. */
  readonly state?: DeviceStateHooks;
  /**
   * True for a device with nothing to save (a stateless port, a counters-only entry). A device
   * with neither `state` nor `stateless` makes vm.snapshot refuse: never a silently wrong snapshot.
   */
  readonly stateless?: true;
  /**
   * Why this device cannot be snapshotted although its model can (a host end a restore could not
   * reopen); vm.snapshot refuses with it. Without it, a device with no `state` is refused as
   * having no snapshot state.
   */
  readonly snapshotRefusal?: string;
  /** What releases its host resources, in acquisition order (they run in reverse). */
  readonly teardown?: readonly TeardownStep[];
}

/** The numeric fields of a metrics object: a device's counters as vm.counters reports them. */
export function numericFields(metrics: object): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).filter((e): e is [string, number] => typeof e[1] === 'number'));
}

/** The PIO and MMIO buses, the registered devices in order, and the exit dispatch onto the buses. */
export class DeviceManager {
  readonly pio = new Bus('pio');
  readonly mmio = new Bus('mmio');
  private readonly registered: DeviceRegistration[] = [];

  constructor(private readonly teardown: Teardown) {}

  /**
   * Takes over a device: its teardown steps go on the machine's stack first (so a range that
   * does not fit still releases it), then its ranges go on the buses. Throws BusError on an
   * overlap.
   */
  register(reg: DeviceRegistration): void {
    for (const step of reg.teardown ?? []) this.teardown.push(`${reg.name}: ${step.name}`, step.run);
    for (const r of reg.ranges) (r.bus === 'pio' ? this.pio : this.mmio).insert(r.device, r.base, r.size, r.name ?? reg.name);
    this.registered.push(reg);
  }

  /** The registrations in registration order. */
  get devices(): readonly DeviceRegistration[] {
    return this.registered;
  }

  /** The devices a snapshot cannot cover (a `snapshotRefusal`, or neither `state` nor `stateless`), each with why. */
  unsnapshottable(): { name: string; reason: string }[] {
    return this.registered
      .filter((r) => r.snapshotRefusal !== undefined || (r.state === undefined && r.stateless !== true))
      .map((r) => ({ name: r.name, reason: r.snapshotRefusal ?? 'it has no snapshot state yet' }));
  }

  /** Quiesces every device that can be (DeviceStateHooks.quiesce) and returns what undoes it. */
  quiesce(): () => void {
    const quiesced = this.registered.flatMap((r) => (r.state?.quiesce === undefined ? [] : [r.state]));
    for (const s of quiesced) s.quiesce?.();
    return () => {
      for (const s of quiesced) s.unquiesce?.();
    };
  }

  /** name -> save() of every device with state, in registration order. Check unsnapshottable() first. */
  saveStates(): Record<string, unknown> {
    return Object.fromEntries(this.registered.flatMap((r) => (r.state === undefined ? [] : [[r.name, r.state.save()]])));
  }

  /**
   * Hands each device with state its entry of a saveStates() result. Returns the problems (a
   * device's state missing, or a state for no such device); the devices' own restore() throws
   * on a malformed state.
   */
  restoreStates(states: Record<string, unknown>): string[] {
    const problems: string[] = [];
    const names = new Set(this.registered.filter((r) => r.state !== undefined).map((r) => r.name));
    for (const name of Object.keys(states)) if (!names.has(name)) problems.push(`the snapshot has state for ${name}, which this VM does not have`);
    for (const r of this.registered) {
      if (r.state === undefined) continue;
      if (!Object.hasOwn(states, r.name)) problems.push(`the snapshot has no state for ${r.name}`);
    }
    if (problems.length > 0) return problems;
    for (const r of this.registered) r.state?.restore(states[r.name]);
    return [];
  }

  /** The ACPI nodes in registration order, for the DSDT. */
  acpiNodes(): Uint8Array[] {
    return this.registered.flatMap((r) => (r.acpi === undefined ? [] : [r.acpi]));
  }

  /** device -> counter -> value, in registration order (Cloud Hypervisor's vm.counters shape). */
  counters(): Record<string, Record<string, number>> {
    return Object.fromEntries(this.registered.flatMap((r) => (r.counters === undefined ? [] : [[r.name, r.counters()]])));
  }

  /**
   * Every device the guest can reach, by id, in Cloud Hypervisor's vm.info `device_tree` shape: its
   * resources as CH's Resource enum serializes them (`{ MmioAddressRange: { base, size } }`,
   * `{ PioAddressRange: { base, size } }`, `{ LegacyIrq: gsi }`) and no children (no PCI bus).
   * Registrations with neither ranges nor GSIs (the exit path's counters) are not devices.
   */
  deviceTree(): Record<string, DeviceNode> {
    const tree: Record<string, DeviceNode> = {};
    for (const r of this.registered) {
      if (r.ranges.length === 0 && r.gsis.length === 0) continue;
      const resources: Array<Record<string, unknown>> = [
        ...r.ranges.map((range) => ({ [range.bus === 'mmio' ? 'MmioAddressRange' : 'PioAddressRange']: { base: range.base, size: range.size } })),
        ...r.gsis.map((gsi) => ({ LegacyIrq: gsi })),
      ];
      tree[r.name] = { id: r.name, resources, children: [] };
    }
    return tree;
  }

  /** A forwarded vCPU access, onto the PIO or MMIO bus. */
  dispatch(kind: AccessKind, addr: number, data: Uint8Array): void {
    if (accessChannel.hasSubscribers) accessChannel.publish({ kind, addr, size: data.length });
    switch (kind) {
      case AccessKind.PioRead:
        this.pio.read(addr, data);
        break;
      case AccessKind.PioWrite:
        this.pio.write(addr, data);
        break;
      case AccessKind.MmioRead:
        this.mmio.read(addr, data);
        break;
      case AccessKind.MmioWrite:
        this.mmio.write(addr, data);
        break;
    }
  }
}
