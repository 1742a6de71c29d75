// Workervisor's VmConfig defaults, each written once: vm-config.ts declares the spec's from here,
// withDefaults fills them in (for vm.info) and vmm-core's resolver falls back to them. No TypeBox
// here, so the VMM core loads this table (@workervisor/schema/defaults) without the schemas.

/** Cloud Hypervisor's `DEFAULT_VCPUS` (vmm/src/vm_config.rs). */
export const DEFAULT_VCPUS = 1;
/** Cloud Hypervisor's `DEFAULT_MEMORY_MB`, in bytes. */
export const DEFAULT_MEMORY_SIZE = 512 * 1024 * 1024;
/** COM1 on the terminal. Cloud Hypervisor defaults to Null and a Tty virtio-console (README "Differences"). */
export const DEFAULT_SERIAL_MODE = 'Tty';
/** No virtio-console unless `console` asks for one. */
export const DEFAULT_CONSOLE_MODE = 'Off';
/** The pvpanic device is always built (the spec's default is false: README "Differences"). */
export const DEFAULT_PVPANIC = true;

/** DiskConfig's defaults in Cloud Hypervisor's spec (packages/api/src/routes/fixtures/cloud-hypervisor.yaml). */
export const DISK_DEFAULTS = { readonly: false, num_queues: 1, queue_size: 128, lock_granularity: 'ByteRange' } as const;

/** NetConfig's defaults in Cloud Hypervisor's spec (packages/api/src/routes/fixtures/cloud-hypervisor.yaml): a tap the VMM creates gets ip/mask. */
export const NET_DEFAULTS = {
  ip: '192.168.249.1',
  mask: '255.255.255.0',
  num_queues: 2,
  queue_size: 256,
  vhost_mode: 'Client',
  offload_tso: true,
  offload_ufo: true,
  offload_csum: true,
} as const;
