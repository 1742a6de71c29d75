// The VmConfig keys (Cloud Hypervisor's spec, packages/api/src/routes/fixtures/cloud-hypervisor.yaml) that ask for something this VMM does not build,
// refused by name rather than accepted and dropped. A key at its spec default (shared: false,
// iommu: false, ...) asks for nothing and passes. allowlist.test.ts checks that every schema key is
// either here or consumed by the resolver.
import type { VmConfig } from '@workervisor/schema';
import { notSupported, type ConfigError } from './errors.js';

interface Refusal {
  /** Key path in VmConfig; `[]` stands for every item of a list (`disks[].direct`). */
  path: string;
  /** What the key would need, in the message: `disks[0].direct (O_DIRECT) is not supported ...`. */
  what: string;
  /** Whether the value asks for it; by default any value but absent, null, false and []. */
  asks?: (value: unknown, config: VmConfig) => boolean;
  /** The whole message, where the pattern above does not fit. */
  message?: (field: string, value: unknown) => string;
}

const isTrue = (v: unknown): boolean => v === true;
const isFalse = (v: unknown): boolean => v === false;
const notEqual = (wanted: unknown) => (v: unknown) => v !== undefined && v !== null && v !== wanted;

/**
 * Landlock is honoured at start only (`workervisor --landlock`, landlock-exec.ts): the VMM must
 * restrict its main thread and exec itself so every Node thread is in the domain, which a VMM that
 * is already serving the API (vm.create) or an in-process SDK VMM cannot do.
 */
function landlock(field: string): string {
  return `"${field}": Landlock is applied only when the VMM starts (workervisor --landlock${field === 'landlock_rules' ? ' --landlock-rules path=P,access=r|w|rw' : ''}): a running VMM's Node threads cannot all be put in a Landlock domain, so none would be applied; remove the key${field === 'landlock_enable' ? ' or set it to false' : ''} and start the VMM with --landlock`;
}

/** A device that is virtio-mmio and has no IOMMU: its PCI and IOMMU keys. */
function mmioPlacement(at: string): Refusal[] {
  return [
    { path: `${at}.iommu`, what: 'there is no virtual IOMMU', asks: isTrue },
    { path: `${at}.pci_segment`, what: `${at.replace('[]', '')} is virtio-mmio` },
    { path: `${at}.pci_device_id`, what: `${at.replace('[]', '')} is virtio-mmio` },
  ];
}

/** Only one topology is built: one thread per core, every vCPU a core of one die in one package (cpuid.ts). */
function otherTopology(value: unknown, config: VmConfig): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const built: Record<string, number> = { threads_per_core: 1, cores_per_die: config.cpus?.boot_vcpus ?? 1, dies_per_package: 1, packages: 1 };
  return Object.entries(value).some(([key, n]) => n !== undefined && n !== built[key]);
}

const SMBIOS = 'SMBIOS tables';

