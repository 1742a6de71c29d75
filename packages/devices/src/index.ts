export type { BusDevice, IrqTrigger, VmExitRequester } from './bus-device.js';
export type { GuestMemory, MemoryDiscard } from './guest-memory.js';
export { Bus, BusError, type BusMetrics } from './bus.js';
export { BytePortBusDevice, type ByteRegisterDevice } from './legacy/byte-port-bus.js';
export {
  Serial,
  SerialError,
  SERIAL_PORT_COUNT,
  SERIAL_RX_CAPACITY,
  type SerialOutput,
  type SerialOptions,
  type SerialMetrics,
  type SerialState,
} from './legacy/serial.js';
export {
  I8042,
  I8042Error,
  I8042_PORT_SPAN,
  I8042_DATA_OFFSET,
  I8042_COMMAND_OFFSET,
  I8042_BUFFER_SIZE,
  CTRL_ALT_DEL_SET2,
  type I8042Options,
  type I8042Metrics,
  type I8042State,
} from './legacy/i8042.js';
export {
  AcpiGed,
  AcpiGedError,
  ACPI_GED_REGISTER_SIZE,
  GED_EVENT_POWER_BUTTON,
  type AcpiGedOptions,
  type AcpiGedMetrics,
  type AcpiGedState,
} from './legacy/acpi-ged.js';
export { PvPanic, PVPANIC_PORT_COUNT, PVPANIC_PANICKED, PVPANIC_CRASH_LOADED, type PvPanicOptions, type PvPanicMetrics } from './legacy/pvpanic.js';
export { AcpiShutdown, ACPI_SHUTDOWN_PORT_COUNT, type AcpiShutdownOptions, type AcpiShutdownMetrics } from './legacy/acpi-shutdown.js';
export {
  DebugPort,
  DebugPortError,
  DEBUG_PORT_COUNT,
  DEBUG_PORT_HISTORY,
  type DebugCode,
  type DebugPortOptions,
  type DebugPortMetrics,
  type DebugPortState,
} from './legacy/debug-port.js';
export { BootTimer, BOOT_COMPLETE_MAGIC, instantNow, type Instant, type BootTime, type BootTimerMetrics } from './legacy/boot-timer.js';
export {
  VIRTIO_ID_NET,
  VIRTIO_ID_BLOCK,
  VIRTIO_ID_CONSOLE,
  VIRTIO_ID_RNG,
  VIRTIO_ID_BALLOON,
  VIRTIO_ID_VSOCK,
  VIRTIO_F_VERSION_1,
  VIRTIO_F_RING_INDIRECT_DESC,
  VIRTIO_F_RING_EVENT_IDX,
  VirtioError,
  type VirtioErrorKind,
  type VirtioDevice,
  type VirtioInterrupt,
  type ActivateContext,
  type ActivationState,
} from './virtio/device.js';
export { Queue, MAX_QUEUE_SIZE, type Descriptor, type DescriptorChain, type QueueMetrics, type QueueState } from './virtio/queue.js';
export { MmioTransport, REG_QUEUE_NOTIFY, MMIO_MAGIC, MMIO_VERSION, type MmioTransportMetrics, type MmioTransportOptions, type MmioTransportState } from './virtio/mmio.js';
export { VirtioBlock, DEFAULT_BLOCK_QUEUE_SIZE, SECTOR_SIZE, type VirtioBlockOptions, type VirtioBlockMetrics } from './virtio/block.js';
export { FileBlockBackend, type BlockBackend, type FileBlockBackendOptions } from './virtio/block-backend.js';
export {
  VirtioRng,
  DEFAULT_RNG_QUEUE_SIZE,
  MAX_RNG_REQUEST_BYTES,
  type VirtioRngOptions,
  type VirtioRngMetrics,
  type VirtioRngState,
} from './virtio/rng.js';
export {
  VirtioConsole,
  VIRTIO_CONSOLE_F_SIZE,
  VIRTIO_CONSOLE_F_MULTIPORT,
  VIRTIO_CONSOLE_F_EMERG_WRITE,
  DEFAULT_CONSOLE_QUEUE_SIZE,
  DEFAULT_CONSOLE_INPUT_CAPACITY,
  type ConsoleOutput,
  type VirtioConsoleOptions,
  type VirtioConsoleMetrics,
  type VirtioConsoleState,
} from './virtio/console.js';
export {
  VirtioNet,
  DEFAULT_NET_QUEUE_SIZE,
  NET_HDR_SIZE,
  MAX_FRAME_SIZE,
  parseMac,
  formatMac,
  randomMac,
  type NetBackend,
  type VirtioNetOptions,
  type VirtioNetState,
  type VirtioNetMetrics,
} from './virtio/net/index.js';
export {
  VirtioVsock,
  VsockConnection,
  VSOCK_HDR_SIZE,
  VSOCK_HOST_CID,
  VSOCK_MAX_PKT_PAYLOAD,
  VSOCK_CONN_BUF_ALLOC,
  DEFAULT_VSOCK_QUEUE_SIZE,
  DEFAULT_VSOCK_MAX_CONNECTIONS,
  DEFAULT_VSOCK_CONNECT_TIMEOUT_MS,
  decodeHeader as decodeVsockHeader,
  encodeHeader as encodeVsockHeader,
  type VsockHeader,
  type VsockBackend,
  type VsockHostStream,
  type VsockStreamEvents,
  type VsockConnectResult,
  type VirtioVsockOptions,
  type VirtioVsockMetrics,
  type VirtioVsockState,
} from './virtio/vsock/index.js';
export {
  RateLimiter,
  RateLimiterError,
  TokenBucket,
  tokenBucketFromApi,
  type RateLimiterConfig,
  type RateLimiterState,
  type TokenBucketConfig,
  type TokenBucketState,
  type MillisecondClock,
} from './rate-limiter.js';
export {
  VirtioBalloon,
  VIRTIO_BALLOON_F_MUST_TELL_HOST,
  VIRTIO_BALLOON_F_STATS_VQ,
  VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
  VIRTIO_BALLOON_F_FREE_PAGE_HINT,
  VIRTIO_BALLOON_F_PAGE_POISON,
  VIRTIO_BALLOON_F_PAGE_REPORTING,
  DEFAULT_BALLOON_QUEUE_SIZE,
  MAX_BALLOON_PFNS_PER_REQUEST,
  type VirtioBalloonOptions,
  type VirtioBalloonMetrics,
  type VirtioBalloonState,
} from './virtio/balloon.js';
export { BALLOON_PAGE_SIZE } from './virtio/balloon-pages.js';
export { BALLOON_STAT_NAMES } from './virtio/balloon-stats.js';
