import { readFileSync } from 'node:fs';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { VmConfigSchema } from '@workervisor/schema';
import { FirecrackerConfigError, parseFirecrackerConfig, translateFirecrackerConfig } from './config.js';

// tests/framework/vm_config.json from Firecracker (Apache-2.0), copied unchanged.
const fixture = readFileSync(new URL('./fixtures/vm-config.json', import.meta.url), 'utf8');
const base = () => JSON.parse(fixture) as Record<string, unknown>;

function rejects(json: unknown): FirecrackerConfigError {
  try {
    translateFirecrackerConfig(json);
  } catch (err) {
    if (err instanceof FirecrackerConfigError) return err;
    throw err;
  }
  throw new Error('expected a FirecrackerConfigError');
}

describe('Firecracker config translation', () => {
  it("translates Firecracker's own test config into a valid VmConfig", () => {
    const { config, logger, metrics } = parseFirecrackerConfig(fixture);
    expect(Value.Check(VmConfigSchema, config)).toBe(true);
    expect(config.payload).toEqual({ kernel: 'vmlinux.bin', cmdline: 'console=ttyS0 reboot=k panic=1 root=/dev/vda rw' });
    expect(config.cpus).toEqual({ boot_vcpus: 2, max_vcpus: 2 });
    expect(config.memory).toEqual({ size: 1024 * 1024 * 1024, thp: false });
    expect(config.disks).toEqual([{ id: 'rootfs', path: 'bionic.rootfs.ext4', readonly: false }]);
    expect(config.serial).toEqual({ mode: 'Tty' });
    expect(logger).toBeUndefined();
    expect(metrics).toBeUndefined();
  });

  it('puts the root drive first and uses its PARTUUID and read-only flag on the cmdline', () => {
    const fc = base();
    fc['drives'] = [
      { drive_id: 'data', is_root_device: false, path_on_host: 'data.img', is_read_only: false },
      { drive_id: 'root', is_root_device: true, path_on_host: 'root.img', is_read_only: true, partuuid: '0eaa91a0-01' },
    ];
    const { config } = translateFirecrackerConfig(fc);
    expect(config.disks?.map((d) => d.id)).toEqual(['root', 'data']);
    expect(config.payload.cmdline).toMatch(/root=PARTUUID=0eaa91a0-01 ro$/);
  });

  it('translates network interfaces, vsock, balloon, entropy, logger and metrics', () => {
    const fc = base();
    fc['network-interfaces'] = [{ iface_id: 'eth0', host_dev_name: 'tap0', guest_mac: 'AA:FC:00:00:00:01' }];
    fc['vsock'] = { guest_cid: 3, uds_path: '/tmp/v.sock' };
    fc['balloon'] = { amount_mib: 64, deflate_on_oom: true, stats_polling_interval_s: 0 };
    fc['entropy'] = {};
    fc['logger'] = { level: 'Warning', log_path: '/tmp/fc.log', show_level: true };
    fc['metrics'] = { metrics_path: '/tmp/m.json', emit_id: false, properties: {} };
    const { config, logger, metrics } = translateFirecrackerConfig(fc);
    expect(config.net).toEqual([{ id: 'eth0', tap: 'tap0', mac: 'AA:FC:00:00:00:01' }]);
    expect(config.vsock).toEqual({ cid: 3, socket: '/tmp/v.sock' });
    expect(translateFirecrackerConfig({ ...fc, vsock: { guest_cid: 42, uds_path: '/tmp/v.sock', vsock_id: 'vsock0' } }).config.vsock).toEqual({
      cid: 42,
      socket: '/tmp/v.sock',
      id: 'vsock0',
    });
    expect(config.balloon).toEqual({ size: 64 * 1024 * 1024, deflate_on_oom: true, free_page_reporting: false });
    expect(config.rng).toEqual({ src: '/dev/urandom' });
    expect(logger).toEqual({ level: 'warn', path: '/tmp/fc.log' });
    expect(metrics).toEqual({ path: '/tmp/m.json' });
    expect(Value.Check(VmConfigSchema, config)).toBe(true);
  });

  it('carries the balloon statistics interval and free page reporting into the balloon section', () => {
    const fc = base();
    fc['balloon'] = { amount_mib: 16, deflate_on_oom: false, stats_polling_interval_s: 5, free_page_reporting: true };
    const { config } = translateFirecrackerConfig(fc);
    expect(config.balloon).toEqual({ size: 16 * 1024 * 1024, deflate_on_oom: false, free_page_reporting: true, stats_polling_interval_s: 5 });
    expect(Value.Check(VmConfigSchema, config)).toBe(true);
  });

  it('carries the entropy rate limiter (bytes and ops buckets) into rng.rate_limiter_config', () => {
    const fc = base();
    fc['entropy'] = { rate_limiter: { bandwidth: { size: 1000, one_time_burst: 4096, refill_time: 100 }, ops: { size: 10, refill_time: 1000 } } };
    const { config } = translateFirecrackerConfig(fc);
    expect(config.rng).toEqual({
      src: '/dev/urandom',
      rate_limiter_config: { bandwidth: { size: 1000, one_time_burst: 4096, refill_time: 100 }, ops: { size: 10, refill_time: 1000 } },
    });
    expect(Value.Check(VmConfigSchema, config)).toBe(true);
    const nulls = base();
    nulls['entropy'] = { rate_limiter: { bandwidth: null, ops: null } };
    expect(translateFirecrackerConfig(nulls).config.rng).toEqual({ src: '/dev/urandom' });
  });

  it('rejects an entropy section with an unknown key or a malformed bucket, naming the field', () => {
    const fc = base();
    fc['entropy'] = { rate_limiter: { bandwidth: { size: 10 } } };
    expect(rejects(fc).details?.['field']).toMatch(/^entropy\.rate_limiter\.bandwidth/);
    const fc2 = base();
    fc2['entropy'] = { source: '/dev/hwrng' };
    expect(rejects(fc2).details?.['field']).toBe('entropy.source');
  });

  it('rejects an unknown top-level or nested key by name', () => {
    const fc = base();
    fc['serial-console'] = {};
    expect(rejects(fc)).toMatchObject({ code: 'ERR_VMM_FC_CONFIG_INVALID', details: { field: 'serial-console' } });
    const fc2 = base();
    (fc2['machine-config'] as Record<string, unknown>)['vcpus'] = 2;
    expect(rejects(fc2).details?.['field']).toBe('machine-config.vcpus');
  });

  it('rejects wrong types naming the field', () => {
    const fc = base();
    (fc['machine-config'] as Record<string, unknown>)['vcpu_count'] = '2';
    expect(rejects(fc).details?.['field']).toBe('machine-config.vcpu_count');
    const fc2 = base();
    (fc2['drives'] as Record<string, unknown>[])[0]!['is_read_only'] = 'no';
    expect(rejects(fc2).details?.['field']).toBe('drives[0].is_read_only');
    expect(rejects({}).details?.['field']).toBe('boot-source');
  });

  it('refuses what it cannot honour yet, naming the key', () => {
    const cases: [(fc: Record<string, any>) => void, string][] = [
      [(fc) => (fc['mmds-config'] = { network_interfaces: ['eth0'] }), 'mmds-config'],
      [(fc) => (fc['cpu-config'] = { kvm_capabilities: [] }), 'cpu-config'],
      [(fc) => (fc['machine-config'].smt = true), 'machine-config.smt'],
      [(fc) => (fc['machine-config'].track_dirty_pages = true), 'machine-config.track_dirty_pages'],
      [(fc) => (fc['machine-config'].cpu_template = 'T2'), 'machine-config.cpu_template'],
      [(fc) => (fc['machine-config'].huge_pages = '2M'), 'machine-config.huge_pages'],
      [(fc) => (fc['machine-config'].huge_pages = 'Transparent'), 'machine-config.huge_pages'],
      [(fc) => (fc['logger'] = { show_log_origin: true }), 'logger.show_log_origin'],
      [(fc) => (fc['logger'] = { module: 'api_server' }), 'logger.module'],
      [(fc) => (fc['metrics'] = { metrics_path: '/m', emit_id: true }), 'metrics.emit_id'],
      [(fc) => (fc['metrics'] = { metrics_path: '/m', properties: { a: 'b' } }), 'metrics.properties'],
      [(fc) => (fc['drives'][0].io_engine = 'Async'), 'drives[0].io_engine'],
      [(fc) => (fc['drives'][0].cache_type = 'Writeback'), 'drives[0].cache_type'],
      [(fc) => (fc['drives'][0].socket = '/vhost.sock'), 'drives[0].socket'],
      [(fc) => (fc['memory-hotplug'] = { total_size_mib: 1024 }), 'memory-hotplug'],
      [(fc) => (fc['pmem'] = [{ id: 'p', path_on_host: '/p' }]), 'pmem[0]'],
      [(fc) => (fc['balloon'] = { amount_mib: 1, deflate_on_oom: false, free_page_hinting: true }), 'balloon.free_page_hinting'],
      [(fc) => (fc['network-interfaces'] = [{ iface_id: 'eth0', host_dev_name: 'tap0', mtu: 9000 }]), 'network-interfaces[0].mtu'],
      [(fc) => (fc['network-interfaces'] = [{ iface_id: 'eth0', host_dev_name: 'tap0', rx_rate_limiter: { bandwidth: { size: 1, refill_time: 1 } } }]), 'network-interfaces[0].rx_rate_limiter'],
      [(fc) => (fc['network-interfaces'] = [{ iface_id: 'eth0', host_dev_name: 'tap0', tx_rate_limiter: { ops: { size: 1, refill_time: 1 } } }]), 'network-interfaces[0].tx_rate_limiter'],
    ];
    for (const [mutate, field] of cases) {
      const fc = base();
      mutate(fc);
      const err = rejects(fc);
      expect(err.code, field).toBe('ERR_VMM_FC_CONFIG_UNSUPPORTED');
      expect(err.details?.['field']).toBe(field);
      expect(err.message).toContain(field);
    }
  });

  it('accepts huge_pages None or null, show_level either way, and show_log_origin, emit_id and properties at their defaults', () => {
    for (const huge of ['None', null]) {
      const fc = base() as Record<string, any>;
      fc['machine-config'].huge_pages = huge;
      fc['logger'] = { show_level: false, show_log_origin: false, module: null };
      fc['metrics'] = { metrics_path: '/m', emit_id: null, properties: null };
      const { config, logger } = translateFirecrackerConfig(fc);
      expect(config.memory).toEqual({ size: 1024 * 1024 * 1024, thp: false });
      expect(logger).toEqual({ level: 'info' });
    }
  });

  it('rejects two root devices and invalid JSON', () => {
    const fc = base();
    fc['drives'] = [
      { drive_id: 'a', is_root_device: true, path_on_host: 'a' },
      { drive_id: 'b', is_root_device: true, path_on_host: 'b' },
    ];
    expect(rejects(fc).details?.['field']).toBe('drives[1].is_root_device');
    expect(() => parseFirecrackerConfig('{')).toThrow(/not valid JSON/);
  });
});
