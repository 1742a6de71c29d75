// Cloud Hypervisor's `balloon` section -> the virtio-balloon: size (bytes, the balloon at boot),
// deflate_on_oom, free_page_reporting, and our stats_polling_interval_s (Firecracker's). Its PCI and
// IOMMU keys are refused in refusals.ts (the device is virtio-mmio).
import type { BalloonConfig } from '@workervisor/schema';
import type { BalloonSpec } from '../machine-config.js';
import { invalidConfig as invalid } from './errors.js';

const PAGE_SIZE = 4096;
/** setInterval's largest delay (2^31 - 1 ms), in whole seconds. */
const MAX_STATS_INTERVAL_S = Math.floor((2 ** 31 - 1) / 1000);

/** The balloon for `b` in a guest of `memoryBytes`. Throws invalid-config naming the key. */
export function resolveBalloon(b: BalloonConfig, memoryBytes: number): BalloonSpec {
  if (!Number.isSafeInteger(b.size) || b.size < 0) throw invalid('balloon.size', `balloon.size ${b.size} is not a whole number of bytes`);
  if (b.size % PAGE_SIZE !== 0) throw invalid('balloon.size', `balloon.size ${b.size} is not a multiple of 4K (the balloon's page size)`);
  // A balloon as large as RAM would leave the guest nothing to run in (Cloud Hypervisor refuses it too).
  if (b.size >= memoryBytes) throw invalid('balloon.size', `balloon.size ${b.size} must be less than memory.size ${memoryBytes}`);
  const interval = b.stats_polling_interval_s ?? 0;
  if (!Number.isSafeInteger(interval) || interval < 0 || interval > MAX_STATS_INTERVAL_S) {
    throw invalid('balloon.stats_polling_interval_s', `balloon.stats_polling_interval_s ${interval} must be a whole number of seconds from 0 (no statistics) to ${MAX_STATS_INTERVAL_S}`);
  }
  return {
    ...(b.id === undefined ? {} : { id: b.id }),
    sizeBytes: b.size,
    deflateOnOom: b.deflate_on_oom ?? false,
    freePageReporting: b.free_page_reporting ?? false,
    statsIntervalS: interval,
  };
}
