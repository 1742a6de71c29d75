// The one wiring function (Firecracker's builder.rs): guest RAM, host inputs, KVM, the exit path,
// devices, ACPI, vCPU workers, kernel — a straight line of named steps. Each step pushes what
// releases it on the machine's one teardown stack, so a failed build and Machine.close unwind the
// same steps in the same (reverse) order. Returns a Machine ready to resume().
import { constants as bufferConstants } from 'node:buffer';
import type { IrqTrigger } from '@workervisor/devices';
import { createLogger, readHostFile, VmmError } from '@workervisor/base';
import type { ErrorKind } from '@workervisor/base';
import { EventFd, Kvm, stopAllVcpus, type VmFd } from '@workervisor/native';
import { ExitServer, VcpuHandle, type VcpuState } from '@workervisor/vcpu-worker';
import { createAcpiTables } from './arch/x86_64/acpi/index.js';
import { writeBootParams } from './arch/x86_64/boot-params.js';
import { patchCpuid } from './arch/x86_64/cpuid.js';
import { defaultFpu } from './arch/x86_64/fpu.js';
import { withLintDeliveryModes } from './arch/x86_64/lapic.js';
import * as L from './arch/x86_64/layout.js';
import { guestMemoryMap } from './arch/x86_64/memory-map.js';
import { bootMsrEntries } from './arch/x86_64/msr.js';
import { bootCpuState } from './arch/x86_64/regs.js';
import { writeStartInfo } from './arch/x86_64/start-info.js';
import { consoleDevice } from './console-host.js';
import { DeviceManager, numericFields, type DeviceContext, type DeviceRegistration, type GuestExitRequester } from './device-manager.js';
import { DiskLockError } from './disk-lock.js';
import { acpiGed, acpiShutdown, bootTimer, com1, debugPort, i8042, pvpanic } from './legacy-devices.js';
import { writeCmdline } from './loader/cmdline.js';
import { loadInitramfs } from './loader/initramfs.js';
import { loadKernel, type LoadedKernel } from './loader/kernel.js';
import { Machine } from './machine.js';
import type { MachineConfig } from './machine-config.js';
import { GuestMemoryMmap } from './memory.js';
import { netDevice, openNets, type OpenedNet } from './net-host.js';
import { Teardown } from './teardown.js';
import { balloonDevice } from './balloon-wiring.js';
import { blockDevice, openDisks, rngDevice } from './virtio-wiring.js';
import { vsockDevice } from './vsock-host.js';

export type { GuestExitRequester } from './device-manager.js';

const log = createLogger('builder');
/** Node's largest Buffer: the hard cap on a kernel or initramfs, whatever the guest's RAM. */
const BUFFER_MAX_LENGTH = bufferConstants.MAX_LENGTH;

export type BuildErrorKind = ErrorKind<'BUILD'>;

export class BuildError extends VmmError<'BUILD'> {
  constructor(kind: BuildErrorKind, message: string, options?: { cause?: unknown }) {
    super('BUILD', kind, message, options);
  }
}

let exitHookInstalled = false;

/** Whatever happens to the process, no thread may stay inside KVM_RUN (DESIGN.md "Threads"). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => stopAllVcpus());
}

/**
 * Reads the kernel or initramfs: a regular file no larger than guest RAM (neither can be loaded
 * otherwise), refused by name before any byte is read when it is a FIFO, a device or a /proc
 * file (readHostFile; HostFileError's code marks it a config error for the API).
 */
function readInput(path: string, what: 'kernel' | 'initramfs', memoryBytes: number): Uint8Array {
  const ram = memoryBytes <= BUFFER_MAX_LENGTH;
  return readHostFile(path, { what, maxBytes: ram ? memoryBytes : BUFFER_MAX_LENGTH, limit: ram ? 'guest RAM' : "Node's largest Buffer" });
}

