// VmConfig (the API's Cloud Hypervisor shape) -> MachineConfig (what the builder needs): the one
// place a config is checked, for vm.create, the CLI and the Firecracker file alike. Keys asking for
// what the VMM does not build are refused by name first (refusals.ts), never silently dropped.
import { closeSync, constants, openSync, statSync } from 'node:fs';
import { totalmem } from 'node:os';
import { dirname } from 'node:path';
import type { VmConfig } from '@workervisor/schema';
import type { ConsoleConfig, RngConfig, SerialConfig, VsockConfig } from '@workervisor/schema';
import { DEFAULT_MEMORY_SIZE, DEFAULT_SERIAL_MODE, DEFAULT_VCPUS, DISK_DEFAULTS } from '@workervisor/schema/defaults';
import { tokenBucketFromApi, type RateLimiterConfig } from '@workervisor/devices';
import { MAX_VCPUS, VIRTIO_MMIO_SLOTS } from '../arch/x86_64/layout.js';
import type { VsockSpec } from '../machine-config.js';
import type { BalloonSpec, ConsoleSpec, DiskSpec, MachineConfig, NetSpec, RngSpec, SerialSink } from '../machine-config.js';
import { resolveBalloon } from './balloon.js';
import { invalidConfig as invalid, notSupported } from './errors.js';
import { resolveNets } from './net.js';
import { firstRefusal } from './refusals.js';

/** The defaults the resolver falls back to, for the CLI's help. */
export { DEFAULT_MEMORY_SIZE, DEFAULT_VCPUS };

/** The smallest guest we boot: room for the kernel at 1 MiB, ACPI, an initramfs. */
export const MIN_MEMORY_BYTES = 16 * 1024 * 1024;
const PAGE_SIZE = 4096;

/** `8M` for 8388608: the largest K/M/G unit dividing `bytes`, as --memory writes sizes; undefined if none does. */
export function formatSize(bytes: number): string | undefined {
  for (const [unit, shift] of [['G', 30], ['M', 20], ['K', 10]] as const) {
    if (bytes >= 2 ** shift && bytes % 2 ** shift === 0) return `${bytes / 2 ** shift}${unit}`;
  }
  return undefined;
}

/** `8388608 bytes (8M)`, or `8388609 bytes`. */
function bytesText(bytes: number): string {
  const unit = formatSize(bytes);
  return unit === undefined ? `${bytes} bytes` : `${bytes} bytes (${unit})`;
}

/** The host end of COM1, straight from Cloud Hypervisor's SerialConfig mode. */
function serialSink(serial: SerialConfig): SerialSink {
  if (serial.file !== undefined && serial.mode !== 'File') throw invalid('serial.file', `serial.file is used only with mode File (mode is ${serial.mode})`);
  if (serial.socket !== undefined && serial.mode !== 'Socket') throw invalid('serial.socket', `serial.socket is used only with mode Socket (mode is ${serial.mode})`);
  switch (serial.mode) {
    case 'Off':
    case 'Null':
      return { kind: 'off' };
    case 'Tty':
      return { kind: 'tty' };
    case 'File':
      if (serial.file === undefined || serial.file === '') throw invalid('serial.file', 'serial mode File needs serial.file');
      return { kind: 'file', path: serial.file };
    case 'Socket':
      if (serial.socket === undefined || serial.socket === '') throw invalid('serial.socket', 'serial mode Socket needs serial.socket');
      return { kind: 'socket', path: serial.socket };
    case 'Pty':
      throw notSupported('serial.mode', 'serial mode Pty (a pseudo-terminal) is not supported by this VMM yet; use Tty, File or Socket');
  }
}

/** The largest split virtqueue (virtio 1.2 section 2.7). */
const MAX_QUEUE_SIZE = 32768;

