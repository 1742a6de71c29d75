// The host end of each virtio-net device: opens (or adopts) its tap, configures the host side
// (address, netmask, MAC, UP) and adapts it to the device's NetBackend, with an FdWatcher on the
// tap fd for receive readiness.
import { randomFillSync } from 'node:crypto';
import { VirtioNet, formatMac, parseMac, randomMac, type NetBackend, type VirtioNetOptions } from '@workervisor/devices';
import { createLogger } from '@workervisor/base';
import { FdWatcher, Tap } from '@workervisor/native';
import type { DeviceContext } from './device-manager.js';
import type { NetSpec } from './machine-config.js';
import { virtioDevice, type VirtioRegistration } from './virtio-wiring.js';

const log = createLogger('net');

/** A Tap as a NetBackend: the core's event loop watches its fd while the device wants frames. */
export class TapBackend implements NetBackend {
  private watcher: FdWatcher | undefined;
  private handler: (() => void) | undefined;

  constructor(
    readonly tap: Tap,
    /** TUN_F_* bits the tap accepts (the device masks them with the config's offload switches). */
    readonly offloads: number,
  ) {}

  get name(): string {
    return this.tap.name;
  }

  setOffload(flags: number): void {
    this.tap.setOffload(flags);
  }

  read(views: readonly Uint8Array[]): number {
    return this.tap.read(views);
  }

  write(views: readonly Uint8Array[]): number {
    return this.tap.write(views);
  }

  onReadable(handler: (() => void) | undefined): void {
    if (handler === this.handler) return;
    this.handler = handler;
    this.watcher?.stop();
    this.watcher = undefined;
    if (handler !== undefined) {
      this.watcher = new FdWatcher(this.tap.fd, handler);
      // The tap alone must not keep the VMM alive (the vCPUs and the API do).
      this.watcher.setRef(false);
    }
  }

  close(): void {
    this.onReadable(undefined);
    this.tap.close();
  }
}

/** A tap opened for `spec`, configured, with the offloads its config allows. */
export interface OpenedNet {
  readonly spec: NetSpec;
  readonly backend: TapBackend;
}

function openOne(spec: NetSpec): OpenedNet {
  if (spec.tap.kind === 'fd') {
    const tap = Tap.fromFd(spec.tap.fd);
    return { spec, backend: new TapBackend(tap, tap.offloads) };
  }
  const tap = Tap.open({ name: spec.tap.name });
  try {
    if (spec.hostMac !== undefined) tap.setMac(parseMac(spec.hostMac) as Uint8Array);
    if (spec.ipv4 !== undefined) tap.setIpv4(spec.ipv4.address, spec.ipv4.netmask);
    tap.up();
  } catch (err) {
    tap.close();
    throw err;
  }
  log.info(`tap ${tap.name} open`, { ...(spec.ipv4 === undefined ? {} : { ip: `${spec.ipv4.address}/${spec.ipv4.netmask}` }), offloads: tap.offloads });
  return { spec, backend: new TapBackend(tap, tap.offloads) };
}

/** Opens every tap (before any KVM resource exists, so a bad one fails early); closes them all on a failure. */
export function openNets(specs: readonly NetSpec[]): OpenedNet[] {
  const opened: OpenedNet[] = [];
  try {
    for (const s of specs) opened.push(openOne(s));
  } catch (err) {
    for (const o of opened) o.backend.close();
    throw err;
  }
  return opened;
}

/** The virtio-net device for an opened tap; a random locally administered MAC when none is configured. */
export function createNetDevice(net: OpenedNet, index: number): { name: string; device: VirtioNet } {
  const name = net.spec.id ?? `net${index}`;
  const mac = net.spec.mac === undefined ? randomMac((d) => void randomFillSync(d)) : (parseMac(net.spec.mac) as Uint8Array);
  const options: VirtioNetOptions = { backend: net.backend, mac, name, queueSize: net.spec.queueSize, offloads: net.spec.offloads };
  log.info(`${name}: guest MAC ${formatMac(mac)} on tap ${net.backend.name}`);
  return { name, device: new VirtioNet(options) };
}

/**
 * The virtio-net registration on a tap opened by openNets. The machine closes the tap after the
 * device is reset (so no watcher is left on a closed fd); receive starts when the driver is up.
 */
export function netDevice(ctx: DeviceContext, net: OpenedNet, index: number): VirtioRegistration {
  const { name, device } = createNetDevice(net, index);
  const registration = virtioDevice(ctx, name, device);
  // A restore reopens a tap by name; a tap handed over as a file descriptor has none to reopen.
  if (net.spec.tap.kind === 'fd') return { ...registration, snapshotRefusal: 'its tap was passed as a file descriptor, which a restore cannot reopen (name the tap instead)' };
  return registration;
}
