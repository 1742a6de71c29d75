// Fills in the defaults a VmConfig leaves out: every `default` the spec declares, plus Workervisor's
// defaults (vm-defaults.ts) for the sections the spec leaves optional without one.
import { Value } from '@sinclair/typebox/value';
import { VmConfigSchema, type VmConfig } from './vm-config.js';
import { DEFAULT_CONSOLE_MODE, DEFAULT_MEMORY_SIZE, DEFAULT_PVPANIC, DEFAULT_SERIAL_MODE, DEFAULT_VCPUS } from './vm-defaults.js';

/**
 * A copy of `config` with defaults applied: nested `default`s from the spec (disk queue_size 128,
 * net ip/mask, cpus.nested true, ...) and, when absent, `cpus` {1, 1}, `memory` 512 MiB,
 * `serial` Tty, `console` Off and `pvpanic` true. Cloud Hypervisor defaults to serial Null + console
 * Tty (virtio-console) and no pvpanic; Workervisor keeps COM1 as the default console, adds a
 * virtio-console only when `console` asks for one and always has its pvpanic device (README
 * "Differences"). The input is not modified.
 */
export function withDefaults(config: VmConfig): VmConfig {
  const copy = Value.Clone(config);
  copy.cpus ??= { boot_vcpus: DEFAULT_VCPUS, max_vcpus: DEFAULT_VCPUS };
  copy.memory ??= { size: DEFAULT_MEMORY_SIZE };
  copy.serial ??= { mode: DEFAULT_SERIAL_MODE };
  copy.console ??= { mode: DEFAULT_CONSOLE_MODE };
  copy.pvpanic ??= DEFAULT_PVPANIC;
  return Value.Default(VmConfigSchema, copy) as VmConfig;
}
