// Fills in the defaults a VmConfig leaves out: every `default` the spec declares, plus Cloud
// Hypervisor's serde defaults for the sections the spec leaves optional without one.
import { Value } from '@sinclair/typebox/value';
import { VmConfigSchema, type VmConfig } from './vm-config.js';

/** Cloud Hypervisor's `DEFAULT_VCPUS` (vmm/src/vm_config.rs). */
export const DEFAULT_VCPUS = 1;
/** Cloud Hypervisor's `DEFAULT_MEMORY_MB`, in bytes. */
export const DEFAULT_MEMORY_SIZE = 512 * 1024 * 1024;

/**
 * A copy of `config` with defaults applied: nested `default`s from the spec (disk queue_size 128,
 * net ip/mask, cpus.nested true, ...) and, when absent, `cpus` {1, 1}, `memory` 512 MiB,
 * `serial` Tty and `console` Off. Cloud Hypervisor defaults to serial Null + console Tty (virtio-console);
 * Workervisor keeps COM1 as the default console and adds a virtio-console only when `console` asks for
 * one (README "Differences"). The input is not modified.
 */
export function withDefaults(config: VmConfig): VmConfig {
  const copy = Value.Clone(config);
  copy.cpus ??= { boot_vcpus: DEFAULT_VCPUS, max_vcpus: DEFAULT_VCPUS };
  copy.memory ??= { size: DEFAULT_MEMORY_SIZE };
  copy.serial ??= { mode: 'Tty' };
  copy.console ??= { mode: 'Off' };
  return Value.Default(VmConfigSchema, copy) as VmConfig;
}
