// Puts virtio devices on the machine: slot i of the virtio-mmio window gets its 4 KiB of MMIO
// bus, an irqfd on GSI VIRTIO_IRQ_BASE + i and one ioeventfd per queue on QueueNotify
// (datamatch = queue index), so kicks and interrupts never leave the kernel as exits.
import { FileBlockBackend, MmioTransport, REG_QUEUE_NOTIFY, VirtioBlock, type BlockBackend, type Bus, type GuestMemory, type IrqTrigger, type VirtioDevice } from '@workervisor/devices';
import { createLogger } from '@workervisor/base';
import { EventFd, FdWatcher, type VmFd } from '@workervisor/native';
import type { VirtioMmioSlot } from './arch/x86_64/acpi/index.js';
import { VIRTIO_IRQ_BASE, VIRTIO_MMIO_SIZE, VIRTIO_MMIO_SLOTS, VIRTIO_MMIO_START } from './arch/x86_64/layout.js';
import { lockDiskImage } from './disk-lock.js';
import type { DiskSpec } from './machine-config.js';

const log = createLogger('virtio');

/** One wired virtio device. */
export interface VirtioSlot {
  /** Counter key: the disk id or `disk<i>`. */
  readonly name: string;
  readonly index: number;
  readonly transport: MmioTransport;
  readonly device: VirtioDevice;
  /** Where the guest finds it (for the DSDT). */
  readonly acpi: VirtioMmioSlot;
}

/** The virtio devices of a machine and the host resources behind them. */
export interface VirtioDevices {
  readonly slots: readonly VirtioSlot[];
  /** Resets every device (no timer or input may touch guest RAM after it), stops the notify watchers, closes their eventfds and the disk images. Idempotent. */
  close(): void;
}

/** A virtio device other than a disk (rng, console), with its counter key. */
export interface NamedVirtioDevice {
  readonly name: string;
  readonly device: VirtioDevice;
}

/**
 * Opens and locks every disk image (before any KVM resource exists, so a bad path fails early).
 * The locks (disk-lock.ts) last until the backends are closed: the same image twice in one VM
 * conflicts like two VMMs would.
 */
export function openDisks(disks: readonly DiskSpec[]): BlockBackend[] {
  const opened: BlockBackend[] = [];
  try {
    for (const d of disks) {
      const lock = { readonly: d.readonly, granularity: d.lockGranularity ?? 'ByteRange' } as const;
      opened.push(FileBlockBackend.open(d.path, { readonly: d.readonly, onOpen: (fd) => lockDiskImage(fd, d.path, lock) }));
    }
  } catch (err) {
    for (const b of opened) b.close();
    throw err;
  }
  return opened;
}

export interface VirtioWiringOptions {
  readonly vm: VmFd;
  readonly memory: GuestMemory;
  readonly mmio: Bus;
  /** Makes the interrupt line for a GSI (an irqfd). */
  readonly irq: (gsi: number) => IrqTrigger;
}

/** Creates a virtio-blk device per disk and wires slot i for disk i, then the `others` in the slots after them. */
export function attachDisks(opts: VirtioWiringOptions, disks: readonly DiskSpec[], backends: readonly BlockBackend[], others: readonly NamedVirtioDevice[] = []): VirtioDevices {
  if (disks.length + others.length > VIRTIO_MMIO_SLOTS) throw new RangeError(`${disks.length + others.length} virtio devices exceed ${VIRTIO_MMIO_SLOTS} slots`);
  const fds: EventFd[] = [];
  const watchers: FdWatcher[] = [];
  const slots: VirtioSlot[] = [];
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    for (const s of slots) s.device.reset();
    for (const w of watchers) w.stop();
    for (const fd of fds) fd.close();
    for (const b of backends) b.close();
  };
  try {
    disks.forEach((disk, index) => {
      const backend = backends[index] as BlockBackend;
      const name = disk.id ?? `disk${index}`;
      const device = new VirtioBlock({ backend, name, ...(disk.serial === undefined ? {} : { serial: disk.serial }), ...(disk.queueSize === undefined ? {} : { queueSize: disk.queueSize }) });
      slots.push(wireSlot(opts, index, name, device, fds, watchers));
    });
    others.forEach((o, i) => slots.push(wireSlot(opts, disks.length + i, o.name, o.device, fds, watchers)));
  } catch (err) {
    close();
    throw err;
  }
  return { slots, close };
}

function wireSlot(opts: VirtioWiringOptions, index: number, name: string, device: VirtioDevice, fds: EventFd[], watchers: FdWatcher[]): VirtioSlot {
  const base = VIRTIO_MMIO_START + index * VIRTIO_MMIO_SIZE;
  const gsi = VIRTIO_IRQ_BASE + index;
  const transport = new MmioTransport({ device, mem: opts.memory, irq: opts.irq(gsi) });
  opts.mmio.insert(transport, base, VIRTIO_MMIO_SIZE, `virtio-${name}`);
  transport.queues.forEach((_q, queue) => {
    const fd = new EventFd();
    fds.push(fd);
    try {
      // A 4-byte write of `queue` to QueueNotify signals the eventfd inside KVM; any other
      // write (another width or value) still exits and reaches transport.write().
      opts.vm.registerIoeventfd(fd.fd, base + REG_QUEUE_NOTIFY, 4, { datamatch: BigInt(queue) });
    } catch (err) {
      log.warn(`${name}: no ioeventfd for queue ${queue}; its notifications will arrive as MMIO exits`, { error: String(err) });
      return;
    }
    watchers.push(
      new FdWatcher(fd.fd, () => {
        fd.read();
        transport.queueNotify(queue);
      }),
    );
  });
  log.info(`${name}: virtio device type ${device.type} at 0x${base.toString(16)}, GSI ${gsi}`);
  return { name, index, transport, device, acpi: { base, size: VIRTIO_MMIO_SIZE, irq: gsi } };
}

/** Counters of one slot: the device's, its transport's and its queues' (summed), one flat record. */
export function virtioCounters(slot: VirtioSlot): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (o: object): void => {
    for (const [k, v] of Object.entries(o)) if (typeof v === 'number') out[k] = (out[k] ?? 0) + v;
  };
  add((slot.device as { metrics?: object }).metrics ?? {});
  add(slot.transport.metrics);
  for (const q of slot.transport.queues) add(q.metrics);
  return out;
}
