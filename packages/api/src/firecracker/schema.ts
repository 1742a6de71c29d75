// Firecracker's `FullVmConfiguration` (swagger 2.0), the format of its
// --config-file. Every optional field also accepts null, as Firecracker's serde Options do.
// Spec: https://github.com/firecracker-microvm/firecracker/blob/main/src/firecracker/swagger/firecracker.yaml
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Strict, StringEnum, UInt64 } from '@workervisor/schema';

/** An optional field that may also be JSON null. */
const Nullable = <T extends TSchema>(t: T) => Type.Optional(Type.Union([t, Type.Null()]));

export const FcTokenBucketSchema = Strict({
  size: UInt64(),
  one_time_burst: Nullable(UInt64()),
  refill_time: UInt64(),
});

export const FcRateLimiterSchema = Strict({
  bandwidth: Nullable(FcTokenBucketSchema),
  ops: Nullable(FcTokenBucketSchema),
});

export const FcBootSourceSchema = Strict({
  kernel_image_path: Type.String(),
  boot_args: Nullable(Type.String()),
  initrd_path: Nullable(Type.String()),
});

export const FcDriveSchema = Strict({
  drive_id: Type.String(),
  partuuid: Nullable(Type.String()),
  is_root_device: Type.Boolean(),
  cache_type: Nullable(StringEnum(['Unsafe', 'Writeback'])),
  is_read_only: Nullable(Type.Boolean()),
  path_on_host: Nullable(Type.String()),
  rate_limiter: Nullable(FcRateLimiterSchema),
  io_engine: Nullable(StringEnum(['Sync', 'Async'])),
  socket: Nullable(Type.String()),
});

export const FcMachineConfigSchema = Strict({
  vcpu_count: Type.Integer({ minimum: 1, maximum: 32 }),
  mem_size_mib: Type.Integer({ minimum: 1, maximum: 2 ** 32 }),
  smt: Nullable(Type.Boolean()),
  track_dirty_pages: Nullable(Type.Boolean()),
  huge_pages: Nullable(StringEnum(['None', 'Transparent', '2M'])),
  cpu_template: Nullable(StringEnum(['C3', 'T2', 'T2S', 'T2CL', 'T2A', 'V1N1', 'None'])),
});

export const FcNetworkInterfaceSchema = Strict({
  iface_id: Type.String(),
  host_dev_name: Type.String(),
  guest_mac: Nullable(Type.String()),
  mtu: Nullable(Type.Integer({ minimum: 68, maximum: 65535 })),
  rx_rate_limiter: Nullable(FcRateLimiterSchema),
  tx_rate_limiter: Nullable(FcRateLimiterSchema),
});

export const FcVsockSchema = Strict({
  guest_cid: Type.Integer({ minimum: 3, maximum: 2 ** 32 - 1 }),
  uds_path: Type.String(),
  vsock_id: Nullable(Type.String()),
});

export const FcBalloonSchema = Strict({
  amount_mib: Type.Integer({ minimum: 0 }),
  deflate_on_oom: Type.Boolean(),
  stats_polling_interval_s: Nullable(Type.Integer({ minimum: 0 })),
  free_page_hinting: Nullable(Type.Boolean()),
  free_page_reporting: Nullable(Type.Boolean()),
});

export const FcLoggerSchema = Strict({
  level: Nullable(Type.String()),
  log_path: Nullable(Type.String()),
  show_level: Nullable(Type.Boolean()),
  show_log_origin: Nullable(Type.Boolean()),
  module: Nullable(Type.String()),
});

export const FcMetricsSchema = Strict({
  metrics_path: Type.String(),
  emit_id: Nullable(Type.Boolean()),
  properties: Nullable(Type.Record(Type.String(), Type.String())),
});

export const FcEntropySchema = Strict({ rate_limiter: Nullable(FcRateLimiterSchema) });

export const FcPmemSchema = Strict({
  id: Type.String(),
  path_on_host: Type.String(),
  root_device: Nullable(Type.Boolean()),
  read_only: Nullable(Type.Boolean()),
  rate_limiter: Nullable(FcRateLimiterSchema),
});

// Sections we cannot honour yet are only checked for being objects; translate() rejects them
// by name when present, whatever their content.
const AnyObject = Type.Record(Type.String(), Type.Unknown());

export const FullVmConfigurationSchema = Strict({
  'boot-source': FcBootSourceSchema,
  drives: Nullable(Type.Array(FcDriveSchema)),
  'machine-config': Nullable(FcMachineConfigSchema),
  'network-interfaces': Nullable(Type.Array(FcNetworkInterfaceSchema)),
  vsock: Nullable(FcVsockSchema),
  balloon: Nullable(FcBalloonSchema),
  logger: Nullable(FcLoggerSchema),
  metrics: Nullable(FcMetricsSchema),
  entropy: Nullable(FcEntropySchema),
  pmem: Nullable(Type.Array(FcPmemSchema)),
  'mmds-config': Nullable(AnyObject),
  'cpu-config': Nullable(AnyObject),
  'memory-hotplug': Nullable(AnyObject),
});

export type FcRateLimiter = Static<typeof FcRateLimiterSchema>;
export type FcDrive = Static<typeof FcDriveSchema>;
export type FullVmConfiguration = Static<typeof FullVmConfigurationSchema>;
