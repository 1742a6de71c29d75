// The virtio-mmio transport, version 2 (modern) only: register map, feature negotiation, the
// status handshake and queue setup of virtio 1.2 section 4.2 (with 2.1 status and 3.1 init).
// One MmioTransport fronts every virtio device; it is the BusDevice put on the MMIO bus.
import type { BusDevice, IrqTrigger } from '../bus-device.js';
import type { GuestMemory } from '../guest-memory.js';
import { le } from '@workervisor/base';
import { createLogger, RateLimitedLog } from '@workervisor/base';
import {
  INACTIVE,
  INTERRUPT_CONFIG_CHANGE,
  INTERRUPT_USED_BUFFER,
  STATUS_ACKNOWLEDGE,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FAILED,
  STATUS_FEATURES_OK,
  VIRTIO_F_RING_EVENT_IDX,
  VIRTIO_F_RING_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  type ActivationState,
  type VirtioDevice,
  type VirtioInterrupt,
} from './device.js';
import { Queue } from './queue.js';
import { checkTransportState, type MmioTransportState } from './mmio-state.js';

export type { MmioTransportState } from './mmio-state.js';

/** Register offsets (4.2.2, table "MMIO Device Register Layout"). */
export const REG_MAGIC_VALUE = 0x000;
export const REG_VERSION = 0x004;
export const REG_DEVICE_ID = 0x008;
export const REG_VENDOR_ID = 0x00c;
export const REG_DEVICE_FEATURES = 0x010;
export const REG_DEVICE_FEATURES_SEL = 0x014;
export const REG_DRIVER_FEATURES = 0x020;
export const REG_DRIVER_FEATURES_SEL = 0x024;
export const REG_QUEUE_SEL = 0x030;
export const REG_QUEUE_NUM_MAX = 0x034;
export const REG_QUEUE_NUM = 0x038;
export const REG_QUEUE_READY = 0x044;
export const REG_QUEUE_NOTIFY = 0x050;
export const REG_INTERRUPT_STATUS = 0x060;
export const REG_INTERRUPT_ACK = 0x064;
export const REG_STATUS = 0x070;
export const REG_QUEUE_DESC_LOW = 0x080;
export const REG_QUEUE_DESC_HIGH = 0x084;
export const REG_QUEUE_DRIVER_LOW = 0x090;
export const REG_QUEUE_DRIVER_HIGH = 0x094;
export const REG_QUEUE_DEVICE_LOW = 0x0a0;
export const REG_QUEUE_DEVICE_HIGH = 0x0a4;
export const REG_SHM_SEL = 0x0ac;
export const REG_SHM_LEN_LOW = 0x0b0;
export const REG_SHM_LEN_HIGH = 0x0b4;
export const REG_SHM_BASE_LOW = 0x0b8;
export const REG_SHM_BASE_HIGH = 0x0bc;
export const REG_CONFIG_GENERATION = 0x0fc;
/** Device-specific configuration space starts here. */
export const REG_CONFIG = 0x100;

/** "virt" little-endian. */
export const MMIO_MAGIC = 0x7472_6976;
export const MMIO_VERSION = 2;
/** Our VendorID: none registered, 0 like Firecracker. */
export const MMIO_VENDOR_ID = 0;

const U32 = 0xffff_ffffn;

/** Counters, monotonically increasing. */
export interface MmioTransportMetrics {
  /** Register accesses of a width other than 4 or misaligned (config space takes any width). */
  invalidAccesses: number;
  /** Reads or writes of offsets that are not registers (or are the wrong direction). */
  unknownRegisters: number;
  /** Writes refused in the current status (features after FEATURES_OK, queues after DRIVER_OK, ...). */
  ignoredWrites: number;
  /** Status writes that skip a step of the handshake or clear bits without a reset. */
  badStatusWrites: number;
  /** FEATURES_OK refused (VERSION_1 missing or a feature not offered). */
  rejectedFeatures: number;
  resets: number;
  activations: number;
  /** DRIVER_OK that ended in DEVICE_NEEDS_RESET (bad queue, host failure). */
  activationFailures: number;
  /** Queue notifications (QueueNotify writes or ioeventfd kicks) passed to the device. */
  queueNotifications: number;
  /** QueueNotify writes that arrived as MMIO exits (0 when ioeventfds catch them in KVM). */
  notifyExits: number;
  /** Notifications before activation or for a queue that does not exist or is not ready. */
  ignoredNotifications: number;
  /** Interrupt edges raised. */
  interrupts: number;
}

