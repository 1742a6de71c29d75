// MachineConfig: what the builder needs, resolved from an API VmConfig (paths, sizes, modes).
import type { RateLimiterConfig } from '@workervisor/devices';
import type { LogLevel } from '@workervisor/base';
import type { LockGranularity } from './disk-lock.js';
import type { BootProtocolChoice } from './loader/kernel.js';

/**
 * Where COM1's output goes (and, for 'tty', where its input comes from): Cloud Hypervisor's serial
 * mode Tty is 'tty' (stdin and stdout), Off and Null are 'off', File is 'file', Socket is 'socket'.
 */
export type SerialSink =
  | { kind: 'tty' }
  | { kind: 'off' }
  | { kind: 'file'; path: string }
  /** A Unix socket (mode 0600): one client at a time gets the output and types the input. */
  | { kind: 'socket'; path: string };

/** One virtio-blk disk, in guest order (slot i of the virtio-mmio window, /dev/vda first). */
export interface DiskSpec {
  /** Raw image: a regular file or a host block device. */
  path: string;
  /** Open read-only and offer VIRTIO_BLK_F_RO. */
  readonly: boolean;
  /** Device id for counters (Cloud Hypervisor's `id`); default `disk<i>`. */
  id?: string;
  /** The VIRTIO_BLK_T_GET_ID string (at most 20 bytes used); default the id, if any. */
  serial?: string;
  /** QueueNumMax of the request queue (power of two); default the device's. */
  queueSize?: number;
  /** What the image's OFD lock covers (Cloud Hypervisor's lock_granularity); default 'ByteRange'. */
  lockGranularity?: LockGranularity;
}

/** The virtio-rng device; its bytes come from the host's getrandom. */
export interface RngSpec {
  /** Counter key (Cloud Hypervisor's `id`); default `rng`. */
  id?: string;
  /** Token buckets on bytes and requests; none = no limit. */
  rateLimiter?: RateLimiterConfig;
}

/** A virtio-console (hvc0) and where its output goes / its input comes from. */
export interface ConsoleSpec {
  /** Counter key (Cloud Hypervisor's `id`); default `console`. */
  id?: string;
  sink: { kind: 'tty' } | { kind: 'file'; path: string } | { kind: 'socket'; path: string };
}

/** A virtio-vsock device in Firecracker's hybrid model (vsock-host.ts). */
export interface VsockSpec {
  /** Counter key (Cloud Hypervisor's `id`); default `vsock`. */
  id?: string;
  /** The guest's CID, 3 .. 2^32-2. */
  cid: number;
  /** The Unix socket the VMM listens on (`CONNECT <port>`); guest connections to port P go to `<socket>_P`. */
  socket: string;
}

/** A virtio-net device and the host tap behind it. */
export interface NetSpec {
  /** Counter key (Cloud Hypervisor's `id`); default `net<i>`. */
  id?: string;
  /**
   * The tap: by name (opened, or created when it does not exist; '' lets the kernel name it) or
   * an fd already open in this process (used as is: no address, MAC or flags are touched).
   */
  tap: { kind: 'name'; name: string } | { kind: 'fd'; fd: number };
  /** IPv4 address and netmask for the host end, set (with UP) when the VMM opens the tap. */
  ipv4?: { address: string; netmask: string };
  /** The host end's MAC (`aa:bb:cc:dd:ee:ff`), set before UP. */
  hostMac?: string;
  /** The guest's MAC; the builder picks a random locally administered one when absent. */
  mac?: string;
  /** QueueNumMax of both queues (power of two). */
  queueSize: number;
  /** Offloads the device may offer (Cloud Hypervisor's offload_tso/ufo/csum). */
  offloads: { tso: boolean; ufo: boolean; csum: boolean };
}

/** The virtio-balloon: its first target and what it offers the driver. */
export interface BalloonSpec {
  /** Counter key and vm.info id (Cloud Hypervisor's `id`); default `balloon`. */
  id?: string;
  /** The balloon's size at boot, in bytes (whole 4 KiB pages, less than guest RAM). */
  sizeBytes: number;
  /** Offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM. */
  deflateOnOom: boolean;
  /** Offer VIRTIO_BALLOON_F_PAGE_REPORTING: free pages the guest reports go back to the host. */
  freePageReporting: boolean;
  /** Offer the stats queue and poll it this often, in seconds; 0 = no statistics. */
  statsIntervalS: number;
}

export interface MachineConfig {
  vcpus: number;
  /** Guest RAM in bytes (page multiple). */
  memoryBytes: number;
  kernel: string;
  initramfs?: string;
  cmdline: string;
  serial: SerialSink;
  /** virtio-blk disks, at most VIRTIO_MMIO_SLOTS; none when omitted. */
  disks?: DiskSpec[];
  /** A virtio-rng device (slot after the disks); none when omitted. */
  rng?: RngSpec;
  /** A virtio-console (slot after the disks and rng); none when omitted. */
  console?: ConsoleSpec;
  /** A virtio-vsock (slot after the disks, rng and console); none when omitted. */
  vsock?: VsockSpec;
  /** virtio-net devices on host taps (slots after the other virtio devices); none when omitted. */
  nets?: NetSpec[];
  /** A virtio-balloon (the last virtio slot); none when omitted. */
  balloon?: BalloonSpec;
  /** Which entry to use for an ELF with a PVH note ('auto' = PVH). */
  protocol?: BootProtocolChoice;
  /** The vCPU workers' log level; they write to the core's log file (logFileDescriptor). */
  logLevel?: LogLevel;
  /** The vcpu seccomp program each vCPU worker installs before its first KVM_RUN (seccomp-filters.ts); none when omitted. */
  vcpuSeccompFilter?: Uint8Array;
}
