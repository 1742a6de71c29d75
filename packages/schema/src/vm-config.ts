// VmConfig and every device configuration it contains, field for field from Cloud Hypervisor's
// spec (packages/api/src/routes/fixtures/cloud-hypervisor.yaml, components.schemas), with the spec's defaults.
import { Type, type Static } from '@sinclair/typebox';
import {
  Bool,
  Int,
  Int16,
  Int32,
  Int64,
  Int8,
  RateLimitGroupConfigSchema,
  RateLimiterConfigSchema,
  Strict,
  StringEnum,
  UInt16,
  UInt32,
  UInt64,
  UInt8,
  VirtQueueAffinitySchema,
} from './common.js';
import { DISK_DEFAULTS, NET_DEFAULTS } from './vm-defaults.js';

const Opt = Type.Optional;

/** The PCI placement fields most devices share. */
const pci = () => ({ pci_segment: Opt(Int16()), pci_device_id: Opt(UInt8()) });

export const PayloadConfigSchema = Strict(
  {
    firmware: Opt(Type.String()),
    kernel: Opt(Type.String()),
    cmdline: Opt(Type.String()),
    initramfs: Opt(Type.String()),
    igvm: Opt(Type.String()),
    host_data: Opt(Type.String()),
  },
  { description: 'Payloads to boot in guest' },
);

export const CpuAffinitySchema = Strict({ vcpu: Int({ minimum: 0 }), host_cpus: Type.Array(Int({ minimum: 0 })) });
export const CpuFeaturesSchema = Strict({ amx: Opt(Type.Boolean()) });
export const CpuTopologySchema = Strict({
  threads_per_core: Opt(Int({ minimum: 0 })),
  cores_per_die: Opt(Int({ minimum: 0 })),
  dies_per_package: Opt(Int({ minimum: 0 })),
  packages: Opt(Int({ minimum: 0 })),
});
export const CoreSchedulingModeSchema = StringEnum(['Vm', 'Vcpu', 'Off'], { default: 'Vm' });

export const CpusConfigSchema = Strict({
  boot_vcpus: Int({ minimum: 1 }),
  max_vcpus: Int({ minimum: 1 }),
  topology: Opt(CpuTopologySchema),
  kvm_hyperv: Opt(Bool(false)),
  max_phys_bits: Opt(Int({ minimum: 0 })),
  nested: Opt(Bool(true)),
  affinity: Opt(Type.Array(CpuAffinitySchema)),
  features: Opt(CpuFeaturesSchema),
  core_scheduling: Opt(CoreSchedulingModeSchema),
});

export const PciSegmentConfigSchema = Strict({
  pci_segment: Int16(),
  mmio32_aperture_weight: Opt(Int32()),
  mmio64_aperture_weight: Opt(Int32()),
});

export const PlatformConfigSchema = Strict({
  num_pci_segments: Opt(Int16()),
  iommu_segments: Opt(Type.Array(Int16())),
  iommu_address_width_bits: Opt(UInt8()),
  system_serial_number: Opt(Type.String()),
  serial_number: Opt(Type.String({ deprecated: true })),
  system_uuid: Opt(Type.String()),
  uuid: Opt(Type.String({ deprecated: true })),
  oem_strings: Opt(Type.Array(Type.String())),
  system_manufacturer: Opt(Type.String()),
  system_product_name: Opt(Type.String()),
  system_version: Opt(Type.String()),
  system_family: Opt(Type.String()),
  system_sku_number: Opt(Type.String()),
  chassis_asset_tag: Opt(Type.String()),
  tdx: Opt(Bool(false)),
  sev_snp: Opt(Bool(false)),
  iommufd: Opt(Bool(false)),
  vfio_p2p_dma: Opt(Bool(true)),
});

