import type { VmConfig } from '@workervisor/schema';
import { describe, expect, it } from 'vitest';
import { resolveMachineConfig } from './resolve.js';

const HOST = 64 * 1024 ** 3;

function withNet(net: unknown[], extra: Record<string, unknown> = {}): VmConfig {
  return { payload: { kernel: '/vmlinux' }, memory: { size: 64 << 20 }, net, ...extra } as unknown as VmConfig;
}

function thrown(fn: () => unknown): { code?: string; message?: string; details?: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    return err as { code: string; message: string; details: Record<string, unknown> };
  }
  throw new Error('expected a throw');
}

const ALL_OFFLOADS = { tso: true, ufo: true, csum: true };

describe('resolveMachineConfig net', () => {
  it('opens a named tap as it is, with one queue pair of 256 and every offload', () => {
    expect(resolveMachineConfig(withNet([{ tap: 'tap0' }]), HOST).nets).toEqual([{ tap: { kind: 'name', name: 'tap0' }, queueSize: 256, offloads: ALL_OFFLOADS }]);
  });

  it('creates a tap with the spec default address when neither tap nor fd is given', () => {
    expect(resolveMachineConfig(withNet([{}]), HOST).nets?.[0]).toMatchObject({ tap: { kind: 'name', name: '' }, ipv4: { address: '192.168.249.1', netmask: '255.255.255.0' } });
  });

  it('honours tap, ip, mask, mac, host_mac, queue_size, num_queues 2, id and the offload switches', () => {
    const [spec] = resolveMachineConfig(withNet([{ tap: 'wv0', ip: '10.0.2.1', mask: '255.255.0.0', mac: '52:54:00:AB:CD:EF', host_mac: '52:54:00:00:00:01', queue_size: 1024, num_queues: 2, id: 'eth0', offload_tso: false, offload_ufo: false, offload_csum: true }]), HOST).nets ?? [];
    expect(spec).toEqual({
      id: 'eth0',
      tap: { kind: 'name', name: 'wv0' },
      ipv4: { address: '10.0.2.1', netmask: '255.255.0.0' },
      mac: '52:54:00:ab:cd:ef',
      hostMac: '52:54:00:00:00:01',
      queueSize: 1024,
      offloads: { tso: false, ufo: false, csum: true },
    });
  });

  it('takes an open tap fd as it is', () => {
    expect(resolveMachineConfig(withNet([{ fd: 7, mac: '02:00:00:00:00:01' }]), HOST).nets?.[0]).toEqual({ tap: { kind: 'fd', fd: 7 }, mac: '02:00:00:00:00:01', queueSize: 256, offloads: ALL_OFFLOADS });
    const err = thrown(() => resolveMachineConfig(withNet([{ fd: 7, ip: '10.0.0.1' }]), HOST));
    expect(err.code).toBe('ERR_VMM_VM_INVALID_CONFIG');
    expect(err.details?.field).toBe('net[0].ip');
  });

  it.each([
    [{ vhost_user: true }, 'net[0].vhost_user'],
    [{ iommu: true }, 'net[0].iommu'],
    [{ pci_segment: 1 }, 'net[0].pci_segment'],
    [{ rate_limiter_config: { bandwidth: { size: 1, refill_time: 1 } } }, 'net[0].rate_limiter_config'],
    [{ mtu: 9000 }, 'net[0].mtu'],
    [{ num_queues: 4 }, 'net[0].num_queues'],
    [{ ip: 'fd00::1' }, 'net[0].ip'],
  ])('refuses %j as not supported, naming the field', (extra, field) => {
    const err = thrown(() => resolveMachineConfig(withNet([{ tap: 'tap0', ...extra }]), HOST));
    expect(err.code).toBe('ERR_VMM_VM_NOT_SUPPORTED');
    expect(err.details?.field).toBe(field);
    expect(err.message).toContain(field);
  });

  it.each([
    [{ mac: '52:54:00:ab:cd' }, 'net[0].mac'],
    [{ mac: '01:00:5e:00:00:01' }, 'net[0].mac'],
    [{ host_mac: 'zz:54:00:ab:cd:ef' }, 'net[0].host_mac'],
    [{ ip: '10.0.0.300' }, 'net[0].ip'],
    [{ ip: '10.0.0.1', mask: '255.0.255.0' }, 'net[0].mask'],
    [{ mask: '255.255.255.0' }, 'net[0].mask'],
    [{ queue_size: 100 }, 'net[0].queue_size'],
    [{ num_queues: 1 }, 'net[0].num_queues'],
    [{ tap: 'a-name-longer-than-15' }, 'net[0].tap'],
    [{ tap: 'bad/name' }, 'net[0].tap'],
  ])('rejects %j as invalid, naming the field', (extra, field) => {
    const err = thrown(() => resolveMachineConfig(withNet([{ tap: 'tap0', ...extra }]), HOST));
    expect(err.code).toBe('ERR_VMM_VM_INVALID_CONFIG');
    expect(err.details?.field).toBe(field);
  });

  it('rejects one tap for two devices and an id another device uses', () => {
    expect(thrown(() => resolveMachineConfig(withNet([{ tap: 't0' }, { tap: 't0' }]), HOST)).details?.field).toBe('net[1].tap');
    expect(thrown(() => resolveMachineConfig(withNet([{ tap: 't0', id: 'rng' }], { rng: { src: '/dev/urandom' } }), HOST)).details?.field).toBe('net[0].id');
    expect(resolveMachineConfig(withNet([{ tap: 't0' }, { tap: 't1' }]), HOST).nets).toHaveLength(2);
  });
});
