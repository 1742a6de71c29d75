// The view of guest RAM that devices consume (vm-memory's GuestMemory, consumer side).

/**
 * Guest physical memory. Every access is bounds-checked against guest RAM: an address
 * supplied by the guest can never reach host memory outside it.
 * Addresses are guest-physical byte addresses (safe integers).
 */
export interface GuestMemory {
  /** Total bytes of guest RAM (sum of regions). */
  readonly size: number;
  /** True when [gpa, gpa+len) lies entirely inside one RAM region. */
  checkRange(gpa: number, len: number): boolean;
  /** A live view over [gpa, gpa+len). Throws GuestMemoryError('out-of-range') outside RAM. */
  slice(gpa: number, len: number): Uint8Array;
  /** Copies bytes out of guest RAM. */
  read(gpa: number, dst: Uint8Array): void;
  /** Copies bytes into guest RAM. */
  write(gpa: number, src: Uint8Array): void;
  readU8(gpa: number): number;
  readU16(gpa: number): number;
  readU32(gpa: number): number;
  readU64(gpa: number): bigint;
  writeU8(gpa: number, v: number): void;
  writeU16(gpa: number, v: number): void;
  writeU32(gpa: number, v: number): void;
  writeU64(gpa: number, v: bigint): void;
  /**
   * A full memory barrier (@workervisor/base's memoryFence): this thread's stores before it are
   * visible before its loads after it. Guest RAM is shared with vCPUs that write it with plain
   * stores; see the virtqueue's notification suppression (queue.ts) for why it matters.
   */
  fence(): void;
}

/**
 * Guest RAM that can give pages back to the host while the guest runs (the balloon's inflated
 * pages). vmm-core's GuestMemoryMmap punches a hole in the RAM's memfd.
 */
export interface MemoryDiscard {
  /**
   * Frees [gpa, gpa+len), which must lie inside one RAM region (callers check with checkRange);
   * the range reads as zeros afterwards. Host pages only partly covered stay. Throws on a host failure.
   */
  discard(gpa: number, len: number): void;
}
