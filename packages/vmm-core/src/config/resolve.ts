// VmConfig (the API's Cloud Hypervisor shape) -> MachineConfig (what the builder needs). Features
// the VMM cannot provide yet are refused here by name, never silently dropped.
import { closeSync, constants, openSync, statSync } from 'node:fs';
import { totalmem } from 'node:os';
import { dirname } from 'node:path';
import { ApiError } from '@workervisor/api/core';
import type { VmConfig } from '@workervisor/schema';
import type { ConsoleConfig, DiskConfig, RngConfig, VsockConfig } from '@workervisor/schema';
import { tokenBucketFromApi, type RateLimiterConfig } from '@workervisor/devices';
import { MAX_VCPUS, VIRTIO_MMIO_SLOTS } from '../arch/x86_64/layout.js';
import type { VsockSpec } from '../machine-config.js';
import type { ConsoleSpec, DiskSpec, MachineConfig, NetSpec, RngSpec, SerialSink } from '../machine-config.js';
import { resolveNets } from './net.js';

/** The smallest guest we boot: room for the kernel at 1 MiB, ACPI, an initramfs. */
export const MIN_MEMORY_BYTES = 16 * 1024 * 1024;

/** Config sections that name devices we do not emulate yet. */
const UNSUPPORTED_LISTS = ['fs', 'pmem', 'devices', 'user_devices', 'vdpa', 'generic_vhost_user', 'numa', 'pci_segments'] as const;
const UNSUPPORTED_SINGLES = ['balloon', 'sgx_epc', 'tpm'] as const;

function notSupported(what: string): ApiError {
  return new ApiError('not-supported', `${what} is not supported by this VMM yet`);
}

function landlockNotSupported(key: string): ApiError {
  return new ApiError('not-supported', `"${key}": Landlock is not supported by this VMM yet, so no Landlock ruleset would be applied; remove the key${key === 'landlock_enable' ? ' or set it to false' : ''}`, { details: { field: key } });
}

function invalid(field: string, message: string): ApiError {
  return new ApiError('invalid-config', message, { details: { field } });
}

function serialSink(config: VmConfig): SerialSink {
  const serial = config.serial;
  // Absent = Workervisor's default (withDefaults in @workervisor/schema): COM1 on the terminal.
  if (serial === undefined) return { kind: 'tty' };
  switch (serial.mode) {
    case 'Off':
    case 'Null':
      return { kind: 'off' };
    case 'Tty':
      return { kind: 'tty' };
    case 'File':
      if (serial.file === undefined) throw invalid('serial.file', 'serial mode File needs serial.file');
      return { kind: 'file', path: serial.file };
    case 'Socket':
      if (serial.socket === undefined) throw invalid('serial.socket', 'serial mode Socket needs serial.socket');
      return { kind: 'socket', path: serial.socket };
    default:
      throw notSupported(`serial mode ${serial.mode}`);
  }
}

/** The largest split virtqueue (virtio 1.2 section 2.7). */
const MAX_QUEUE_SIZE = 32768;
/** DiskConfig.queue_size's default in Cloud Hypervisor's spec (packages/api/src/routes/fixtures/cloud-hypervisor.yaml). */
const SPEC_DISK_QUEUE_SIZE = 128;

/** Refuses disk options that ask for something this VMM does not do. */
function checkDiskOptions(d: DiskConfig, at: string): void {
  const refused: Array<[boolean, string]> = [
    [d.vhost_user === true || d.vhost_socket !== undefined, `${at}.vhost_user (a vhost-user block device)`],
    [d.direct === true, `${at}.direct (O_DIRECT)`],
    [d.iommu === true, `${at}.iommu`],
    [(d.num_queues ?? 1) > 1, `${at}.num_queues ${d.num_queues ?? 1} (multi-queue virtio-blk)`],
    [d.rate_limiter_config !== undefined || d.rate_limit_group !== undefined, `${at}.rate_limiter_config (disk rate limiting)`],
    [d.queue_affinity !== undefined, `${at}.queue_affinity`],
    [d.image_type !== undefined && d.image_type !== 'Raw', `${at}.image_type ${d.image_type ?? ''} (only Raw images)`],
    [d.backing_files === true, `${at}.backing_files`],
    [d.pci_segment !== undefined || d.pci_device_id !== undefined, `${at}.pci_segment/pci_device_id (disks are virtio-mmio)`],
  ];
  for (const [asked, what] of refused) if (asked) throw notSupported(what);
}

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
    checkDiskOptions(d, at);
    if (d.path === undefined || d.path === '') throw invalid(`${at}.path`, `${at}.path is required: a raw disk image file or block device`);
    const readonly = d.readonly ?? false;
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
    const queueSize = d.queue_size ?? SPEC_DISK_QUEUE_SIZE;
    if (queueSize !== undefined && (queueSize > MAX_QUEUE_SIZE || (queueSize & (queueSize - 1)) !== 0)) {
      throw invalid(`${at}.queue_size`, `${at}.queue_size ${queueSize} must be a power of two up to ${MAX_QUEUE_SIZE}`);
    }
    const serial = d.serial ?? d.id;
    return {
      path: d.path,
      readonly,
      ...(d.id === undefined ? {} : { id: d.id }),
      ...(serial === undefined ? {} : { serial }),
      ...(queueSize === undefined ? {} : { queueSize }),
      // Absent = the spec's default (DiskConfig.lock_granularity), ByteRange.
      lockGranularity: d.lock_granularity ?? 'ByteRange',
    };
  });
}

/** The entropy sources an `rng.src` may name: the guest's bytes come from getrandom, which both give. */
const RNG_SOURCES = ['/dev/urandom', '/dev/random'];

