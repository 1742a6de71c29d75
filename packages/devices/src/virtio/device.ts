// The contract between the one virtio transport (mmio.ts) and each virtio device model, plus the
// constants both sides share. Virtio 1.2: section 2.1 (status), 2.2 (features), 5 (device ids), 6 (reserved features).
import type { GuestMemory } from '../guest-memory.js';
import { VmmError } from '@workervisor/base';
import type { ErrorKind } from '@workervisor/base';
import type { Queue } from './queue.js';

/** Device IDs (virtio 1.2 section 5). */
export const VIRTIO_ID_NET = 1;
export const VIRTIO_ID_BLOCK = 2;
export const VIRTIO_ID_CONSOLE = 3;
export const VIRTIO_ID_RNG = 4;
export const VIRTIO_ID_BALLOON = 5;
export const VIRTIO_ID_VSOCK = 19;

/** Device status bits (section 2.1). */
export const STATUS_ACKNOWLEDGE = 1;
export const STATUS_DRIVER = 2;
export const STATUS_DRIVER_OK = 4;
export const STATUS_FEATURES_OK = 8;
export const STATUS_DEVICE_NEEDS_RESET = 64;
export const STATUS_FAILED = 128;

/** Reserved feature bits (section 6), as bit masks. */
export const VIRTIO_F_RING_INDIRECT_DESC = 1n << 28n;
export const VIRTIO_F_RING_EVENT_IDX = 1n << 29n;
export const VIRTIO_F_VERSION_1 = 1n << 32n;

/** InterruptStatus bits (section 4.2.2). */
export const INTERRUPT_USED_BUFFER = 0b01;
export const INTERRUPT_CONFIG_CHANGE = 0b10;

/** How a device tells the driver about used buffers and config changes; the transport implements it. */
export interface VirtioInterrupt {
  /** Used-buffer notification for queue `index` (sets InterruptStatus bit 0 and raises the line). */
  signalUsedQueue(index: number): void;
  /** Configuration-change notification (bumps ConfigGeneration, sets bit 1, raises the line). */
  signalConfigChange(): void;
}

/** What a device gets when the driver sets DRIVER_OK. */
export interface ActivateContext {
  readonly mem: GuestMemory;
  /** One per queue the device declared, in order; only those with `ready` set are usable. */
  readonly queues: readonly Queue[];
  readonly interrupt: VirtioInterrupt;
  /** Feature bits the driver accepted (a subset of `features`). */
  readonly features: bigint;
}

/** A device's activation state (STYLE.md "Devices in TS"). */
export type ActivationState = { readonly kind: 'inactive' } | ({ readonly kind: 'active' } & ActivateContext);

export const INACTIVE: ActivationState = { kind: 'inactive' };

/**
 * A virtio device model, bus-agnostic: the transport owns the register file, feature
 * negotiation, the status handshake and the queues' addresses; the device supplies the rest.
 * Nothing here may throw for a guest-caused problem.
 */
export interface VirtioDevice {
  /** Device ID (VIRTIO_ID_*). */
  readonly type: number;
  /** Short name for log lines (`blk0`). */
  readonly name: string;
  /** Feature bits offered; must include VIRTIO_F_VERSION_1 (modern only). */
  readonly features: bigint;
  /** Maximum size of each queue (QueueNumMax), one entry per queue. */
  readonly queueMaxSizes: readonly number[];
  /** Guest read of the device configuration space at `offset` (any width); fill data (pre-zeroed). */
  readConfig(offset: number, data: Uint8Array): void;
  /** Guest write to the configuration space. */
  writeConfig(offset: number, data: Uint8Array): void;
  /**
   * The driver set DRIVER_OK. Throws VirtioError only for host-side failures; the transport then
   * sets DEVICE_NEEDS_RESET.
   */
  activate(ctx: ActivateContext): void;
  /** The driver wrote 0 to Status: drop every reference to guest memory and queues. */
  reset(): void;
  /** The driver made buffers available on queue `index` (QueueNotify write or ioeventfd). */
  queueNotify(index: number): void;
}

export type VirtioErrorKind = ErrorKind<'VIRTIO'>;

/** Host-side virtio failures (a backing file that cannot be read, a bad device setup). */
export class VirtioError extends VmmError<'VIRTIO'> {
  constructor(kind: VirtioErrorKind, message: string, options?: { cause?: unknown; details?: Record<string, string | number | boolean> }) {
    super('VIRTIO', kind, message, options);
  }
}