export interface MmioTransportOptions {
  readonly device: VirtioDevice;
  /** Guest RAM the queues live in. */
  readonly mem: GuestMemory;
  /** The slot's interrupt line. */
  readonly irq: IrqTrigger;
}

const log = createLogger('virtio-mmio');

/**
 * The register file of one virtio-mmio slot (4 KiB window). Registers below REG_CONFIG take
 * aligned 4-byte accesses only (4.2.2.2); anything else is logged (rate-limited), counted and
 * ignored, reads returning zeros. Config space accesses of any width go to the device.
 */
export class MmioTransport implements BusDevice {
  readonly device: VirtioDevice;
  readonly queues: readonly Queue[];
  readonly metrics: MmioTransportMetrics = {
    invalidAccesses: 0,
    unknownRegisters: 0,
    ignoredWrites: 0,
    badStatusWrites: 0,
    rejectedFeatures: 0,
    resets: 0,
    activations: 0,
    activationFailures: 0,
    queueNotifications: 0,
    notifyExits: 0,
    ignoredNotifications: 0,
    interrupts: 0,
  };
  private readonly mem: GuestMemory;
  private readonly irq: IrqTrigger;
  private readonly warn = new RateLimitedLog(log);
  private state: ActivationState = INACTIVE;
  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverFeatures = 0n;
  private queueSel = 0;
  private shmSel = 0;
  private interruptStatus = 0;
  private configGeneration = 0;
  private readonly interrupt: VirtioInterrupt = {
    signalUsedQueue: () => this.raise(INTERRUPT_USED_BUFFER),
    signalConfigChange: () => {
      this.configGeneration = (this.configGeneration + 1) >>> 0;
      this.raise(INTERRUPT_CONFIG_CHANGE);
    },
  };

  constructor(options: MmioTransportOptions) {
    this.device = options.device;
    this.mem = options.mem;
    this.irq = options.irq;
    if ((this.device.features & VIRTIO_F_VERSION_1) === 0n) throw new RangeError(`${this.device.name}: a modern virtio device must offer VIRTIO_F_VERSION_1`);
    this.queues = this.device.queueMaxSizes.map((max, i) => new Queue(max, `${this.device.name}.q${i}`));
  }

  get name(): string {
    return this.device.name;
  }

  /** Current Status register value. */
  get deviceStatus(): number {
    return this.status;
  }

  /** True between a successful DRIVER_OK and the next reset. */
  get active(): boolean {
    return this.state.kind === 'active';
  }

  read(offset: number, data: Uint8Array): void {
    data.fill(0);
    if (offset >= REG_CONFIG) {
      this.device.readConfig(offset - REG_CONFIG, data);
      return;
    }
    if (!this.checkWidth('read', offset, data)) return;
    le.writeUint(data, this.readRegister(offset));
  }

  write(offset: number, data: Uint8Array): void {
    if (offset >= REG_CONFIG) {
      this.device.writeConfig(offset - REG_CONFIG, data);
      return;
    }
    if (!this.checkWidth('write', offset, data)) return;
    this.writeRegister(offset, le.readUint(data));
  }

  /**
   * The driver made buffers available on queue `index`: a QueueNotify write, or the ioeventfd
   * registered on QueueNotify with that index as datamatch. Never throws.
   */
  queueNotify(index: number): void {
    const queue = this.queues[index];
    if (this.state.kind !== 'active' || queue === undefined || !queue.ready) {
      this.metrics.ignoredNotifications++;
      this.warn.warn(`${this.name}: ignored notification of queue ${index} (${this.state.kind}, status 0x${this.status.toString(16)})`);
      return;
    }
    this.metrics.queueNotifications++;
    try {
      this.device.queueNotify(index);
    } catch (err) {
      // A device bug or host failure; the guest cannot be allowed to see an exception.
      log.error(`${this.name}: queue ${index} handler failed; the device needs a reset`, { error: String(err) });
      this.needsReset();
    }
  }

