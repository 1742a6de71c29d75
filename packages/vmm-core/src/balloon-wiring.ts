// The virtio-balloon on the machine: the device discards inflated pages straight from guest RAM's
// memfd (GuestMemoryMmap.discard), and its counters add the target, the driver's `actual` and the
// guest's latest memory statistics to the transport's and queues' counters.
import { VirtioBalloon } from '@workervisor/devices';
import type { DeviceContext } from './device-manager.js';
import type { BalloonSpec } from './machine-config.js';
import { virtioDevice, type VirtioRegistration } from './virtio-wiring.js';

/** A balloon wired into the next virtio slot, and the device itself (vm.resize sets its target). */
export type BalloonRegistration = VirtioRegistration & { readonly balloon: VirtioBalloon };

export function balloonDevice(ctx: DeviceContext, spec: BalloonSpec): BalloonRegistration {
  const name = spec.id ?? 'balloon';
  const balloon = new VirtioBalloon({
    name,
    discard: ctx.discard,
    targetBytes: spec.sizeBytes,
    deflateOnOom: spec.deflateOnOom,
    freePageReporting: spec.freePageReporting,
    statsIntervalMs: spec.statsIntervalS * 1000,
  });
  const reg = virtioDevice(ctx, name, balloon);
  const base = reg.counters;
  return {
    ...reg,
    balloon,
    counters: () => ({ ...base?.(), targetPages: balloon.targetPages, actualPages: balloon.actual, ...balloon.stats }),
  };
}