/** Options every virtio device shares that a virtio-mmio machine without an IOMMU cannot honour. */
function checkMmioPlacement(d: { iommu?: boolean; pci_segment?: number; pci_device_id?: number }, at: string): void {
  if (d.iommu === true) throw notSupported(`${at}.iommu (there is no virtual IOMMU)`);
  if (d.pci_segment !== undefined || d.pci_device_id !== undefined) throw notSupported(`${at}.pci_segment/pci_device_id (${at} is virtio-mmio)`);
}

/** Cloud Hypervisor's `rng` section (plus rate_limiter_config, our extension) -> the virtio-rng device. */
function rng(r: RngConfig): RngSpec {
  checkMmioPlacement(r, 'rng');
  if (!RNG_SOURCES.includes(r.src)) {
    throw notSupported(`rng.src ${r.src} (the guest's entropy comes from the host's getrandom, the source of ${RNG_SOURCES.join(' and ')}; name one of those)`);
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
  checkMmioPlacement(c, 'console');
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
      throw notSupported('console mode Pty (a pseudo-terminal); use Tty, File or Socket');
    case 'Null':
      throw notSupported('console mode Null (a virtio-console that discards its output); use Off for no virtio-console');
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
  checkMmioPlacement(v, 'vsock');
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
  ];
  if (taken.includes(name)) throw invalid('vsock.id', `vsock.id "${name}" is used by another device`);
  if (taken.length + 1 > VIRTIO_MMIO_SLOTS) throw invalid('vsock', `${taken.length + 1} virtio devices with the vsock exceed the ${VIRTIO_MMIO_SLOTS} virtio-mmio slots`);
  return { ...(v.id === undefined ? {} : { id: v.id }), cid: v.cid, socket: path };
}

/** Every virtio device needs a slot, and every counter key must name one device. */
function checkVirtioNames(disks: readonly DiskSpec[], rngSpec: RngSpec | undefined, consoleSpec: ConsoleSpec | undefined, nets: readonly NetSpec[] = []): void {
  const count = disks.length + (rngSpec === undefined ? 0 : 1) + (consoleSpec === undefined ? 0 : 1) + nets.length;
  if (count > VIRTIO_MMIO_SLOTS) throw invalid('disks', `${count} virtio devices (disks, rng, console, net) exceed the ${VIRTIO_MMIO_SLOTS} virtio-mmio slots`);
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
}

/**
 * Checks `config` and resolves it for the builder. Throws ApiError (invalid-config / not-supported).
 * Works on a config with or without withDefaults applied: every fallback here is that default.
 */
export function resolveMachineConfig(config: VmConfig, hostMemory = totalmem()): MachineConfig {
  const record = config as unknown as Record<string, unknown>;
  for (const key of UNSUPPORTED_LISTS) {
    const v = record[key];
    if (Array.isArray(v) && v.length > 0) throw notSupported(`"${key}" (${v.length} configured)`);
  }
  // Accepting a sandbox request without applying it would be worse than refusing it (issue 9).
  if (config.landlock_enable === true) throw landlockNotSupported('landlock_enable');
  if (record['landlock_rules'] !== undefined && record['landlock_rules'] !== null) throw landlockNotSupported('landlock_rules');
  for (const key of UNSUPPORTED_SINGLES) {
    if (record[key] !== undefined && record[key] !== null) throw notSupported(`"${key}"`);
  }
  const payload = config.payload;
  if (payload?.kernel === undefined) throw invalid('payload.kernel', 'payload.kernel is required: a path to an ELF vmlinux or a bzImage');
  if (payload.firmware !== undefined) throw notSupported('payload.firmware');
  const vcpus = config.cpus?.boot_vcpus ?? 1;
  if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > MAX_VCPUS) throw invalid('cpus.boot_vcpus', `cpus.boot_vcpus ${vcpus} must be between 1 and ${MAX_VCPUS}`);
  const max = config.cpus?.max_vcpus;
  if (max !== undefined && max !== vcpus) throw notSupported(`cpus.max_vcpus ${max} != boot_vcpus ${vcpus} (vCPU hotplug)`);
  const size = config.memory?.size ?? 512 * 1024 * 1024;
  if (size < MIN_MEMORY_BYTES) throw invalid('memory.size', `memory.size ${size} bytes is below the minimum of ${MIN_MEMORY_BYTES} (16M)`);
  if (size > hostMemory) throw invalid('memory.size', `memory.size ${size} bytes exceeds the host's ${hostMemory} bytes of RAM`);
  if (size % 4096 !== 0) throw invalid('memory.size', `memory.size ${size} is not a multiple of 4096`);
  const serial = serialSink(config);
  const diskSpecs = disks(config);
  const rngSpec = config.rng === undefined ? undefined : rng(config.rng);
  const consoleSpec = config.console === undefined ? undefined : virtioConsole(config.console, serial);
  const vsockSpec = config.vsock === undefined ? undefined : vsock(config.vsock, config, serial);
  const netSpecs = resolveNets(config.net ?? []);
  checkVirtioNames(diskSpecs, rngSpec, consoleSpec, netSpecs);
  return {
    vcpus,
    memoryBytes: size,
    kernel: payload.kernel,
    ...(payload.initramfs === undefined ? {} : { initramfs: payload.initramfs }),
    cmdline: payload.cmdline ?? '',
    serial,
    disks: diskSpecs,
    ...(rngSpec === undefined ? {} : { rng: rngSpec }),
    ...(consoleSpec === undefined ? {} : { console: consoleSpec }),
    ...(vsockSpec === undefined ? {} : { vsock: vsockSpec }),
    ...(netSpecs.length === 0 ? {} : { nets: netSpecs }),
  };
}