  /** The register file and every queue, JSON-safe (no interrupt, no device state). */
  save(): MmioTransportState {
    return {
      status: this.status,
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      driverFeatures: `0x${this.driverFeatures.toString(16)}`,
      queueSel: this.queueSel,
      shmSel: this.shmSel,
      interruptStatus: this.interruptStatus,
      configGeneration: this.configGeneration,
      queues: this.queues.map((q) => q.save()),
    };
  }

  /**
   * Restores a save() of a transport for the same device, before the guest runs again. A device
   * that was live (DRIVER_OK, not failed or needing reset) is activated again on the restored
   * queues; no interrupt is raised (a pending one lives in the restored irqchip and
   * InterruptStatus). Throws VirtioError('invalid-config') on a malformed or mismatched state.
   */
  restore(state: MmioTransportState): void {
    const s = checkTransportState(state, this.name, this.queues.map((q) => q.maxSize), this.device.features);
    if (this.state.kind === 'active') this.device.reset();
    this.state = INACTIVE;
    s.queues.forEach((q, i) => this.queues[i]!.restore(q));
    this.status = s.status;
    this.deviceFeaturesSel = s.deviceFeaturesSel;
    this.driverFeaturesSel = s.driverFeaturesSel;
    this.driverFeatures = BigInt(s.driverFeatures);
    this.queueSel = s.queueSel;
    this.shmSel = s.shmSel;
    this.interruptStatus = s.interruptStatus;
    this.configGeneration = s.configGeneration;
    const live = (this.status & STATUS_DRIVER_OK) !== 0 && (this.status & (STATUS_FAILED | STATUS_DEVICE_NEEDS_RESET)) === 0;
    if (live) this.activate();
  }

  private checkWidth(op: 'read' | 'write', offset: number, data: Uint8Array): boolean {
    if (data.length === 4 && offset % 4 === 0) return true;
    this.metrics.invalidAccesses++;
    this.warn.warn(`${this.name}: ignored ${data.length}-byte ${op} at register 0x${offset.toString(16)}; registers take aligned 4-byte accesses`);
    return false;
  }

  private get selectedQueue(): Queue | undefined {
    return this.queues[this.queueSel];
  }

  private readRegister(offset: number): number {
    const q = this.selectedQueue;
    switch (offset) {
      case REG_MAGIC_VALUE:
        return MMIO_MAGIC;
      case REG_VERSION:
        return MMIO_VERSION;
      case REG_DEVICE_ID:
        return this.device.type;
      case REG_VENDOR_ID:
        return MMIO_VENDOR_ID;
      case REG_DEVICE_FEATURES:
        return this.deviceFeaturesSel > 1 ? 0 : Number((this.device.features >> BigInt(32 * this.deviceFeaturesSel)) & U32);
      case REG_QUEUE_NUM_MAX:
        return q?.maxSize ?? 0;
      case REG_QUEUE_NUM:
        return q?.size ?? 0;
      case REG_QUEUE_READY:
        return q?.ready === true ? 1 : 0;
      case REG_INTERRUPT_STATUS:
        return this.interruptStatus;
      case REG_STATUS:
        return this.status;
      case REG_QUEUE_DESC_LOW:
        return low(q?.descTable ?? 0);
      case REG_QUEUE_DESC_HIGH:
        return high(q?.descTable ?? 0);
      case REG_QUEUE_DRIVER_LOW:
        return low(q?.availRing ?? 0);
      case REG_QUEUE_DRIVER_HIGH:
        return high(q?.availRing ?? 0);
      case REG_QUEUE_DEVICE_LOW:
        return low(q?.usedRing ?? 0);
      case REG_QUEUE_DEVICE_HIGH:
        return high(q?.usedRing ?? 0);
      case REG_SHM_LEN_LOW:
      case REG_SHM_LEN_HIGH:
        // No shared memory regions: a length of -1 says "no such region" (4.2.2).
        return 0xffff_ffff;
      case REG_SHM_BASE_LOW:
      case REG_SHM_BASE_HIGH:
        return 0;
      case REG_CONFIG_GENERATION:
        return this.configGeneration;
      default:
        this.unknown('read', offset);
        return 0;
    }
  }

