// VmConfig (the API's Cloud Hypervisor shape) -> MachineConfig (what the builder needs). Features
// the VMM cannot provide yet are refused here by name, never silently dropped.
import { totalmem } from 'node:os';
import { ApiError, type VmConfig } from '@workervisor/api';
import { MAX_VCPUS } from '../arch/x86_64/layout.js';
import type { MachineConfig, SerialSink } from '../machine-config.js';

/** The smallest guest we boot: room for the kernel at 1 MiB, ACPI, an initramfs. */
export const MIN_MEMORY_BYTES = 16 * 1024 * 1024;

/** Config sections that name devices we do not emulate yet. */
const UNSUPPORTED_LISTS = ['disks', 'net', 'fs', 'pmem', 'devices', 'user_devices', 'vdpa', 'generic_vhost_user', 'numa', 'pci_segments'] as const;
const UNSUPPORTED_SINGLES = ['rng', 'vsock', 'balloon', 'sgx_epc', 'tpm', 'landlock_rules'] as const;

function notSupported(what: string): ApiError {
  return new ApiError('not-supported', `${what} is not supported by this VMM yet`);
}

function invalid(field: string, message: string): ApiError {
  return new ApiError('invalid-config', message, { details: { field } });
}

function serialSink(config: VmConfig): SerialSink {
  const serial = config.serial;
  if (serial === undefined) return { kind: 'off' };
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

/** Checks `config` and resolves it for the builder. Throws ApiError (invalid-config / not-supported). */
export function resolveMachineConfig(config: VmConfig, hostMemory = totalmem()): MachineConfig {
  const record = config as unknown as Record<string, unknown>;
  for (const key of UNSUPPORTED_LISTS) {
    const v = record[key];
    if (Array.isArray(v) && v.length > 0) throw notSupported(`"${key}" (${v.length} configured)`);
  }
  for (const key of UNSUPPORTED_SINGLES) {
    if (record[key] !== undefined && record[key] !== null) throw notSupported(`"${key}"`);
  }
  const console = config.console;
  if (console !== undefined && console.mode !== 'Off' && console.mode !== 'Null') {
    throw notSupported(`console mode ${console.mode} (virtio-console); use "console": {"mode": "Off"} and the serial port`);
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
  return {
    vcpus,
    memoryBytes: size,
    kernel: payload.kernel,
    ...(payload.initramfs === undefined ? {} : { initramfs: payload.initramfs }),
    cmdline: payload.cmdline ?? '',
    serial: serialSink(config),
  };
}
