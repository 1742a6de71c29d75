// Request and response bodies of the Cloud Hypervisor routes other than VmConfig and the device
// configs: info, ping, counters, resize, snapshot/restore and migration (Cloud Hypervisor's spec,
// vendored as packages/api/src/routes/fixtures/cloud-hypervisor.yaml).
import { Type, type Static } from '@sinclair/typebox';
import { Int, Int16, Int64, Strict, StringEnum, UInt64, UInt8, VmMemoryZoneUpdateDataSchema } from './common.js';
import { VmConfigSchema } from './vm-config.js';

const Opt = Type.Optional;

export const VmmPingResponseSchema = Strict(
  {
    build_version: Opt(Type.String()),
    version: Type.String(),
    pid: Opt(Int64()),
    features: Opt(Type.Array(Type.String())),
  },
  { description: 'Virtual Machine Monitor information' },
);

export const VmStateSchema = StringEnum(['Created', 'Running', 'Shutdown', 'Paused', 'BreakPoint']);

export const DeviceNodeSchema = Strict({
  id: Opt(Type.String()),
  // A Rust enum with data in Cloud Hypervisor; the spec only says "object".
  resources: Opt(Type.Array(Type.Record(Type.String(), Type.Unknown()))),
  children: Opt(Type.Array(Type.String())),
  pci_bdf: Opt(Type.String()),
});

export const VmInfoSchema = Strict(
  {
    config: VmConfigSchema,
    state: VmStateSchema,
    memory_actual_size: Opt(UInt64({ description: 'bytes' })),
    device_tree: Opt(Type.Record(Type.String(), DeviceNodeSchema)),
  },
  { description: 'Virtual Machine information' },
);

/** Per-device counters: device id -> counter name -> value. */
export const VmCountersSchema = Type.Record(Type.String(), Type.Record(Type.String(), Int64()));

export const PciDeviceInfoSchema = Strict(
  { id: Type.String(), bdf: Type.String() },
  { description: 'Information about a PCI device' },
);

export const VmResizeSchema = Strict({
  desired_vcpus: Opt(Int({ minimum: 1 })),
  desired_ram: Opt(UInt64({ description: 'desired memory ram in bytes' })),
  desired_balloon: Opt(UInt64({ description: 'desired balloon size in bytes' })),
});

export const VmResizeDiskSchema = Strict({
  id: Opt(Type.String({ description: 'disk identifier' })),
  desired_size: Opt(UInt64({ description: 'desired disk size in bytes' })),
});

export const VmResizeZoneSchema = Strict({
  id: Opt(Type.String()),
  desired_ram: Opt(UInt64({ description: 'desired memory zone size in bytes' })),
});

export const VmRemoveDeviceSchema = Strict({ id: Opt(Type.String()) });

export const VmSnapshotConfigSchema = Strict({ destination_url: Opt(Type.String()) });
export const VmCoredumpDataSchema = Strict({ destination_url: Opt(Type.String()) });

export const MemoryRestoreModeSchema = StringEnum(['Copy', 'OnDemand'], { default: 'Copy' });

export const RestoreConfigSchema = Strict({
  source_url: Type.String(),
  prefault: Opt(Type.Boolean()),
  memory_restore_mode: Opt(MemoryRestoreModeSchema),
  resume: Opt(Type.Boolean()),
  zone_updates: Opt(Type.Array(VmMemoryZoneUpdateDataSchema)),
});

export const MigrationModeSchema = StringEnum(['Precopy', 'Postcopy'], { default: 'Precopy' });
export const TimeoutStrategySchema = StringEnum(['Cancel', 'Ignore'], { default: 'Cancel' });

export const ReceiveMigrationDataSchema = Strict({
  receiver_url: Type.String(),
  tls_dir: Opt(Type.String()),
  memory_mode: Opt(MigrationModeSchema),
  zone_updates: Opt(Type.Array(VmMemoryZoneUpdateDataSchema)),
});

export const SendMigrationDataSchema = Strict({
  destination_url: Type.String(),
  local: Opt(Type.Boolean()),
  downtime_ms: Opt(UInt64({ minimum: 1, default: 300, description: 'Maximum downtime in milliseconds' })),
  timeout_s: Opt(UInt64({ minimum: 1, default: 3600, description: 'Migration timeout in seconds' })),
  timeout_strategy: Opt(TimeoutStrategySchema),
  connections: Opt(Int({ minimum: 1, maximum: 128, default: 1 })),
  tls_dir: Opt(Type.String()),
  memory_mode: Opt(MigrationModeSchema),
});

export const VmAddUserDeviceSchema = Strict({ socket: Type.String(), pci_segment: Opt(Int16()), pci_device_id: Opt(UInt8()) });

export type VmmPingResponse = Static<typeof VmmPingResponseSchema>;
export type VmState = Static<typeof VmStateSchema>;
export type DeviceNode = Static<typeof DeviceNodeSchema>;
export type VmInfo = Static<typeof VmInfoSchema>;
export type VmCounters = Static<typeof VmCountersSchema>;
export type PciDeviceInfo = Static<typeof PciDeviceInfoSchema>;
export type VmResize = Static<typeof VmResizeSchema>;
export type VmResizeDisk = Static<typeof VmResizeDiskSchema>;
export type VmResizeZone = Static<typeof VmResizeZoneSchema>;
export type VmRemoveDevice = Static<typeof VmRemoveDeviceSchema>;
export type VmSnapshotConfig = Static<typeof VmSnapshotConfigSchema>;
export type VmCoredumpData = Static<typeof VmCoredumpDataSchema>;
export type RestoreConfig = Static<typeof RestoreConfigSchema>;
export type ReceiveMigrationData = Static<typeof ReceiveMigrationDataSchema>;
export type SendMigrationData = Static<typeof SendMigrationDataSchema>;
export type VmAddUserDevice = Static<typeof VmAddUserDeviceSchema>;
