import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import * as api from './index.js';
import { VmConfigSchema, VmInfoSchema, withDefaults, type VmConfig } from './index.js';

describe('VmConfigSchema', () => {
  it('accepts a typical Cloud Hypervisor config', () => {
    const config = {
      cpus: { boot_vcpus: 2, max_vcpus: 4, topology: { threads_per_core: 1, cores_per_die: 2, dies_per_package: 1, packages: 1 } },
      memory: { size: 1 << 30, shared: true },
      payload: { kernel: '/boot/vmlinux', cmdline: 'console=ttyS0', initramfs: '/boot/initrd' },
      disks: [{ path: '/img.raw', readonly: true, rate_limiter_config: { bandwidth: { size: 1000, refill_time: 100 } } }],
      net: [{ tap: 'tap0', mac: '12:34:56:78:90:ab' }],
      rng: { src: '/dev/urandom' },
      serial: { mode: 'Tty' },
      console: { mode: 'Off' },
      vsock: { cid: 3, socket: '/tmp/v.sock' },
      balloon: { size: 0, deflate_on_oom: true },
      platform: { num_pci_segments: 1, oem_strings: ['a'] },
    };
    expect(Value.Check(VmConfigSchema, config)).toBe(true);
  });

  it('rejects unknown fields at any depth, a missing payload and a bad console mode', () => {
    expect(Value.Check(VmConfigSchema, { payload: {}, bogus: 1 })).toBe(false);
    expect(Value.Check(VmConfigSchema, { payload: {}, disks: [{ path: '/a', sizee: 1 }] })).toBe(false);
    expect(Value.Check(VmConfigSchema, {})).toBe(false);
    expect(Value.Check(VmConfigSchema, { payload: {}, serial: { mode: 'Stdout' } })).toBe(false);
    expect(Value.Check(VmConfigSchema, { payload: {}, cpus: { boot_vcpus: 0, max_vcpus: 1 } })).toBe(false);
    expect(Value.Check(VmConfigSchema, { payload: {}, vsock: { cid: 2, socket: '/s' } })).toBe(false);
    expect(Value.Check(VmConfigSchema, { payload: {}, memory: { size: 2 ** 60 } })).toBe(false);
  });

  it('validates VmInfo with a device tree', () => {
    const info = { config: { payload: {} }, state: 'Running', memory_actual_size: 1024, device_tree: { d0: { id: 'd0', children: [], resources: [{ Mmio: 1 }] } } };
    expect(Value.Check(VmInfoSchema, info)).toBe(true);
    expect(Value.Check(VmInfoSchema, { ...info, state: 'Booting' })).toBe(false);
  });
});

describe('withDefaults', () => {
  it('applies the spec defaults inside present sections and Cloud Hypervisor defaults for absent ones', () => {
    const input: VmConfig = { payload: { kernel: '/k' }, disks: [{ path: '/d' }], net: [{ tap: 't' }] };
    const out = withDefaults(input);
    expect(out.cpus).toMatchObject({ boot_vcpus: 1, max_vcpus: 1, kvm_hyperv: false, nested: true });
    expect(out.memory).toMatchObject({ size: 512 * 1024 * 1024, thp: true, hotplug_method: 'Acpi', shared: false });
    expect(out.disks?.[0]).toMatchObject({ path: '/d', readonly: false, num_queues: 1, queue_size: 128, sparse: true, lock_granularity: 'ByteRange' });
    expect(out.net?.[0]).toMatchObject({ ip: '192.168.249.1', mask: '255.255.255.0', num_queues: 2, queue_size: 256, vhost_mode: 'Client' });
    expect(out.serial).toEqual({ mode: 'Tty' });
    expect(out.console).toMatchObject({ mode: 'Off', iommu: false });
    expect(out.iommu).toBe(false);
    // Workervisor's default, not the spec's: the pvpanic device is always built.
    expect(out.pvpanic).toBe(true);
    expect(Value.Check(VmConfigSchema, out)).toBe(true);
    expect(input.cpus).toBeUndefined();
  });

  it('keeps values the config sets', () => {
    const out = withDefaults({ payload: {}, cpus: { boot_vcpus: 4, max_vcpus: 8, nested: false }, disks: [{ queue_size: 64 }] });
    expect(out.cpus).toMatchObject({ boot_vcpus: 4, max_vcpus: 8, nested: false });
    expect(out.disks?.[0]?.queue_size).toBe(64);
  });
});

describe('package exports', () => {
  it('export the schemas under their documented names', () => {
    for (const name of [
      'VmConfig', 'VmInfo', 'VmState', 'VmmPingResponse', 'VmCounters', 'VmSnapshotConfig', 'RestoreConfig', 'DiskConfig', 'NetConfig',
      'VsockConfig', 'RngConfig', 'BalloonConfig', 'PayloadConfig', 'CpusConfig', 'MemoryConfig', 'ConsoleConfig', 'VmResize',
      'VmResizeZone', 'VmRemoveDevice', 'DeviceConfig', 'PciDeviceInfo', 'ReceiveMigrationData', 'SendMigrationData',
    ]) {
      expect((api as Record<string, unknown>)[`${name}Schema`], name).toBeTypeOf('object');
    }
  });
});