function openInputDisks(disks: NonNullable<MachineConfig['disks']>): ReturnType<typeof openDisks> {
  try {
    return openDisks(disks);
  } catch (err) {
    // Its message names the image and the holder already; the API passes it on as a 400.
    if (err instanceof DiskLockError) throw err;
    throw new BuildError('disk-unreadable', 'cannot open a disk image', { cause: err });
  }
}

function openInputNets(nets: NonNullable<MachineConfig['nets']>): OpenedNet[] {
  try {
    return openNets(nets);
  } catch (err) {
    throw new BuildError('net-unavailable', `cannot open a tap: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** An edge on a GSI through KVM_IRQFD: one eventfd write per interrupt, no ioctl. */
function irqfdTrigger(vm: VmFd, gsi: number, fds: EventFd[]): IrqTrigger {
  const fd = new EventFd();
  fds.push(fd);
  vm.registerIrqfd(fd.fd, gsi);
  return { trigger: () => fd.write(1) };
}

/** Hands out virtio-mmio slots 0, 1, ... VIRTIO_MMIO_SLOTS - 1 in registration order. */
function virtioSlots(): () => number {
  let next = 0;
  return () => {
    if (next >= L.VIRTIO_MMIO_SLOTS) throw new RangeError(`more than ${L.VIRTIO_MMIO_SLOTS} virtio devices do not fit the virtio-mmio slots`);
    return next++;
  };
}

/** The exit path's counters, reported like a device's (vm.counters has always listed them). */
function exitPathCounters(devices: DeviceManager, exits: ExitServer): DeviceRegistration[] {
  return [
    { name: 'pio-bus', ranges: [], gsis: [], stateless: true, counters: () => numericFields(devices.pio.metrics) },
    { name: 'mmio-bus', ranges: [], gsis: [], stateless: true, counters: () => numericFields(devices.mmio.metrics) },
    { name: 'exit-mailbox', ranges: [], gsis: [], stateless: true, counters: () => ({ served: exits.served, failures: exits.failures }) },
  ];
}

/**
 * Builds the machine for `config`. Guest exits reach `exit` (reset, poweroff, panic). When a step
 * fails, everything acquired so far is released (the machine's teardown) before the error is thrown.
 */
export async function buildMachine(config: MachineConfig, exit: GuestExitRequester): Promise<Machine> {
  // 1. Inputs first: a bad path fails before anything is acquired.
  const kernelBytes = readInput(config.kernel, 'kernel', config.memoryBytes);
  const initramfsBytes = config.initramfs === undefined ? undefined : readInput(config.initramfs, 'initramfs', config.memoryBytes);
  return wireMachine(config, exit, {
    memory: () => GuestMemoryMmap.allocate(config.memoryBytes),
    writeTables: true,
    start: (m) => bootVcpus(config, m, { kernelBytes, initramfsBytes }),
  });
}

/** What differs between a boot and a snapshot restore: where guest RAM and the vCPUs' state come from. */
export interface MachineSource {
  /** Guest RAM: fresh, or a snapshot's memory file. */
  memory(): GuestMemoryMmap;
  /** Whether the ACPI tables are written into guest RAM (a restored guest's RAM holds them). */
  writeTables: boolean;
  /** The last step, once every device and vCPU worker exists: load the kernel, or restore state. */
  start(machine: Machine): Promise<void>;
}

/**
 * Wires a machine for `config` from `source` (buildMachine's steps 2-8, then source.start). When a
 * step fails, everything acquired so far is released before the error is thrown.
 */
export async function wireMachine(config: MachineConfig, exit: GuestExitRequester, source: MachineSource): Promise<Machine> {
  installExitHook();
  const teardown = new Teardown();
  try {
    const machine = await wire(config, exit, source, teardown);
    await source.start(machine);
    return machine;
  } catch (err) {
    await teardown.run();
    throw err;
  }
}

interface BuildInputs {
  kernelBytes: Uint8Array;
  initramfsBytes: Uint8Array | undefined;
}

/*
 * The teardown order follows from the push order below (last pushed runs first):
 *   vcpus           release vCPUs blocked on a forwarded access, then stop them (sticky native stop)
 *   devices         virtio devices reset (no guest-RAM access, no tap watcher), then their host ends
 *                   (sockets, stdin, files), then the legacy devices' host ends
 *   exit hub        after the vCPUs that forward through it
 *   irqfds          after the vCPUs and devices: a device may raise an interrupt while the stop is
 *                   awaited, and must not write to a closed, maybe reused, fd number
 *   vm, kvm
 *   taps, disks     after the devices using them are reset
 *   guest RAM       last, after the VM fd that maps it is closed
 */
async function wire(config: MachineConfig, exit: GuestExitRequester, source: MachineSource, teardown: Teardown): Promise<Machine> {
  // 2. Guest RAM: one SharedArrayBuffer (one KVM slot per region below). Acquired first so that
  //    it is released last, after the VM fd that maps it.
  const memory = source.memory();
  teardown.push('guest RAM', () => memory.release());

  // 3. Disk images and taps before any KVM resource, so a bad path or tap fails early.
  const disks = config.disks ?? [];
  const diskBackends = openInputDisks(disks);
  teardown.push('disk images', () => diskBackends.forEach((b) => b.close()));
  const nets = openInputNets(config.nets ?? []);
  teardown.push('taps', () => nets.forEach((n) => n.backend.close()));

  // 4. KVM and the VM, with the x86 pieces KVM wants before any vCPU exists.
  const kvm = Kvm.open();
  teardown.push('kvm', () => kvm.close());
  const vm = kvm.createVm();
  teardown.push('vm', () => vm.close());
  vm.setTssAddr(L.KVM_TSS_ADDRESS);
  vm.setIdentityMapAddr(L.KVM_IDENTITY_MAP_ADDRESS);
  vm.createIrqchip();
  vm.createPit2();
  memory.regions.forEach((r, slot) => vm.setUserMemoryRegion(slot, r.gpa, memory.buffer, r.offset, r.size));
  const irqFds: EventFd[] = [];
  teardown.push('irqfds', () => irqFds.forEach((fd) => fd.close()));

  // 5. The buses and the exit path: each vCPU forwards its port/MMIO accesses through its slot of
  //    one native exit hub, which runs them here onto the buses.
  const devices = new DeviceManager(teardown);
  const exits = new ExitServer(config.vcpus, (kind, addr, data) => devices.dispatch(kind, addr, data));
  teardown.push('exit hub', () => exits.close());

  // 6. Devices, one registration each (bus ranges, GSIs, ACPI node, counters, teardown); this
  //    order is the DSDT's and vm.counters'. Virtio: disk i in slot i, then rng, console, vsock, net, balloon.
  const ctx: DeviceContext = { vm, memory, discard: memory, exit, irq: (gsi) => irqfdTrigger(vm, gsi, irqFds), nextVirtioSlot: virtioSlots() };
  devices.register(await com1(ctx, config.serial));
  devices.register(i8042(ctx));
  devices.register(acpiShutdown(ctx));
  devices.register(debugPort());
  devices.register(pvpanic(ctx));
  devices.register(bootTimer());
  const ged = acpiGed(ctx);
  devices.register(ged);
  exitPathCounters(devices, exits).forEach((r) => devices.register(r));
  disks.forEach((disk, i) => devices.register(blockDevice(ctx, disk, i, diskBackends[i]!)));
  if (config.rng !== undefined) devices.register(rngDevice(ctx, config.rng));
  if (config.console !== undefined) devices.register(await consoleDevice(ctx, config.console));
  if (config.vsock !== undefined) devices.register(await vsockDevice(ctx, config.vsock));
  nets.forEach((net, i) => devices.register(netDevice(ctx, net, i)));
  const balloon = config.balloon === undefined ? undefined : balloonDevice(ctx, config.balloon);
  if (balloon !== undefined) devices.register(balloon);

  // 7. ACPI tables (the devices' nodes in the DSDT); the machine owns everything from here on.
  const acpi = createAcpiTables(memory, { vcpus: config.vcpus, devices: devices.acpiNodes() }, { write: source.writeTables });
  const machine = new Machine({ kvm, vm, memory, devices, ged: ged.device, acpi, teardown, ...(balloon === undefined ? {} : { balloon: balloon.balloon }) });

  // 8. vCPU workers, started now so their ~100 ms of thread start-up overlaps loading the kernel.
  //    Each creates its own vCPU fd. Their step is pushed last, so it runs first.
  const vcpus = machine.vcpus;
  teardown.push('vcpus', async () => {
    exits.close();
    await Promise.all(vcpus.map((v) => v.stop()));
  });
  const mmapSize = kvm.vcpuMmapSize();
  for (let id = 0; id < config.vcpus; id++) {
    const handle = new VcpuHandle({
      id,
      vm,
      mmapSize,
      memory: memory.buffer,
      regions: [...memory.regions],
      exitHubId: exits.hubId,
      onEvent: (e) => machine.onVcpuEvent(e),
      ...(config.logLevel === undefined ? {} : { logLevel: config.logLevel }),
      ...(config.vcpuSeccompFilter === undefined ? {} : { seccompFilter: config.vcpuSeccompFilter }),
    });
    vcpus.push(handle);
  }

  return machine;
}

/** Steps 9-10 of a boot: the kernel, its command line, initramfs and boot structure, each vCPU's boot state. */
async function bootVcpus(config: MachineConfig, machine: Machine, inputs: BuildInputs): Promise<void> {
  const { memory, acpi, kvm } = machine.parts;
  const vcpus = machine.vcpus;
  // 9. Kernel, command line, initramfs and the boot structure its entry reads.
  const kernel: LoadedKernel = loadKernel(memory, inputs.kernelBytes, { protocol: config.protocol ?? 'auto' });
  const cmdline = writeCmdline(memory, config.cmdline, kernel.cmdlineMaxLength);
  const initramfs = inputs.initramfsBytes === undefined ? undefined : loadInitramfs(memory, inputs.initramfsBytes, kernel);
  const memoryMap = guestMemoryMap(memory.size);
  const boot = { ...(initramfs === undefined ? {} : { initramfs }), rsdpAddr: acpi.rsdpAddress, memoryMap };
  if (kernel.kind === 'pvh') writeStartInfo(memory, { cmdlineAddr: cmdline.addr, ...boot });
  else writeBootParams(memory, { cmdline, ...(kernel.kind === 'bzimage' ? { setupHeader: kernel.setupHeader } : {}), ...boot });
  log.info(`loaded ${kernel.kind} kernel, entry 0x${kernel.entry.toString(16)}`, { vcpus: config.vcpus, memory: config.memoryBytes });

  // 10. Each vCPU's boot state (CPUID, MSRs, FPU, LAPIC; entry registers on the boot CPU).
  const supported = kvm.supportedCpuid();
  try {
    await Promise.all(vcpus.map((h) => configureVcpu(h, h.id, config.vcpus, supported, memory, kernel)));
  } catch (err) {
    throw new BuildError('vcpu-setup', 'setting up the vCPUs failed', { cause: err });
  }
}

/** CPUID, MSRs, FPU and LAPIC LINTs for every vCPU; entry registers for the boot CPU only (APs wait for SIPI). */
async function configureVcpu(handle: VcpuHandle, id: number, count: number, supported: ReturnType<Kvm['supportedCpuid']>, memory: GuestMemoryMmap, kernel: LoadedKernel): Promise<void> {
  const base = await handle.getState();
  const state: VcpuState = { cpuid: patchCpuid(supported, id, count), msrs: bootMsrEntries(), fpu: defaultFpu() };
  if (base.lapic !== undefined) state.lapic = withLintDeliveryModes(base.lapic);
  if (id === 0 && base.sregs !== undefined) {
    const boot = bootCpuState(memory, base.sregs, kernel);
    state.regs = boot.regs;
    state.sregs = boot.sregs;
  }
  await handle.setState(state);
}