  private writeRegister(offset: number, value: number): void {
    switch (offset) {
      case REG_DEVICE_FEATURES_SEL:
        this.deviceFeaturesSel = value;
        return;
      case REG_DRIVER_FEATURES_SEL:
        this.driverFeaturesSel = value;
        return;
      case REG_DRIVER_FEATURES:
        this.writeDriverFeatures(value);
        return;
      case REG_QUEUE_SEL:
        this.queueSel = value;
        return;
      case REG_QUEUE_NOTIFY:
        this.metrics.notifyExits++;
        this.queueNotify(value);
        return;
      case REG_INTERRUPT_ACK:
        this.interruptStatus &= ~value;
        return;
      case REG_STATUS:
        this.writeStatus(value);
        return;
      case REG_SHM_SEL:
        this.shmSel = value;
        return;
      case REG_QUEUE_NUM:
      case REG_QUEUE_READY:
      case REG_QUEUE_DESC_LOW:
      case REG_QUEUE_DESC_HIGH:
      case REG_QUEUE_DRIVER_LOW:
      case REG_QUEUE_DRIVER_HIGH:
      case REG_QUEUE_DEVICE_LOW:
      case REG_QUEUE_DEVICE_HIGH:
        this.writeQueueRegister(offset, value);
        return;
      default:
        this.unknown('write', offset);
    }
  }

  private writeDriverFeatures(value: number): void {
    // 3.1.1: features are written after DRIVER and before FEATURES_OK.
    if ((this.status & STATUS_DRIVER) === 0 || (this.status & STATUS_FEATURES_OK) !== 0 || this.driverFeaturesSel > 1) {
      this.ignored(`DriverFeatures[${this.driverFeaturesSel}] = 0x${value.toString(16)}`);
      return;
    }
    const shift = BigInt(32 * this.driverFeaturesSel);
    this.driverFeatures = (this.driverFeatures & ~(U32 << shift)) | (BigInt(value >>> 0) << shift);
  }

  private writeQueueRegister(offset: number, value: number): void {
    const q = this.selectedQueue;
    // 4.2.3.2: queues are set up after FEATURES_OK and before DRIVER_OK; once the device is
    // live their addresses must not move under it.
    const settingUp = (this.status & (STATUS_FEATURES_OK | STATUS_DRIVER_OK | STATUS_FAILED)) === STATUS_FEATURES_OK;
    if (q === undefined || !settingUp) {
      this.ignored(`queue ${this.queueSel} register 0x${offset.toString(16)} = 0x${value.toString(16)}`);
      return;
    }
    switch (offset) {
      case REG_QUEUE_NUM:
        q.size = value;
        return;
      case REG_QUEUE_READY:
        q.ready = value === 1;
        return;
      case REG_QUEUE_DESC_LOW:
        q.descTable = withLow(q.descTable, value);
        return;
      case REG_QUEUE_DESC_HIGH:
        q.descTable = withHigh(q.descTable, value);
        return;
      case REG_QUEUE_DRIVER_LOW:
        q.availRing = withLow(q.availRing, value);
        return;
      case REG_QUEUE_DRIVER_HIGH:
        q.availRing = withHigh(q.availRing, value);
        return;
      case REG_QUEUE_DEVICE_LOW:
        q.usedRing = withLow(q.usedRing, value);
        return;
      case REG_QUEUE_DEVICE_HIGH:
        q.usedRing = withHigh(q.usedRing, value);
        return;
    }
  }

