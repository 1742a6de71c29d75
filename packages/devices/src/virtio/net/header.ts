// virtio-net constants (virtio 1.2 section 5.1): feature bits, struct virtio_net_hdr_v1, the
// configuration layout, the tap offload bits they map to, and the backend a device moves frames
// through (a host tap, or a fake one in tests).

/** Feature bits (5.1.3), as masks. */
export const VIRTIO_NET_F_CSUM = 1n << 0n;
export const VIRTIO_NET_F_GUEST_CSUM = 1n << 1n;
export const VIRTIO_NET_F_MTU = 1n << 3n;
export const VIRTIO_NET_F_MAC = 1n << 5n;
export const VIRTIO_NET_F_GUEST_TSO4 = 1n << 7n;
export const VIRTIO_NET_F_GUEST_TSO6 = 1n << 8n;
export const VIRTIO_NET_F_GUEST_ECN = 1n << 9n;
export const VIRTIO_NET_F_GUEST_UFO = 1n << 10n;
export const VIRTIO_NET_F_HOST_TSO4 = 1n << 11n;
export const VIRTIO_NET_F_HOST_TSO6 = 1n << 12n;
export const VIRTIO_NET_F_HOST_ECN = 1n << 13n;
export const VIRTIO_NET_F_HOST_UFO = 1n << 14n;
export const VIRTIO_NET_F_MRG_RXBUF = 1n << 15n;
export const VIRTIO_NET_F_STATUS = 1n << 16n;
export const VIRTIO_NET_F_CTRL_VQ = 1n << 17n;
export const VIRTIO_NET_F_MQ = 1n << 22n;

/** Bytes of struct virtio_net_hdr_v1 (5.1.6): flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers. */
export const NET_HDR_SIZE = 12;
/** Offset of le16 num_buffers in the header. */
export const NET_HDR_NUM_BUFFERS = 10;
/**
 * Largest frame the tap hands over: a 64 KiB GSO packet plus its Ethernet header, plus the vnet
 * header (Firecracker's and Cloud Hypervisor's MAX_BUFFER_SIZE).
 */
export const MAX_FRAME_SIZE = NET_HDR_SIZE + 65550;

/** Config space (5.1.4): mac[6] then le16 status. */
export const NET_CONFIG_MAC = 0;
export const NET_CONFIG_STATUS = 6;
export const NET_CONFIG_SIZE = 8;
export const VIRTIO_NET_S_LINK_UP = 1;

/** Queue indexes of the one queue pair (5.1.2). */
export const NET_RX_QUEUE = 0;
export const NET_TX_QUEUE = 1;

/** TUN_F_* bits of TUNSETOFFLOAD (linux/if_tun.h, kernel ABI): which offloaded frames the tap may send us. */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_TSO_ECN = 0x08;
export const TUN_F_UFO = 0x10;

/** What backs a virtio-net device: a tap with a 12-byte vnet header. Calls may throw (a host failure). */
export interface NetBackend {
  /** Short name for logs (the tap's interface name). */
  readonly name: string;
  /** TUN_F_* bits the tap accepts: the GUEST_* offloads the device can offer. */
  readonly offloads: number;
  /** Sets the TUN_F_* offloads (from the GUEST_* features the driver accepted). */
  setOffload(flags: number): void;
  /**
   * Reads one frame (vnet header + packet) into `views`, in order. Returns its full length (more
   * than the views hold when it was truncated), 0 at EOF, -1 when no frame waits.
   */
  read(views: readonly Uint8Array[]): number;
  /** Writes one frame gathered from `views`; returns the bytes written or -1 when the tap would block. */
  write(views: readonly Uint8Array[]): number;
  /** Calls `handler` each time a frame waits (level-triggered), or stops calling it (undefined). */
  onReadable(handler: (() => void) | undefined): void;
}

