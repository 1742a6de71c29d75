// The one wiring function (Firecracker's builder.rs): KVM, guest RAM, irqchip, devices, kernel,
// ACPI, vCPU workers — a straight line of named steps. Returns a Machine ready to resume().
import { constants as bufferConstants } from 'node:buffer';
import { AcpiGed, AcpiShutdown, BootTimer, Bus, BytePortBusDevice, DebugPort, I8042, PvPanic, Serial, VirtioRng, type IrqTrigger, type VmExitRequester } from '@workervisor/devices';
import { createLogger, readHostFile, VmmError } from '@workervisor/base';
import type { ErrorKind } from '@workervisor/base';
import { EventFd, FdWatcher, Kvm, stopAllVcpus, type VmFd } from '@workervisor/native';
import { MailboxServer, VcpuHandle, type VcpuState } from '@workervisor/vcpu-worker';
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
import { writeCmdline } from './loader/cmdline.js';
import { loadInitramfs } from './loader/initramfs.js';
import { loadKernel, type LoadedKernel } from './loader/kernel.js';
import { Machine, type MachineParts } from './machine.js';
import type { MachineConfig } from './machine-config.js';
import { GuestMemoryMmap } from './memory.js';
import { attachSerialInput, serialOutput } from './serial-host.js';
import { DiskLockError } from './disk-lock.js';
import { attachDisks, openDisks, type NamedVirtioDevice } from './virtio-wiring.js';
import { createHostedConsole } from './console-host.js';
import { createHostedVsock } from './vsock-host.js';
import { serialSocket } from './serial-socket.js';
import { createNetDevice, openNets, type OpenedNet } from './net-host.js';

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

/** An edge on a GSI through KVM_IRQFD: one eventfd write per interrupt, no ioctl. */
function irqfdTrigger(vm: VmFd, gsi: number, fds: EventFd[]): IrqTrigger {
  const fd = new EventFd();
  vm.registerIrqfd(fd.fd, gsi);
  fds.push(fd);
  return { trigger: () => fd.write(1) };
}

/** A reset or power-off request from a device, plus a guest kernel panic (pvpanic). */
export interface GuestExitRequester extends VmExitRequester {
  panic(reason: string): void;
}