/** Checks one disk's path: it must exist, be a file or block device and open in the wanted mode. */
function checkDiskPath(path: string, readonly: boolean, at: string): { dev: number; ino: number } {
  const field = `${at}.path`;
  let isDisk: boolean;
  let identity: { dev: number; ino: number };
  try {
    const st = statSync(path);
    isDisk = st.isFile() || st.isBlockDevice();
    // A block device is one image whatever node names it: its rdev, not the node's inode.
    identity = st.isBlockDevice() ? { dev: -1, ino: st.rdev } : { dev: st.dev, ino: st.ino };
  } catch (err) {
    throw invalid(field, `${field} ${path} cannot be used (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!isDisk) throw invalid(field, `${field} ${path} is neither a regular file nor a block device`);
  try {
    // O_NONBLOCK: a FIFO swapped in since the stat cannot hang the open.
    closeSync(openSync(path, (readonly ? constants.O_RDONLY : constants.O_RDWR) | constants.O_NONBLOCK | constants.O_NOCTTY));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const hint = !readonly && (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') ? '; set readonly: true to use it read-only' : '';
    throw invalid(field, `${field} ${path} cannot be opened ${readonly ? 'read-only' : 'read-write'} (${code})${hint}`);
  }
  return identity;
}

/** The virtio-blk disks, in slot order. */
function disks(config: VmConfig): DiskSpec[] {
  const list = config.disks ?? [];
  if (list.length > VIRTIO_MMIO_SLOTS) throw invalid('disks', `${list.length} disks exceed the ${VIRTIO_MMIO_SLOTS} virtio-mmio slots`);
  const ids = new Set<string>();
  /** Images seen so far, by device and inode (paths may differ: links, `..`). */
  const images = new Map<string, { at: string; readonly: boolean }>();
  return list.map((d, i): DiskSpec => {
    const at = `disks[${i}]`;
    if (d.path === undefined || d.path === '') throw invalid(`${at}.path`, `${at}.path is required: a raw disk image file or block device`);
    const readonly = d.readonly ?? DISK_DEFAULTS.readonly;
    const image = checkDiskPath(d.path, readonly, at);
    const key = `${image.dev}:${image.ino}`;
    const earlier = images.get(key);
    // Two devices on one image corrupt it unless both only read (the image locks would refuse
    // the second at boot; this says so at vm.create).
    if (earlier !== undefined && !(readonly && earlier.readonly)) {
      throw invalid(`${at}.path`, `${at}.path ${d.path} is the same image as ${earlier.at}.path: attach an image once, or read-only every time`);
    }
    images.set(key, { at, readonly: readonly && (earlier?.readonly ?? true) });
    if (d.id !== undefined) {
      if (ids.has(d.id)) throw invalid(`${at}.id`, `${at}.id "${d.id}" is used by another disk`);
      ids.add(d.id);
    }
    // Absent = the spec's default (DiskConfig.queue_size), as withDefaults would fill it in.
    const queueSize = d.queue_size ?? DISK_DEFAULTS.queue_size;
    if (queueSize > MAX_QUEUE_SIZE || (queueSize & (queueSize - 1)) !== 0) {
      throw invalid(`${at}.queue_size`, `${at}.queue_size ${queueSize} must be a power of two up to ${MAX_QUEUE_SIZE}`);
    }
    const serial = d.serial ?? d.id;
    return {
      path: d.path,
      readonly,
      ...(d.id === undefined ? {} : { id: d.id }),
      ...(serial === undefined ? {} : { serial }),
      queueSize,
      lockGranularity: d.lock_granularity ?? DISK_DEFAULTS.lock_granularity,
    };
  });
}

/** The entropy sources an `rng.src` may name: the guest's bytes come from getrandom, which both give. */
const RNG_SOURCES = ['/dev/urandom', '/dev/random'];

/** Cloud Hypervisor's `rng` section (plus rate_limiter_config, our extension) -> the virtio-rng device. */
function rng(r: RngConfig): RngSpec {
  if (!RNG_SOURCES.includes(r.src)) {
    throw notSupported('rng.src', `rng.src ${r.src} (the guest's entropy comes from the host's getrandom, the source of ${RNG_SOURCES.join(' and ')}; name one of those) is not supported by this VMM yet`);
  }
  const limit = r.rate_limiter_config;
  const bandwidth = tokenBucketFromApi(limit?.bandwidth);
  const ops = tokenBucketFromApi(limit?.ops);
  const rateLimiter: RateLimiterConfig = { ...(bandwidth === undefined ? {} : { bandwidth }), ...(ops === undefined ? {} : { ops }) };
  return {
    ...(r.id === undefined ? {} : { id: r.id }),
    ...(bandwidth === undefined && ops === undefined ? {} : { rateLimiter }),
  };
}

/** Cloud Hypervisor's `console` section -> the virtio-console, or undefined for mode Off. */
function virtioConsole(c: ConsoleConfig, serial: SerialSink): ConsoleSpec | undefined {
  if (c.file !== undefined && c.mode !== 'File') throw invalid('console.file', `console.file is used only with mode File (mode is ${c.mode})`);
  if (c.socket !== undefined && c.mode !== 'Socket') throw invalid('console.socket', `console.socket is used only with mode Socket (mode is ${c.mode})`);
  if (c.mode === 'Off') return undefined;
  const id = c.id === undefined ? {} : { id: c.id };
  switch (c.mode) {
    case 'Tty':
      // One terminal, one reader: COM1 and hvc0 would split every keystroke between them.
      if (serial.kind === 'tty') {
        throw invalid('console.mode', 'console mode Tty and serial mode Tty (the default when serial is omitted) cannot share the terminal; set serial to Off, Null, File or Socket, or the console to File or Socket');
      }
      return { ...id, sink: { kind: 'tty' } };
    case 'File':
      if (c.file === undefined || c.file === '') throw invalid('console.file', 'console mode File needs console.file');
      return { ...id, sink: { kind: 'file', path: c.file } };
    case 'Socket':
      if (c.socket === undefined || c.socket === '') throw invalid('console.socket', 'console mode Socket needs console.socket');
      if (serial.kind === 'socket' && serial.path === c.socket) throw invalid('console.socket', `console.socket ${c.socket} is also serial.socket; give each its own path`);
      return { ...id, sink: { kind: 'socket', path: c.socket } };
    case 'Pty':
      throw notSupported('console.mode', 'console mode Pty (a pseudo-terminal) is not supported by this VMM yet; use Tty, File or Socket');
    case 'Null':
      throw notSupported('console.mode', 'console mode Null (a virtio-console that discards its output) is not supported by this VMM yet; use Off for no virtio-console');
  }
}

/** Linux keeps vsock CIDs in a u32 and U32_MAX is VMADDR_CID_ANY (include/uapi/linux/vm_sockets.h). */
const MAX_GUEST_CID = 0xffff_fffe;
/** sun_path holds 108 bytes with the NUL; `<socket>_<port>` needs room for up to 11 more. */
const MAX_SOCKET_PATH_BYTES = 107;

/**
 * Cloud Hypervisor's `vsock` section -> the hybrid virtio-vsock (Firecracker's Unix-socket model).
 * Needs a free slot and a counter key of its own, counted against every other virtio device.
 */
function vsock(v: VsockConfig, config: VmConfig, serial: SerialSink): VsockSpec {
  if (!Number.isSafeInteger(v.cid) || v.cid < 3 || v.cid > MAX_GUEST_CID) {
    throw invalid('vsock.cid', `vsock.cid ${v.cid} must be from 3 to ${MAX_GUEST_CID} (0-2 are reserved, and Linux's CIDs are 32-bit)`);
  }
  const path = v.socket;
  if (path === '') throw invalid('vsock.socket', 'vsock.socket is required: the Unix socket path the VMM listens on');
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) throw invalid('vsock.socket', `vsock.socket ${path} is longer than a Unix socket path may be (${MAX_SOCKET_PATH_BYTES} bytes)`);
  let dirOk = false;
  try {
    dirOk = statSync(dirname(path)).isDirectory();
  } catch {
    // reported below
  }
  if (!dirOk) throw invalid('vsock.socket', `vsock.socket ${path}: its directory does not exist`);
  const others = [serial.kind === 'socket' ? serial.path : undefined, config.console?.socket];
  if (others.includes(path)) throw invalid('vsock.socket', `vsock.socket ${path} is used by another socket of this VM; give the vsock its own path`);
  const name = v.id ?? 'vsock';
  const taken = [
    ...(config.disks ?? []).map((d, i) => d.id ?? `disk${i}`),
    ...(config.rng === undefined ? [] : [config.rng.id ?? 'rng']),
    ...(config.console === undefined || config.console.mode === 'Off' ? [] : [config.console.id ?? 'console']),
    ...(config.net ?? []).map((n, i) => n.id ?? `net${i}`),
    ...(config.balloon === undefined ? [] : [config.balloon.id ?? 'balloon']),
  ];
  if (taken.includes(name)) throw invalid('vsock.id', `vsock.id "${name}" is used by another device`);
  if (taken.length + 1 > VIRTIO_MMIO_SLOTS) throw invalid('vsock', `${taken.length + 1} virtio devices with the vsock exceed the ${VIRTIO_MMIO_SLOTS} virtio-mmio slots`);
  return { ...(v.id === undefined ? {} : { id: v.id }), cid: v.cid, socket: path };
}

/** Every virtio device needs a slot, and every counter key must name one device. */
function checkVirtioNames(disks: readonly DiskSpec[], rngSpec: RngSpec | undefined, consoleSpec: ConsoleSpec | undefined, nets: readonly NetSpec[] = [], balloonSpec?: BalloonSpec): void {
  const count = disks.length + (rngSpec === undefined ? 0 : 1) + (consoleSpec === undefined ? 0 : 1) + nets.length + (balloonSpec === undefined ? 0 : 1);
  if (count > VIRTIO_MMIO_SLOTS) throw invalid('disks', `${count} virtio devices (disks, rng, console, net, balloon) exceed the ${VIRTIO_MMIO_SLOTS} virtio-mmio slots`);
  const names = new Set(disks.map((d, i) => d.id ?? `disk${i}`));
  const rngName = rngSpec === undefined ? undefined : (rngSpec.id ?? 'rng');
  if (rngName !== undefined) {
    if (names.has(rngName)) throw invalid('rng.id', `rng.id "${rngName}" is used by a disk`);
    names.add(rngName);
  }
  const consoleName = consoleSpec === undefined ? undefined : (consoleSpec.id ?? 'console');
  if (consoleName !== undefined && names.has(consoleName)) throw invalid('console.id', `console.id "${consoleName}" is used by another device`);
  if (consoleName !== undefined) names.add(consoleName);
  nets.forEach((n, i) => {
    const name = n.id ?? `net${i}`;
    if (names.has(name)) throw invalid(`net[${i}].id`, `net[${i}].id "${name}" is used by another device`);
    names.add(name);
  });
  const balloonName = balloonSpec === undefined ? undefined : (balloonSpec.id ?? 'balloon');
  if (balloonName !== undefined && names.has(balloonName)) throw invalid('balloon.id', `balloon.id "${balloonName}" is used by another device`);
}

/** vCPUs and RAM: at least one vCPU and MIN_MEMORY_BYTES, at most what the layout and the host have. */
function cpusAndMemory(config: VmConfig, hostMemory: number): { vcpus: number; memoryBytes: number } {
  const vcpus = config.cpus?.boot_vcpus ?? DEFAULT_VCPUS;
  if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > MAX_VCPUS) throw invalid('cpus.boot_vcpus', `cpus.boot_vcpus ${vcpus} must be between 1 and ${MAX_VCPUS}`);
  const max = config.cpus?.max_vcpus ?? vcpus;
  if (!Number.isInteger(max) || max < vcpus) throw invalid('cpus.max_vcpus', `cpus.max_vcpus ${max} must be at least cpus.boot_vcpus ${vcpus}`);
  if (max !== vcpus) throw notSupported('cpus.max_vcpus', `cpus.max_vcpus ${max} != boot_vcpus ${vcpus} (vCPU hotplug) is not supported by this VMM yet`);
  const size = config.memory?.size ?? DEFAULT_MEMORY_SIZE;
  if (!Number.isSafeInteger(size)) throw invalid('memory.size', `memory.size ${size} is not a whole number of bytes`);
  const shown = `memory.size ${bytesText(size)}`;
  if (size < MIN_MEMORY_BYTES) throw invalid('memory.size', `${shown} is below the minimum of 16M`);
  if (size > hostMemory) throw invalid('memory.size', `${shown} exceeds the host's ${hostMemory} bytes of RAM`);
  if (size % PAGE_SIZE !== 0) throw invalid('memory.size', `${shown} is not a multiple of 4K`);
  return { vcpus, memoryBytes: size };
}