export const MemoryZoneConfigSchema = Strict({
  id: Type.String(),
  size: UInt64(),
  file: Opt(Type.String()),
  mergeable: Opt(Bool(false)),
  shared: Opt(Bool(false)),
  hugepages: Opt(Bool(false)),
  hugepage_size: Opt(UInt64()),
  host_numa_node: Opt(Int32()),
  hotplug_size: Opt(UInt64()),
  hotplugged_size: Opt(UInt64()),
  prefault: Opt(Bool(false)),
  reserve: Opt(Bool(false)),
});

/** Guest RAM; `size` in bytes. */
export const MemoryConfigSchema = Strict({
  size: UInt64({ description: 'Guest RAM in bytes' }),
  hotplug_size: Opt(UInt64()),
  hotplugged_size: Opt(UInt64()),
  mergeable: Opt(Bool(false)),
  hotplug_method: Opt(Type.String({ default: 'Acpi' })),
  shared: Opt(Bool(false)),
  hugepages: Opt(Bool(false)),
  hugepage_size: Opt(UInt64()),
  prefault: Opt(Bool(false)),
  reserve: Opt(Bool(false)),
  thp: Opt(Bool(true)),
  zones: Opt(Type.Array(MemoryZoneConfigSchema)),
});

export const ImageTypeSchema = StringEnum(['FixedVhd', 'Qcow2', 'Raw', 'Vhdx', 'Unknown']);
export const LockGranularitySchema = StringEnum(['ByteRange', 'Full'], { default: DISK_DEFAULTS.lock_granularity });

export const DiskConfigSchema = Strict({
  path: Opt(Type.String()),
  readonly: Opt(Bool(DISK_DEFAULTS.readonly)),
  direct: Opt(Bool(false)),
  iommu: Opt(Bool(false)),
  num_queues: Opt(Int({ minimum: 1, default: DISK_DEFAULTS.num_queues })),
  queue_size: Opt(UInt16({ minimum: 1, default: DISK_DEFAULTS.queue_size })),
  vhost_user: Opt(Bool(false)),
  vhost_socket: Opt(Type.String()),
  rate_limiter_config: Opt(RateLimiterConfigSchema),
  ...pci(),
  id: Opt(Type.String()),
  serial: Opt(Type.String()),
  rate_limit_group: Opt(Type.String()),
  queue_affinity: Opt(Type.Array(VirtQueueAffinitySchema)),
  backing_files: Opt(Bool(false)),
  sparse: Opt(Bool(true)),
  image_type: Opt(ImageTypeSchema),
  lock_granularity: Opt(LockGranularitySchema),
});

export const NetConfigSchema = Strict({
  tap: Opt(Type.String()),
  ip: Opt(Type.String({ default: NET_DEFAULTS.ip, description: 'IPv4 or IPv6 address' })),
  mask: Opt(Type.String({ default: NET_DEFAULTS.mask })),
  mac: Opt(Type.String()),
  host_mac: Opt(Type.String()),
  mtu: Opt(Int({ minimum: 0 })),
  iommu: Opt(Bool(false)),
  num_queues: Opt(Int({ minimum: 1, default: NET_DEFAULTS.num_queues })),
  queue_size: Opt(UInt16({ minimum: 1, default: NET_DEFAULTS.queue_size })),
  vhost_user: Opt(Bool(false)),
  vhost_socket: Opt(Type.String()),
  vhost_mode: Opt(Type.String({ default: NET_DEFAULTS.vhost_mode })),
  id: Opt(Type.String()),
  ...pci(),
  rate_limiter_config: Opt(RateLimiterConfigSchema),
  offload_tso: Opt(Bool(NET_DEFAULTS.offload_tso)),
  offload_ufo: Opt(Bool(NET_DEFAULTS.offload_ufo)),
  offload_csum: Opt(Bool(NET_DEFAULTS.offload_csum)),
  // A Workervisor extension (Cloud Hypervisor's CLI has `fd=`, its REST API passes fds over
  // SCM_RIGHTS): an already-open tap file descriptor of the VMM process, opened with
  // IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (as Kata Containers hands one in).
  fd: Opt(Int({ minimum: 0, maximum: 2 ** 31 - 1 })),
});