/** The GUEST_* features (frames the device hands the driver) a tap accepting `offloads` can honour. */
export function guestOffloadFeatures(offloads: number): bigint {
  let f = 0n;
  if ((offloads & TUN_F_CSUM) !== 0) {
    f |= VIRTIO_NET_F_GUEST_CSUM;
    // 5.1.3.1: GUEST_TSO4/6 and GUEST_UFO require GUEST_CSUM; GUEST_ECN requires a TSO.
    if ((offloads & TUN_F_TSO4) !== 0) f |= VIRTIO_NET_F_GUEST_TSO4;
    if ((offloads & TUN_F_TSO6) !== 0) f |= VIRTIO_NET_F_GUEST_TSO6;
    if ((offloads & TUN_F_TSO_ECN) !== 0 && (offloads & (TUN_F_TSO4 | TUN_F_TSO6)) !== 0) f |= VIRTIO_NET_F_GUEST_ECN;
    if ((offloads & TUN_F_UFO) !== 0) f |= VIRTIO_NET_F_GUEST_UFO;
  }
  return f;
}

/**
 * The HOST_* features (offloaded frames the driver may send): the tap takes partial checksums and
 * TCP GSO from a vnet header on every kernel; UFO only where it accepts TUN_F_UFO.
 */
export function hostOffloadFeatures(offloads: number): bigint {
  let f = VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6 | VIRTIO_NET_F_HOST_ECN;
  if ((offloads & TUN_F_UFO) !== 0) f |= VIRTIO_NET_F_HOST_UFO;
  return f;
}

/** The TUN_F_* offloads matching the GUEST_* features the driver accepted (the kernel wants CSUM under any TSO/UFO). */
export function tapOffloadFor(features: bigint): number {
  if ((features & VIRTIO_NET_F_GUEST_CSUM) === 0n) return 0;
  let flags = TUN_F_CSUM;
  if ((features & VIRTIO_NET_F_GUEST_TSO4) !== 0n) flags |= TUN_F_TSO4;
  if ((features & VIRTIO_NET_F_GUEST_TSO6) !== 0n) flags |= TUN_F_TSO6;
  if ((features & VIRTIO_NET_F_GUEST_ECN) !== 0n && (flags & (TUN_F_TSO4 | TUN_F_TSO6)) !== 0) flags |= TUN_F_TSO_ECN;
  if ((features & VIRTIO_NET_F_GUEST_UFO) !== 0n) flags |= TUN_F_UFO;
  return flags;
}

/** Parses `aa:bb:cc:dd:ee:ff` (case-insensitive); undefined when malformed. */
export function parseMac(text: string): Uint8Array | undefined {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(text);
  if (m === null) return undefined;
  return Uint8Array.from(m.slice(1), (h) => parseInt(h, 16));
}

/** `aa:bb:cc:dd:ee:ff`. */
export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** A random locally administered unicast MAC (bit 1 of the first byte set, bit 0 clear), as Cloud Hypervisor makes one. */
export function randomMac(random: (dst: Uint8Array) => void): Uint8Array {
  const mac = new Uint8Array(6);
  random(mac);
  mac[0] = ((mac[0] ?? 0) & 0xfe) | 0x02;
  return mac;
}

/** Counters, monotonically increasing. Descriptor-level problems (loops, out-of-RAM) are counted by the queues. */
export interface VirtioNetMetrics {
  /** Frames and bytes (packet bytes, header excluded) delivered into the guest's receive buffers. */
  rxFrames: number;
  rxBytes: number;
  /** Frames the guest transmitted that the tap took, and their packet bytes. */
  txFrames: number;
  txBytes: number;
  /** Frames read from the tap but dropped: larger than the guest's buffers. */
  rxDropped: number;
  /** Guest frames dropped: malformed chain, too short, too large, too many pieces, or the tap would block. */
  txDropped: number;
  /** Guest-caused failures: read-only receive buffers, buffers shorter than the header, writable transmit buffers. */
  errors: number;
  /** Tap read failures and EOF (a deleted tap): logged, counted, retried later. */
  rxTapErrors: number;
  /** Tap write failures. */
  txTapErrors: number;
  /** Times the tap had to wait because the guest had too few receive buffers posted. */
  rxNoBuffers: number;
  /** Used-buffer notifications sent to the driver. */
  usedNotifications: number;
  /** Configuration-space writes (the configuration is read-only). */
  ignoredConfigWrites: number;
}