/** Builds the machine for `config`. Guest exits reach `exit` (reset, poweroff, panic). */
export async function buildMachine(config: MachineConfig, exit: GuestExitRequester): Promise<Machine> {
  installExitHook();
  // 1. Inputs first: a bad path fails before any KVM resource exists.
  const kernelBytes = readInput(config.kernel, 'kernel', config.memoryBytes);
  const initramfsBytes = config.initramfs === undefined ? undefined : readInput(config.initramfs, 'initramfs', config.memoryBytes);
  const disks = config.disks ?? [];
  const diskBackends = openInputDisks(disks);
  let nets: OpenedNet[];
  try {
    nets = openNets(config.nets ?? []);
  } catch (err) {
    diskBackends.forEach((b) => b.close());
    throw new BuildError('net-unavailable', `cannot open a tap: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }

  // Everything acquired from here on is released in reverse if a later step fails.
  const undo: Array<() => void | Promise<void>> = [];
  try {
    return await build(config, exit, { kernelBytes, initramfsBytes, disks, diskBackends, nets }, undo);
  } catch (err) {
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch (cleanupErr) {
        log.warn('cleanup after a failed build failed', { error: (cleanupErr as Error).message });
      }
    }
    throw err;
  }
}

interface BuildInputs {
  kernelBytes: Uint8Array;
  initramfsBytes: Uint8Array | undefined;
  disks: NonNullable<MachineConfig['disks']>;
  diskBackends: ReturnType<typeof openInputDisks>;
  /** Taps opened and configured, one per virtio-net device (closed by a cleanup once attached). */
  nets: OpenedNet[];
}

async function build(config: MachineConfig, exit: GuestExitRequester, inputs: BuildInputs, undo: Array<() => void | Promise<void>>): Promise<Machine> {
  const cleanups: Array<() => void> = [];
  undo.push(() => cleanups.forEach((c) => c()));
  // The disk images are open already; attachDisks takes them over (virtio.close closes them).
  let disksAttached = false;
  undo.push(() => {
    if (!disksAttached) inputs.diskBackends.forEach((b) => b.close());
  });
  let netsAttached = false;
  undo.push(() => {
    if (!netsAttached) inputs.nets.forEach((n) => n.backend.close());
  });

  // 2. KVM and the VM, with the x86 pieces KVM wants before any vCPU exists.
  const kvm = Kvm.open();
  undo.push(() => kvm.close());
  const vm = kvm.createVm();
  undo.push(() => vm.close());
  vm.setTssAddr(L.KVM_TSS_ADDRESS);
  vm.setIdentityMapAddr(L.KVM_IDENTITY_MAP_ADDRESS);
  vm.createIrqchip();
  vm.createPit2();

  // 3. Guest RAM: one SharedArrayBuffer, one KVM slot per region.
  const memory = GuestMemoryMmap.allocate(config.memoryBytes);
  undo.unshift(() => memory.release()); // first in the list: runs last, after the VM fd is closed
  memory.regions.forEach((r, slot) => vm.setUserMemoryRegion(slot, r.gpa, memory.buffer, r.offset, r.size));

  // 4. vCPU workers, started now so their ~100 ms of thread start-up overlaps the steps below.
  //    Each creates its own vCPU fd; exits come back through one doorbell eventfd and the mailboxes.
  const doorbell = new EventFd();
  undo.push(() => doorbell.close());
  let machine: Machine | undefined;
  const mailboxes = new MailboxServer((kind, addr, data) => machine?.dispatch(kind, addr, data));
  const doorbellWatcher = new FdWatcher(doorbell.fd, () => {
    doorbell.read();
    mailboxes.serve();
  });
  undo.push(() => doorbellWatcher.stop());
  // Closed only after the vCPUs have stopped (undo runs in reverse): while their stop is awaited a
  // device may still raise an interrupt, and must not write to a closed, maybe reused, fd number.
  const irqFds: EventFd[] = [];
  undo.push(() => irqFds.forEach((fd) => fd.close()));
  const vcpus: VcpuHandle[] = [];
  undo.push(async () => {
    mailboxes.close();
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
      doorbellFd: doorbell.fd,
      onEvent: (e) => machine?.onVcpuEvent(e),
      ...(config.logLevel === undefined ? {} : { logLevel: config.logLevel }),
    });
    vcpus.push(handle);
    mailboxes.add(handle.mailbox);
  }

  // 5. Legacy devices on the buses; interrupts through irqfds.
  const pio = new Bus('pio');
  const mmio = new Bus('mmio');
  let serialRef: Serial | undefined;
  const sock = config.serial.kind === 'socket' ? serialSocket(config.serial.path, () => serialRef) : undefined;
  const out = sock ?? serialOutput(config.serial);
  cleanups.push(out.close);
  await sock?.ready;
  const input = config.serial.kind === 'tty' ? attachSerialInput(() => serialRef) : sock;
  if (input !== undefined && input !== sock) cleanups.push(input.close);
  const serial = new Serial({ irq: irqfdTrigger(vm, L.COM1_IRQ, irqFds), output: out.output, name: 'com1', ...(input === undefined ? {} : { onInputDrained: input.onDrained }) });
  serialRef = serial;
  const i8042 = new I8042({ kbdIrq: irqfdTrigger(vm, L.I8042_IRQ, irqFds), exit });
  const debugPort = new DebugPort();
  const bootTimer = new BootTimer();
  // The ACPI power button: vm.power-button sets its event bit and raises GED_IRQ; the DSDT's
  // GED _EVT reads the register (a 1-byte MMIO load) and notifies \_SB.PWRB.
  const ged = new AcpiGed({ irq: irqfdTrigger(vm, L.GED_IRQ, irqFds) });
  pio.insert(new BytePortBusDevice(serial), L.COM1_PORT, 8, 'com1');
  pio.insert(new BytePortBusDevice(i8042), L.I8042_DATA_PORT, 5, 'i8042');
  pio.insert(new BytePortBusDevice(new AcpiShutdown({ exit, resetValue: L.ACPI_RESET_VALUE, s5SleepType: L.ACPI_S5_SLEEP_TYPE })), L.ACPI_SHUTDOWN_PORT, 1, 'acpi-shutdown');
  pio.insert(new BytePortBusDevice(debugPort), L.DEBUG_PORT, 1, 'debug-port');
  pio.insert(new BytePortBusDevice(new PvPanic({ onPanic: (reason) => exit.panic(reason) })), L.PVPANIC_PORT, 1, 'pvpanic');
  mmio.insert(bootTimer, L.BOOT_TIMER_START, L.BOOT_TIMER_SIZE, 'boot-timer');
  mmio.insert(new BytePortBusDevice(ged), L.GED_START, L.GED_SIZE, 'acpi-ged');

  // 6. Virtio devices: disk i in virtio-mmio slot i, then the rng, the console and vsock (irqfd GSI
  //    VIRTIO_IRQ_BASE + slot, ioeventfd kicks). The console's host end (stdin, file, socket) first.
  const others: NamedVirtioDevice[] = [];
  if (config.rng !== undefined) {
    const name = config.rng.id ?? 'rng';
    others.push({ name, device: new VirtioRng({ name, ...(config.rng.rateLimiter === undefined ? {} : { rateLimiter: config.rng.rateLimiter }) }) });
  }
  if (config.console !== undefined) {
    const hosted = await createHostedConsole(config.console);
    cleanups.push(hosted.close);
    others.push(hosted);
  }
  if (config.vsock !== undefined) {
    // Firecracker's hybrid vsock: listening on its Unix socket before the guest can connect out.
    const hosted = await createHostedVsock(config.vsock);
    cleanups.push(hosted.close);
    others.push(hosted);
  }
  // virtio-net last: receive starts when the driver is up, on the tap fd's readiness.
  inputs.nets.forEach((n, i) => others.push(createNetDevice(n, i)));
  const virtio = attachDisks({ vm, memory, mmio, irq: (gsi) => irqfdTrigger(vm, gsi, irqFds) }, inputs.disks, inputs.diskBackends, others);
  disksAttached = true;
  cleanups.push(virtio.close);
  // After virtio.close: the devices are reset (no watcher on a tap) before the taps close.
  cleanups.push(() => inputs.nets.forEach((n) => n.backend.close()));
  netsAttached = true;

  // 7. Kernel, command line, initramfs, ACPI tables and the boot structure its entry reads.
  const kernel: LoadedKernel = loadKernel(memory, inputs.kernelBytes, { protocol: config.protocol ?? 'auto' });
  const cmdline = writeCmdline(memory, config.cmdline, kernel.cmdlineMaxLength);
  const initramfs = inputs.initramfsBytes === undefined ? undefined : loadInitramfs(memory, inputs.initramfsBytes, kernel);
  const acpi = createAcpiTables(memory, { vcpus: config.vcpus, virtio: virtio.slots.map((s) => s.acpi), ged: { base: L.GED_START, irq: L.GED_IRQ } });
  const memoryMap = guestMemoryMap(memory.size);
  const boot = { ...(initramfs === undefined ? {} : { initramfs }), rsdpAddr: acpi.rsdpAddress, memoryMap };
  if (kernel.kind === 'pvh') writeStartInfo(memory, { cmdlineAddr: cmdline.addr, ...boot });
  else writeBootParams(memory, { cmdline, ...(kernel.kind === 'bzimage' ? { setupHeader: kernel.setupHeader } : {}), ...boot });
  log.info(`loaded ${kernel.kind} kernel, entry 0x${kernel.entry.toString(16)}`, { vcpus: config.vcpus, memory: config.memoryBytes });

  // 8. Each vCPU's boot state (CPUID, MSRs, FPU, LAPIC; entry registers on the boot CPU).
  const supported = kvm.supportedCpuid();
  try {
    await Promise.all(vcpus.map((h) => configureVcpu(h, h.id, config.vcpus, supported, memory, kernel)));
  } catch (err) {
    throw new BuildError('vcpu-setup', 'setting up the vCPUs failed', { cause: err });
  }

  // The machine owns every resource from here on (Machine.close releases them).
  const parts: MachineParts = { kvm, vm, memory, pio, mmio, serial, i8042, debugPort, bootTimer, ged, kernel, acpi, virtio: virtio.slots, irqFds, doorbell, doorbellWatcher, mailboxes, cleanups };
  machine = new Machine(parts);
  machine.vcpus.push(...vcpus);
  undo.length = 0;
  return machine;
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
