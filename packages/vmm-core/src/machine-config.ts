// MachineConfig: what the builder needs, resolved from an API VmConfig (paths, sizes, modes).
import type { LogLevel } from '@workervisor/devices';
import type { BootProtocolChoice } from './loader/kernel.js';

/** Where COM1's output goes (and, for 'tty', where its input comes from). */
export type SerialSink =
  | { kind: 'stdout' }
  | { kind: 'tty' }
  | { kind: 'off' }
  | { kind: 'file'; path: string }
  /** A Unix socket (mode 0600): one client at a time gets the output and types the input. */
  | { kind: 'socket'; path: string };

export interface MachineConfig {
  vcpus: number;
  /** Guest RAM in bytes (page multiple). */
  memoryBytes: number;
  kernel: string;
  initramfs?: string;
  cmdline: string;
  serial: SerialSink;
  /** Which entry to use for an ELF with a PVH note ('auto' = PVH). */
  protocol?: BootProtocolChoice;
  logLevel?: LogLevel;
  logFile?: string;
}