/**
 * Checks `config` and resolves it for the builder. Throws the errors of errors.ts (invalid-config /
 * not-supported) with `details.field` naming the key. Works on a config with or without withDefaults
 * applied: every fallback here is that default (vm-defaults.ts).
 */
export function resolveMachineConfig(config: VmConfig, hostMemory = totalmem()): MachineConfig {
  const refused = firstRefusal(config);
  if (refused !== undefined) throw refused;
  const payload = config.payload;
  if (payload?.kernel === undefined) throw invalid('payload.kernel', 'payload.kernel is required: a path to an ELF vmlinux or a bzImage');
  const { vcpus, memoryBytes } = cpusAndMemory(config, hostMemory);
  const serial = serialSink(config.serial ?? { mode: DEFAULT_SERIAL_MODE });
  const diskSpecs = disks(config);
  const rngSpec = config.rng === undefined ? undefined : rng(config.rng);
  const consoleSpec = config.console === undefined ? undefined : virtioConsole(config.console, serial);
  const vsockSpec = config.vsock === undefined ? undefined : vsock(config.vsock, config, serial);
  const netSpecs = resolveNets(config.net ?? []);
  const balloonSpec = config.balloon === undefined ? undefined : resolveBalloon(config.balloon, memoryBytes);
  checkVirtioNames(diskSpecs, rngSpec, consoleSpec, netSpecs, balloonSpec);
  return {
    vcpus,
    memoryBytes,
    kernel: payload.kernel,
    ...(payload.initramfs === undefined ? {} : { initramfs: payload.initramfs }),
    cmdline: payload.cmdline ?? '',
    serial,
    disks: diskSpecs,
    ...(rngSpec === undefined ? {} : { rng: rngSpec }),
    ...(consoleSpec === undefined ? {} : { console: consoleSpec }),
    ...(vsockSpec === undefined ? {} : { vsock: vsockSpec }),
    ...(netSpecs.length === 0 ? {} : { nets: netSpecs }),
    ...(balloonSpec === undefined ? {} : { balloon: balloonSpec }),
  };
}