export const RngConfigSchema = Strict({
  id: Opt(Type.String()),
  ...pci(),
  iommu: Opt(Bool(false)),
  src: Type.String(),
  // A Workervisor extension, not in Cloud Hypervisor's RngConfig: Firecracker's
  // `entropy.rate_limiter` (bandwidth in bytes, ops in requests) lands here.
  rate_limiter_config: Opt(RateLimiterConfigSchema),
});

export const RtcConfigSchema = Strict({ id: Opt(Type.String()), ...pci(), iommu: Opt(Bool(false)) });

/** virtio-balloon; `size` in bytes. */
export const BalloonConfigSchema = Strict({
  id: Opt(Type.String()),
  ...pci(),
  iommu: Opt(Bool(false)),
  size: UInt64(),
  deflate_on_oom: Opt(Bool(false)),
  free_page_reporting: Opt(Bool(false)),
  // A Workervisor extension, not in Cloud Hypervisor's BalloonConfig: Firecracker's
  // `balloon.stats_polling_interval_s` (seconds; 0 = no statistics queue) lands here.
  stats_polling_interval_s: Opt(Int({ minimum: 0, default: 0 })),
});

export const FsConfigSchema = Strict({
  tag: Type.String(),
  socket: Type.String(),
  num_queues: Int({ minimum: 1, default: 1 }),
  queue_size: UInt16({ minimum: 1, default: 1024 }),
  ...pci(),
  id: Opt(Type.String()),
});

export const GenericVhostUserConfigSchema = Strict({
  socket: Type.String(),
  queue_sizes: Type.Array(UInt16()),
  ...pci(),
  id: Opt(Type.String()),
  device_type: UInt32(),
});

export const PmemConfigSchema = Strict({
  file: Type.String(),
  size: Opt(UInt64()),
  iommu: Opt(Bool(false)),
  discard_writes: Opt(Bool(false)),
  ...pci(),
  id: Opt(Type.String()),
});

export const ConsoleModeSchema = StringEnum(['Off', 'Pty', 'Tty', 'File', 'Socket', 'Null']);

export const ConsoleConfigSchema = Strict({
  file: Opt(Type.String()),
  socket: Opt(Type.String()),
  mode: ConsoleModeSchema,
  iommu: Opt(Bool(false)),
  id: Opt(Type.String()),
  ...pci(),
});

export const SerialConfigSchema = Strict({
  file: Opt(Type.String()),
  socket: Opt(Type.String()),
  mode: ConsoleModeSchema,
});

export const DebugConsoleConfigSchema = Strict({
  file: Opt(Type.String()),
  mode: ConsoleModeSchema,
  iobase: Opt(Int({ minimum: 0, maximum: 0xffff })),
});

/** A VFIO device by sysfs path (body of vm.add-device). */
export const DeviceConfigSchema = Strict({
  path: Opt(Type.String()),
  iommu: Opt(Bool(false)),
  ...pci(),
  id: Opt(Type.String()),
  x_nv_gpudirect_clique: Opt(Int8()),
  x_exclude_mmap_bars: Opt(Type.Array(Int64())),
});

export const UserDeviceConfigSchema = Strict({ socket: Type.String(), id: Opt(Type.String()), ...pci() });
export const TpmConfigSchema = Strict({ socket: Type.String() });

export const VdpaConfigSchema = Strict({
  path: Type.String(),
  num_queues: Int({ minimum: 1, default: 1 }),
  iommu: Opt(Bool(false)),
  ...pci(),
  id: Opt(Type.String()),
});

export const VsockConfigSchema = Strict({
  cid: UInt64({ minimum: 3, description: 'Guest Vsock CID' }),
  socket: Type.String({ description: 'Path to UNIX domain socket, used to proxy vsock connections.' }),
  iommu: Opt(Bool(false)),
  ...pci(),
  id: Opt(Type.String()),
});

