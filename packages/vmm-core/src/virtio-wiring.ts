// Puts virtio devices on the machine as registrations: slot i of the virtio-mmio window gets its
// 4 KiB of MMIO bus, an irqfd on GSI VIRTIO_IRQ_BASE + i and one ioeventfd per queue on QueueNotify
// (datamatch = queue index), so kicks and interrupts never leave the kernel as exits.
import { FileBlockBackend, MmioTransport, REG_QUEUE_NOTIFY, VirtioBlock, VirtioError, VirtioRng, type BlockBackend, type MmioTransportState, type VirtioDevice } from '@workervisor/devices';
import { createLogger } from '@workervisor/base';
import { EventFd, FdWatcher } from '@workervisor/native';
import { virtioMmioNode } from './arch/x86_64/acpi/index.js';
import { VIRTIO_IRQ_BASE, VIRTIO_MMIO_SIZE, VIRTIO_MMIO_START } from './arch/x86_64/layout.js';
import type { DeviceContext, DeviceRegistration, DeviceStateHooks } from './device-manager.js';
import { lockDiskImage } from './disk-lock.js';
import type { DiskSpec, RngSpec } from './machine-config.js';
import type { TeardownStep } from './teardown.js';

const log = createLogger('virtio');

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

/** A virtio device wired into a slot: its registration, plus the transport (for tests and diagnostics). */
export type VirtioRegistration = DeviceRegistration & { readonly transport: MmioTransport };

/**
 * Wires `device` into the next free virtio-mmio slot: its 4 KiB register window, an irqfd on
 * VIRTIO_IRQ_BASE + slot, an ioeventfd per queue and its LNRO0005 node. `host` releases what
 * the device's host end holds (a socket, stdin); it runs after the device is reset. When wiring
 * fails, what was wired and `host` are released before the error is thrown.
 */
export function virtioDevice(ctx: DeviceContext, name: string, device: VirtioDevice, host: readonly TeardownStep[] = []): VirtioRegistration {
  const fds: EventFd[] = [];
  const watchers: FdWatcher[] = [];
  let transport: MmioTransport | undefined;
  // After this the guest cannot reach guest RAM through the device, nor a notification the device.
  const unwire = (): void => {
    device.reset();
    for (const w of watchers) w.stop();
    for (const fd of fds) fd.close();
  };
  try {
    const slot = ctx.nextVirtioSlot();
    const base = VIRTIO_MMIO_START + slot * VIRTIO_MMIO_SIZE;
    const gsi = VIRTIO_IRQ_BASE + slot;
    transport = new MmioTransport({ device, mem: ctx.memory, irq: ctx.irq(gsi) });
    wireNotifications(ctx, name, base, transport, fds, watchers);
    const acpi = virtioMmioNode({ base, size: VIRTIO_MMIO_SIZE, irq: gsi }, slot);
    log.info(`${name}: virtio device type ${device.type} at 0x${base.toString(16)}, GSI ${gsi}`);
    const wired = transport;
    return {
      name,
      transport: wired,
      ranges: [{ bus: 'mmio', base, size: VIRTIO_MMIO_SIZE, device: wired, name: `virtio-${name}` }],
      gsis: [gsi],
      acpi,
      counters: () => virtioCounters(device, wired),
      ...(isStateful(device) ? { state: virtioState(wired, device) } : {}),
      teardown: [...host, { name: 'virtio transport', run: unwire }],
    };
  } catch (err) {
    unwire();
    for (const step of [...host].reverse()) {
      try {
        void step.run();
      } catch (cleanupErr) {
        log.warn(`${name}: releasing ${step.name} after a failed wiring failed`, { error: String(cleanupErr) });
      }
    }
    throw err;
  }
}

/** A 4-byte write of `queue` to QueueNotify signals an eventfd inside KVM, watched by the core. */
function wireNotifications(ctx: DeviceContext, name: string, base: number, transport: MmioTransport, fds: EventFd[], watchers: FdWatcher[]): void {
  transport.queues.forEach((_q, queue) => {
    const fd = new EventFd();
    fds.push(fd);
    try {
      // Any other write (another width or value) still exits and reaches transport.write().
      ctx.vm.registerIoeventfd(fd.fd, base + REG_QUEUE_NOTIFY, 4, { datamatch: BigInt(queue) });
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
}

/**
 * A virtio device's snapshot hooks: the transport (registers, queues) and the device model. On
 * restore the transport re-activates a live device first, so the device's restore() sees it
 * active, then every ready queue is served once: work the guest queued before the snapshot
 * (a notification the device had deferred to the event loop) is not left waiting for a kick.
 */
function virtioState(transport: MmioTransport, device: VirtioDevice & DeviceStateHooks): DeviceStateHooks {
  return {
    ...(device.quiesce === undefined ? {} : { quiesce: () => device.quiesce?.() }),
    ...(device.unquiesce === undefined ? {} : { unquiesce: () => device.unquiesce?.() }),
    save: () => ({ transport: transport.save(), device: device.save() }),
    restore: (state) => {
      const s = state as { transport?: unknown; device?: unknown } | null;
      if (typeof s !== 'object' || s === null || !('transport' in s) || !('device' in s)) throw new VirtioError('invalid-config', `${device.name}: the snapshot state has no transport or device part`);
      transport.restore(s.transport as MmioTransportState);
      device.restore(s.device);
      if (transport.active) transport.queues.forEach((q, i) => q.ready && transport.queueNotify(i));
    },
  };
}

function isStateful(device: VirtioDevice): device is VirtioDevice & DeviceStateHooks {
  const d = device as Partial<DeviceStateHooks>;
  return typeof d.save === 'function' && typeof d.restore === 'function';
}

/** virtio-blk on an image opened by openDisks (the machine closes the image after the device is reset). */
export function blockDevice(ctx: DeviceContext, disk: DiskSpec, index: number, backend: BlockBackend): VirtioRegistration {
  const name = disk.id ?? `disk${index}`;
  const device = new VirtioBlock({ backend, name, ...(disk.serial === undefined ? {} : { serial: disk.serial }), ...(disk.queueSize === undefined ? {} : { queueSize: disk.queueSize }) });
  return virtioDevice(ctx, name, device);
}

/** virtio-rng, rate limited when the config says so. */
export function rngDevice(ctx: DeviceContext, spec: RngSpec): VirtioRegistration {
  const name = spec.id ?? 'rng';
  return virtioDevice(ctx, name, new VirtioRng({ name, ...(spec.rateLimiter === undefined ? {} : { rateLimiter: spec.rateLimiter }) }));
}

/** Counters of one virtio device: the device's, its transport's and its queues' (summed), one flat record. */
export function virtioCounters(device: VirtioDevice, transport: MmioTransport): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (o: object): void => {
    for (const [k, v] of Object.entries(o)) if (typeof v === 'number') out[k] = (out[k] ?? 0) + v;
  };
  add((device as { metrics?: object }).metrics ?? {});
  add(transport.metrics);
  for (const q of transport.queues) add(q.metrics);
  return out;
}