export const REFUSALS: readonly Refusal[] = [
  // Devices and sections with no emulation.
  { path: 'fs', what: 'virtio-fs' },
  { path: 'pmem', what: 'virtio-pmem' },
  { path: 'devices', what: 'VFIO device passthrough' },
  { path: 'user_devices', what: 'vfio-user devices' },
  { path: 'vdpa', what: 'vDPA devices' },
  { path: 'generic_vhost_user', what: 'vhost-user devices' },
  { path: 'numa', what: 'guest NUMA nodes' },
  { path: 'pci_segments', what: 'PCI segments; devices are virtio-mmio' },
  { path: 'rate_limit_groups', what: 'shared rate limit groups' },
  { path: 'tpm', what: 'a TPM' },
  { path: 'rtc', what: 'an RTC device' },
  { path: 'iommu', what: 'a virtual IOMMU', asks: isTrue },
  { path: 'watchdog', what: 'a watchdog device', asks: isTrue },
  {
    path: 'pvpanic',
    what: 'a VM without the pvpanic device',
    asks: isFalse,
    message: () => 'pvpanic: false asks for no pvpanic device, but this VMM always has one (a guest kernel panic ends the VMM with exit status 3); remove the key or set it to true',
  },
  { path: 'debug_console.mode', what: 'a debug console; only mode Off', asks: notEqual('Off') },
  { path: 'debug_console.file', what: 'a debug console' },
  { path: 'debug_console.iobase', what: 'a debug console' },
  // Accepting a sandbox request without applying it would be worse than refusing it (issue 9);
  // the CLI honours the same request as --landlock.
  { path: 'landlock_enable', what: 'Landlock', asks: isTrue, message: landlock },
  { path: 'landlock_rules', what: 'Landlock', asks: (v) => v !== undefined && v !== null, message: landlock },

  { path: 'payload.firmware', what: 'firmware boot' },
  { path: 'payload.igvm', what: 'IGVM payloads' },
  { path: 'payload.host_data', what: 'SEV-SNP host data' },

  {
    path: 'cpus.topology',
    what: 'a topology other than one thread per core and every vCPU a core of one die in one package',
    asks: otherTopology,
  },
  { path: 'cpus.kvm_hyperv', what: 'Hyper-V enlightenments', asks: isTrue },
  { path: 'cpus.max_phys_bits', what: "a guest physical address width of its own; the guest sees the host's" },
  { path: 'cpus.nested', what: 'hiding VMX/SVM from the guest; it sees what KVM offers', asks: isFalse },
  { path: 'cpus.affinity', what: 'pinning vCPUs to host CPUs' },
  { path: 'cpus.features.amx', what: 'AMX for the guest', asks: isTrue },
  // 'Vm', the spec's default, is accepted as every default is; only a per-vCPU cookie asks for more.
  { path: 'cpus.core_scheduling', what: 'per-vCPU core scheduling', asks: (v) => v === 'Vcpu' },

  { path: 'memory.hotplug_size', what: 'memory hotplug' },
  { path: 'memory.hotplugged_size', what: 'memory hotplug' },
  { path: 'memory.hotplug_method', what: 'memory hotplug other than ACPI', asks: notEqual('Acpi') },
  { path: 'memory.mergeable', what: 'KSM page merging', asks: isTrue },
  { path: 'memory.shared', what: 'guest RAM shared with vhost-user backends', asks: isTrue },
  { path: 'memory.hugepages', what: 'huge pages from hugetlbfs for guest RAM', asks: isTrue },
  { path: 'memory.hugepage_size', what: 'huge pages from hugetlbfs for guest RAM' },
  { path: 'memory.prefault', what: 'prefaulting guest RAM', asks: isTrue },
  { path: 'memory.reserve', what: 'reserving swap for guest RAM; it is mapped MAP_NORESERVE', asks: isTrue },
  { path: 'memory.zones', what: 'memory zones' },

  { path: 'disks[].vhost_user', what: 'a vhost-user block device', asks: isTrue },
  { path: 'disks[].vhost_socket', what: 'a vhost-user block device' },
  { path: 'disks[].direct', what: 'O_DIRECT', asks: isTrue },
  { path: 'disks[].num_queues', what: 'multi-queue virtio-blk', asks: (v) => typeof v === 'number' && v > 1 },
  { path: 'disks[].rate_limiter_config', what: 'disk rate limiting' },
  { path: 'disks[].rate_limit_group', what: 'disk rate limiting' },
  { path: 'disks[].queue_affinity', what: 'virtqueue CPU affinity' },
  { path: 'disks[].image_type', what: 'only Raw images', asks: notEqual('Raw') },
  { path: 'disks[].backing_files', what: 'backing files', asks: isTrue },
  ...mmioPlacement('disks[]'),

  { path: 'net[].vhost_user', what: 'a vhost-user network device', asks: isTrue },
  { path: 'net[].vhost_socket', what: 'a vhost-user network device' },
  { path: 'net[].vhost_mode', what: 'vhost-user', asks: notEqual('Client') },
  { path: 'net[].rate_limiter_config', what: 'network rate limiting' },
  { path: 'net[].mtu', what: 'VIRTIO_NET_F_MTU; the tap keeps its MTU, 1500 for a new one' },
  { path: 'net[].num_queues', what: 'multi-queue virtio-net; use 2, one queue pair', asks: (v) => typeof v === 'number' && v > 2 },
  ...mmioPlacement('net[]'),

  ...mmioPlacement('rng'),
  ...mmioPlacement('console'),
  ...mmioPlacement('vsock'),
  ...mmioPlacement('balloon'),

  { path: 'platform.num_pci_segments', what: 'PCI segments; devices are virtio-mmio' },
  { path: 'platform.iommu_segments', what: 'a virtual IOMMU' },
  { path: 'platform.iommu_address_width_bits', what: 'a virtual IOMMU' },
  { path: 'platform.iommufd', what: 'iommufd for VFIO', asks: isTrue },
  { path: 'platform.tdx', what: 'Intel TDX', asks: isTrue },
  { path: 'platform.sev_snp', what: 'AMD SEV-SNP', asks: isTrue },
  ...['system_serial_number', 'serial_number', 'system_uuid', 'uuid', 'oem_strings', 'system_manufacturer', 'system_product_name', 'system_version', 'system_family', 'system_sku_number', 'chassis_asset_tag'].map(
    (key): Refusal => ({ path: `platform.${key}`, what: SMBIOS }),
  ),
];

function asksByDefault(v: unknown): boolean {
  return v !== undefined && v !== null && v !== false && !(Array.isArray(v) && v.length === 0);
}

/** Every value at `path` with its concrete key path (`disks[1].direct`). */
function valuesAt(root: unknown, path: string): Array<{ field: string; value: unknown }> {
  let found: Array<{ field: string; value: unknown }> = [{ field: '', value: root }];
  for (const segment of path.split('.')) {
    const list = segment.endsWith('[]');
    const key = list ? segment.slice(0, -2) : segment;
    const next: typeof found = [];
    for (const { field, value } of found) {
      if (typeof value !== 'object' || value === null) continue;
      const child = (value as Record<string, unknown>)[key];
      const at = field === '' ? key : `${field}.${key}`;
      if (!list) next.push({ field: at, value: child });
      else if (Array.isArray(child)) child.forEach((item, i) => next.push({ field: `${at}[${i}]`, value: item }));
    }
    found = next;
  }
  return found;
}

/** The value as the message shows it after the key: nothing for `true` or an object, a count for a list. */
function shown(value: unknown): string {
  if (value === true || (typeof value === 'object' && value !== null && !Array.isArray(value))) return '';
  if (Array.isArray(value)) return ` with ${value.length} ${value.length === 1 ? 'entry' : 'entries'}`;
  return ` ${String(value)}`;
}

/** The first key of `config` that asks for something not built, as the error to throw; undefined if none. */
export function firstRefusal(config: VmConfig): ConfigError | undefined {
  for (const r of REFUSALS) {
    for (const { field, value } of valuesAt(config, r.path)) {
      if (!(r.asks ?? asksByDefault)(value, config)) continue;
      return notSupported(field, r.message?.(field, value) ?? `${field}${shown(value)} (${r.what}) is not supported by this VMM yet`);
    }
  }
  return undefined;
}
