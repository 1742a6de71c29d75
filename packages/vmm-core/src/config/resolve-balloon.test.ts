import type { VmConfig } from '@workervisor/schema';
import { describe, expect, it } from 'vitest';
import { resolveMachineConfig } from './resolve.js';

const HOST = 64 * 1024 ** 3;
const MIB = 1024 * 1024;

function thrown(fn: () => unknown): { code?: string; message?: string; details?: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    return err as { code: string; message: string; details: Record<string, unknown> };
  }
  throw new Error('expected a throw');
}

const withBalloon = (balloon: unknown, extra: Record<string, unknown> = {}): VmConfig =>
  ({ payload: { kernel: '/vmlinux' }, memory: { size: 256 * MIB }, balloon, ...extra }) as unknown as VmConfig;

describe('resolveMachineConfig balloon', () => {
  it('has no balloon unless configured', () => {
    expect(resolveMachineConfig(withBalloon(undefined), HOST).balloon).toBeUndefined();
  });

  it("resolves Cloud Hypervisor's balloon section with its defaults, and every key it honours", () => {
    expect(resolveMachineConfig(withBalloon({ size: 0 }), HOST).balloon).toEqual({ sizeBytes: 0, deflateOnOom: false, freePageReporting: false, statsIntervalS: 0 });
    const full = { id: 'b0', size: 64 * MIB, deflate_on_oom: true, free_page_reporting: true, stats_polling_interval_s: 5, iommu: false };
    expect(resolveMachineConfig(withBalloon(full), HOST).balloon).toEqual({ id: 'b0', sizeBytes: 64 * MIB, deflateOnOom: true, freePageReporting: true, statsIntervalS: 5 });
  });

  it.each([
    [{ size: 256 * MIB }, 'balloon.size', /must be less than memory.size/],
    [{ size: 4097 }, 'balloon.size', /not a multiple of 4K/],
    [{ size: 0, stats_polling_interval_s: 3_000_000 }, 'balloon.stats_polling_interval_s', /from 0 \(no statistics\) to 2147483/],
  ])('refuses %j as invalid, naming %s', (balloon, field, message) => {
    const err = thrown(() => resolveMachineConfig(withBalloon(balloon), HOST));
    expect(err).toMatchObject({ code: 'ERR_VMM_VM_INVALID_CONFIG', details: { field } });
    expect(err.message).toMatch(message);
  });

  it.each([
    [{ iommu: true }, 'balloon.iommu'],
    [{ pci_segment: 1 }, 'balloon.pci_segment'],
  ])('refuses %j by name: the balloon is virtio-mmio', (extra, field) => {
    expect(thrown(() => resolveMachineConfig(withBalloon({ size: 0, ...extra }), HOST))).toMatchObject({ code: 'ERR_VMM_VM_NOT_SUPPORTED', details: { field } });
  });

  it('refuses an id another device has, and counts the balloon against the virtio slots', () => {
    expect(thrown(() => resolveMachineConfig(withBalloon({ size: 0, id: 'rng' }, { rng: { src: '/dev/urandom' } }), HOST))).toMatchObject({ details: { field: 'balloon.id' } });
    const nets = Array.from({ length: 16 }, (_, i) => ({ tap: `tap${i}` }));
    expect(() => resolveMachineConfig(withBalloon(undefined, { net: nets }), HOST)).not.toThrow();
    expect(thrown(() => resolveMachineConfig(withBalloon({ size: 0 }, { net: nets }), HOST)).message).toMatch(/17 virtio devices .*balloon.* exceed the 16/);
  });
});