  /** The handshake of 3.1.1: ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK, each adding to the last; 0 resets. */
  private writeStatus(value: number): void {
    if (value === 0) {
      this.reset();
      return;
    }
    const old = this.status;
    // DEVICE_NEEDS_RESET is the device's bit; the driver echoing it back is harmless.
    const requested = (value & ~STATUS_DEVICE_NEEDS_RESET) | (old & STATUS_DEVICE_NEEDS_RESET);
    const added = requested & ~old;
    const steps: Array<[number, number]> = [
      [STATUS_DRIVER, STATUS_ACKNOWLEDGE],
      [STATUS_FEATURES_OK, STATUS_DRIVER],
      [STATUS_DRIVER_OK, STATUS_FEATURES_OK],
    ];
    const skipped = steps.some(([bit, needs]) => (added & bit) !== 0 && (requested & needs) === 0);
    if ((requested & old) !== old || skipped) {
      this.metrics.badStatusWrites++;
      this.warn.warn(`${this.name}: ignored status 0x${value.toString(16)} after 0x${old.toString(16)}; bits are set one handshake step at a time and cleared only by writing 0`);
      return;
    }
    let next = requested;
    if ((added & STATUS_FEATURES_OK) !== 0 && !this.acceptFeatures()) next &= ~(STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    this.status = next;
    if ((added & STATUS_DRIVER_OK) !== 0 && (next & STATUS_DRIVER_OK) !== 0 && (next & STATUS_FAILED) === 0) this.activate();
  }

  private acceptFeatures(): boolean {
    const offered = this.device.features;
    const unknown = this.driverFeatures & ~offered;
    if ((this.driverFeatures & VIRTIO_F_VERSION_1) === 0n || unknown !== 0n) {
      this.metrics.rejectedFeatures++;
      this.warn.warn(`${this.name}: refused driver features 0x${this.driverFeatures.toString(16)} (offered 0x${offered.toString(16)}; VERSION_1 is required)`);
      return false;
    }
    return true;
  }

  private activate(): void {
    for (const q of this.queues) {
      if (!q.ready) continue;
      const problem = q.problem(this.mem);
      if (problem !== undefined) {
        this.warn.warn(`${q.name}: cannot activate: ${problem}`);
        this.metrics.activationFailures++;
        this.needsReset();
        return;
      }
      q.eventIdx = (this.driverFeatures & VIRTIO_F_RING_EVENT_IDX) !== 0n;
      q.indirect = (this.driverFeatures & VIRTIO_F_RING_INDIRECT_DESC) !== 0n;
    }
    const ctx = { mem: this.mem, queues: this.queues, interrupt: this.interrupt, features: this.driverFeatures };
    try {
      this.device.activate(ctx);
    } catch (err) {
      log.error(`${this.name}: activation failed`, { error: String(err) });
      this.metrics.activationFailures++;
      this.needsReset();
      return;
    }
    this.state = { kind: 'active', ...ctx };
    this.metrics.activations++;
    log.debug(`${this.name}: activated`, { features: this.driverFeatures });
    // Buffers the driver made available before DRIVER_OK: their notification was ignored, so
    // serve them now. Linux's virtio_balloon adds and kicks its first statistics buffer before
    // it sets DRIVER_OK (QEMU serves it the same way); a restored queue may hold some too.
    this.queues.forEach((q, index) => {
      if (this.state.kind === 'active' && q.ready && q.hasAvailable(this.mem)) this.queueNotify(index);
    });
  }

  /** 2.1.2: set DEVICE_NEEDS_RESET and, once DRIVER_OK is set, tell the driver with a config interrupt. */
  private needsReset(): void {
    if (this.state.kind === 'active') this.device.reset();
    this.state = INACTIVE;
    this.status |= STATUS_DEVICE_NEEDS_RESET;
    if ((this.status & STATUS_DRIVER_OK) !== 0) this.interrupt.signalConfigChange();
  }

  /** Device reset (Status = 0, 2.4): everything back to power-on values except ConfigGeneration. */
  private reset(): void {
    this.device.reset();
    this.state = INACTIVE;
    for (const q of this.queues) q.reset();
    this.status = 0;
    this.deviceFeaturesSel = this.driverFeaturesSel = this.queueSel = this.shmSel = 0;
    this.driverFeatures = 0n;
    this.interruptStatus = 0;
    this.metrics.resets++;
  }

  private raise(bit: number): void {
    this.interruptStatus |= bit;
    this.metrics.interrupts++;
    this.irq.trigger();
  }

  private unknown(op: 'read' | 'write', offset: number): void {
    this.metrics.unknownRegisters++;
    this.warn.warn(`${this.name}: ${op} of unknown or ${op === 'read' ? 'write' : 'read'}-only register 0x${offset.toString(16)} ignored`);
  }

  private ignored(what: string): void {
    this.metrics.ignoredWrites++;
    this.warn.warn(`${this.name}: ignored ${what} in status 0x${this.status.toString(16)}`);
  }
}

function low(v: number): number {
  return v % 0x1_0000_0000;
}

function high(v: number): number {
  return Math.floor(v / 0x1_0000_0000);
}

function withLow(v: number, lo: number): number {
  return high(v) * 0x1_0000_0000 + (lo >>> 0);
}

function withHigh(v: number, hi: number): number {
  // GPAs must stay safe integers (STYLE.md); a larger high word cannot be RAM anyway and is
  // caught by Queue.problem() at DRIVER_OK.
  return Math.min(hi >>> 0, 0x1f_ffff) * 0x1_0000_0000 + low(v);
}
