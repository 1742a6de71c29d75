// The statistics buffer of virtio-balloon's stats queue (virtio 1.2 section 5.5.6.3): packed
// struct virtio_balloon_stat { le16 tag; le64 val; } entries, tags from the spec and from Linux's
// include/uapi/linux/virtio_balloon.h (10-15 were added after 1.2).

/** Bytes per entry: le16 tag + le64 value, packed. */
export const BALLOON_STAT_SIZE = 10;

/** Each tag's counter name in vm.counters, as Firecracker names them (camel-cased). */
export const BALLOON_STAT_NAMES: readonly string[] = [
  'swapIn', // 0 VIRTIO_BALLOON_S_SWAP_IN, bytes
  'swapOut', // 1 SWAP_OUT, bytes
  'majorFaults', // 2 MAJFLT
  'minorFaults', // 3 MINFLT
  'freeMemory', // 4 MEMFREE, bytes
  'totalMemory', // 5 MEMTOT, bytes
  'availableMemory', // 6 AVAIL, bytes
  'diskCaches', // 7 CACHES, bytes
  'hugetlbAllocations', // 8 HTLB_PGALLOC
  'hugetlbFailures', // 9 HTLB_PGFAIL
  'oomKills', // 10 OOM_KILL
  'allocStalls', // 11 ALLOC_STALL
  'asyncScans', // 12 ASYNC_SCAN
  'directScans', // 13 DIRECT_SCAN
  'asyncReclaims', // 14 ASYNC_RECLAIM
  'directReclaims', // 15 DIRECT_RECLAIM
];

/** What one buffer held: known statistics by name, and how many entries had a tag we do not know. */
export interface ParsedBalloonStats {
  readonly stats: Record<string, number>;
  readonly unknownTags: number;
}

/**
 * Parses the entries of `bytes` (a trailing partial entry is ignored; 5.5.6.3.1 lets the driver
 * send any subset in any order). Values beyond 2^53 are clamped to Number.MAX_SAFE_INTEGER.
 */
export function parseBalloonStats(bytes: Uint8Array): ParsedBalloonStats {
  const stats: Record<string, number> = {};
  let unknownTags = 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at + BALLOON_STAT_SIZE <= bytes.length; at += BALLOON_STAT_SIZE) {
    const name = BALLOON_STAT_NAMES[view.getUint16(at, true)];
    const value = view.getBigUint64(at + 2, true);
    if (name === undefined) {
      unknownTags++;
      continue;
    }
    stats[name] = value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
  }
  return { stats, unknownTags };
}