export const NumaDistanceSchema = Strict({ destination: Int32(), distance: Int32() });
export const NumaConfigSchema = Strict({
  guest_numa_id: Int32(),
  cpus: Opt(Type.Array(Int32())),
  distances: Opt(Type.Array(NumaDistanceSchema)),
  memory_zones: Opt(Type.Array(Type.String())),
  pci_segments: Opt(Type.Array(Int32())),
  device_id: Opt(Type.String()),
});

export const LandlockConfigSchema = Strict({ path: Type.String(), access: Type.String() });

/** The whole VM description accepted by vm.create (and carried in VmInfo.config). */
export const VmConfigSchema = Strict(
  {
    cpus: Opt(CpusConfigSchema),
    memory: Opt(MemoryConfigSchema),
    payload: PayloadConfigSchema,
    rate_limit_groups: Opt(Type.Array(RateLimitGroupConfigSchema)),
    disks: Opt(Type.Array(DiskConfigSchema)),
    net: Opt(Type.Array(NetConfigSchema)),
    rng: Opt(RngConfigSchema),
    balloon: Opt(BalloonConfigSchema),
    fs: Opt(Type.Array(FsConfigSchema)),
    generic_vhost_user: Opt(Type.Array(GenericVhostUserConfigSchema)),
    pmem: Opt(Type.Array(PmemConfigSchema)),
    serial: Opt(SerialConfigSchema),
    console: Opt(ConsoleConfigSchema),
    debug_console: Opt(DebugConsoleConfigSchema),
    devices: Opt(Type.Array(DeviceConfigSchema)),
    user_devices: Opt(Type.Array(UserDeviceConfigSchema)),
    vdpa: Opt(Type.Array(VdpaConfigSchema)),
    vsock: Opt(VsockConfigSchema),
    numa: Opt(Type.Array(NumaConfigSchema)),
    iommu: Opt(Bool(false)),
    watchdog: Opt(Bool(false)),
    rtc: Opt(RtcConfigSchema),
    pvpanic: Opt(Bool(false)),
    pci_segments: Opt(Type.Array(PciSegmentConfigSchema)),
    platform: Opt(PlatformConfigSchema),
    tpm: Opt(TpmConfigSchema),
    landlock_enable: Opt(Bool(false)),
    landlock_rules: Opt(Type.Array(LandlockConfigSchema)),
  },
  { description: 'Virtual machine configuration' },
);

export type PayloadConfig = Static<typeof PayloadConfigSchema>;
export type CpusConfig = Static<typeof CpusConfigSchema>;
export type MemoryConfig = Static<typeof MemoryConfigSchema>;
export type MemoryZoneConfig = Static<typeof MemoryZoneConfigSchema>;
export type PlatformConfig = Static<typeof PlatformConfigSchema>;
export type DiskConfig = Static<typeof DiskConfigSchema>;
export type NetConfig = Static<typeof NetConfigSchema>;
export type RngConfig = Static<typeof RngConfigSchema>;
export type RtcConfig = Static<typeof RtcConfigSchema>;
export type BalloonConfig = Static<typeof BalloonConfigSchema>;
export type FsConfig = Static<typeof FsConfigSchema>;
export type GenericVhostUserConfig = Static<typeof GenericVhostUserConfigSchema>;
export type PmemConfig = Static<typeof PmemConfigSchema>;
export type ConsoleMode = Static<typeof ConsoleModeSchema>;
export type ConsoleConfig = Static<typeof ConsoleConfigSchema>;
export type SerialConfig = Static<typeof SerialConfigSchema>;
export type DebugConsoleConfig = Static<typeof DebugConsoleConfigSchema>;
export type DeviceConfig = Static<typeof DeviceConfigSchema>;
export type UserDeviceConfig = Static<typeof UserDeviceConfigSchema>;
export type TpmConfig = Static<typeof TpmConfigSchema>;
export type VdpaConfig = Static<typeof VdpaConfigSchema>;
export type VsockConfig = Static<typeof VsockConfigSchema>;
export type NumaConfig = Static<typeof NumaConfigSchema>;
export type VmConfig = Static<typeof VmConfigSchema>;
