import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VmConfig } from '@workervisor/schema';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveMachineConfig } from './resolve.js';

const HOST = 64 * 1024 ** 3;

function withDisks(disks: unknown[]): VmConfig {
  return { payload: { kernel: '/vmlinux' }, memory: { size: 64 << 20 }, disks } as unknown as VmConfig;
}

function thrown(fn: () => unknown): { code?: string; message?: string; details?: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    return err as { code: string; message: string; details: Record<string, unknown> };
  }
  throw new Error('expected a throw');
}

describe('resolveMachineConfig disks', () => {
  let dir: string;
  let image: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wv-resolve-'));
    image = join(dir, 'disk.img');
    writeFileSync(image, Buffer.alloc(4096));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves disks in order with their id, serial and read-only flag', () => {
    const ro = join(dir, 'ro.img');
    writeFileSync(ro, Buffer.alloc(512));
    const config = resolveMachineConfig(withDisks([{ path: image, id: 'root' }, { path: ro, readonly: true, serial: 'SN1', queue_size: 64 }]), HOST);
    expect(config.disks).toEqual([
      // No queue_size: the spec's default, as withDefaults would fill it in.
      { path: image, readonly: false, id: 'root', serial: 'root', queueSize: 128, lockGranularity: 'ByteRange' },
      { path: ro, readonly: true, serial: 'SN1', queueSize: 64, lockGranularity: 'ByteRange' },
    ]);
  });

  it('gives a config without serial the default console, COM1 on the terminal', () => {
    expect(resolveMachineConfig({ payload: { kernel: image } }, HOST).serial).toEqual({ kind: 'tty' });
  });

  it('has no disks when none are configured', () => {
    expect(resolveMachineConfig(withDisks([]), HOST).disks).toEqual([]);
  });

  it('names disks[i].path when the image does not exist', () => {
    const err = thrown(() => resolveMachineConfig(withDisks([{ path: image }, { path: join(dir, 'nope.img') }]), HOST));
    expect(err.code).toBe('ERR_VMM_VM_INVALID_CONFIG');
    expect(err.details?.field).toBe('disks[1].path');
    expect(err.message).toMatch(/disks\[1\]\.path .*nope\.img cannot be used \(ENOENT\)/);
  });

  it('refuses a directory as a disk', () => {
    const err = thrown(() => resolveMachineConfig(withDisks([{ path: dir }]), HOST));
    expect(err.details?.field).toBe('disks[0].path');
    expect(err.message).toMatch(/neither a regular file nor a block device/);
  });

  it('suggests readonly when a read-only image is asked for read-write', () => {
    if (process.getuid?.() === 0) return; // root opens anything
    chmodSync(image, 0o444);
    const err = thrown(() => resolveMachineConfig(withDisks([{ path: image }]), HOST));
    expect(err.message).toMatch(/cannot be opened read-write \(EACCES\); set readonly: true/);
    expect(resolveMachineConfig(withDisks([{ path: image, readonly: true }]), HOST).disks?.[0]?.readonly).toBe(true);
  });

  it('refuses the same image twice unless every use is read-only, whatever path names it', () => {
    const link = join(dir, 'link.img');
    symlinkSync(image, link);
    for (const [first, second] of [[false, false], [false, true], [true, false]]) {
      const err = thrown(() => resolveMachineConfig(withDisks([{ path: image, readonly: first }, { path: `${dir}/./link.img`, readonly: second }]), HOST));
      expect(err.code).toBe('ERR_VMM_VM_INVALID_CONFIG');
      expect(err.details?.field).toBe('disks[1].path');
      expect(err.message).toBe(`disks[1].path ${dir}/./link.img is the same image as disks[0].path: attach an image once, or read-only every time`);
    }
    expect(resolveMachineConfig(withDisks([{ path: image, readonly: true }, { path: link, readonly: true }]), HOST).disks).toHaveLength(2);
  });

  it('keeps lock_granularity for the image lock: ByteRange (the default) or Full', () => {
    expect(resolveMachineConfig(withDisks([{ path: image, lock_granularity: 'Full' }]), HOST).disks?.[0]?.lockGranularity).toBe('Full');
    expect(resolveMachineConfig(withDisks([{ path: image }]), HOST).disks?.[0]?.lockGranularity).toBe('ByteRange');
  });

  it('requires a path', () => {
    expect(thrown(() => resolveMachineConfig(withDisks([{ id: 'x' }]), HOST)).details?.field).toBe('disks[0].path');
  });

  it('refuses duplicate ids and queue sizes that are not powers of two', () => {
    const other = join(dir, 'other.img');
    writeFileSync(other, Buffer.alloc(512));
    expect(thrown(() => resolveMachineConfig(withDisks([{ path: image, id: 'a' }, { path: other, id: 'a' }]), HOST)).details?.field).toBe('disks[1].id');
    expect(thrown(() => resolveMachineConfig(withDisks([{ path: image, queue_size: 100 }]), HOST)).details?.field).toBe('disks[0].queue_size');
  });

  it.each([
    [{ vhost_user: true }, /vhost_user/],
    [{ direct: true }, /O_DIRECT/],
    [{ num_queues: 2 }, /multi-queue/],
    [{ rate_limiter_config: { bandwidth: { size: 1, refill_time: 1 } } }, /rate limiting/],
    [{ image_type: 'Qcow2' }, /only Raw/],
  ])('refuses disk option %j as not supported', (extra, message) => {
    const err = thrown(() => resolveMachineConfig(withDisks([{ path: image, ...extra }]), HOST));
    expect(err.code).toBe('ERR_VMM_VM_NOT_SUPPORTED');
    expect(err.message).toMatch(message);
  });

  it('still refuses other device kinds', () => {
    const config = { payload: { kernel: '/vmlinux' }, memory: { size: 64 << 20 }, fs: [{ tag: 'fs0', socket: '/tmp/fs.sock' }] } as unknown as VmConfig;
    expect(thrown(() => resolveMachineConfig(config, HOST)).code).toBe('ERR_VMM_VM_NOT_SUPPORTED');
  });

  it('refuses more disks than virtio-mmio slots', () => {
    expect(thrown(() => resolveMachineConfig(withDisks(Array.from({ length: 17 }, () => ({ path: image }))), HOST)).details?.field).toBe('disks');
  });
});

describe('resolveMachineConfig rng', () => {
  const withRng = (rng: unknown, extra: Record<string, unknown> = {}): VmConfig => ({ payload: { kernel: '/vmlinux' }, memory: { size: 64 << 20 }, rng, ...extra }) as unknown as VmConfig;

  it('has no rng unless configured', () => {
    expect(resolveMachineConfig(withRng(undefined), HOST).rng).toBeUndefined();
  });

  it.each(['/dev/urandom', '/dev/random'])('accepts src %s', (src) => {
    expect(resolveMachineConfig(withRng({ src }), HOST).rng).toEqual({});
  });

  it('keeps the id and turns rate_limiter_config into token buckets; a zero bucket is no limit', () => {
    const rng = { src: '/dev/urandom', id: 'entropy0', iommu: false, rate_limiter_config: { bandwidth: { size: 1000, one_time_burst: 10, refill_time: 100 }, ops: { size: 0, refill_time: 100 } } };
    expect(resolveMachineConfig(withRng(rng), HOST).rng).toEqual({ id: 'entropy0', rateLimiter: { bandwidth: { size: 1000, oneTimeBurst: 10, refillTimeMs: 100 } } });
  });

  it('refuses another entropy source by name', () => {
    const err = thrown(() => resolveMachineConfig(withRng({ src: '/dev/hwrng' }), HOST));
    expect(err.code).toBe('ERR_VMM_VM_NOT_SUPPORTED');
    expect(err.message).toMatch(/rng\.src \/dev\/hwrng .*\/dev\/urandom and \/dev\/random/);
  });

  it.each([
    [{ iommu: true }, /rng\.iommu/],
    [{ pci_segment: 1 }, /rng\.pci_segment/],
  ])('refuses %j', (extra, message) => {
    const err = thrown(() => resolveMachineConfig(withRng({ src: '/dev/urandom', ...extra }), HOST));
    expect(err.code).toBe('ERR_VMM_VM_NOT_SUPPORTED');
    expect(err.message).toMatch(message);
  });

  it('refuses an rng id a disk already uses', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wv-resolve-'));
    const image = join(dir, 'd.img');
    writeFileSync(image, Buffer.alloc(512));
    try {
      expect(thrown(() => resolveMachineConfig(withRng({ src: '/dev/urandom' }, { disks: [{ path: image, id: 'rng' }] }), HOST)).details?.field).toBe('rng.id');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('resolveMachineConfig console', () => {
  const withConsole = (console: unknown, serial: unknown = { mode: 'Off' }): VmConfig => ({ payload: { kernel: '/vmlinux' }, memory: { size: 64 << 20 }, console, serial }) as unknown as VmConfig;

  it('has no virtio-console for mode Off or no console section', () => {
    expect(resolveMachineConfig(withConsole({ mode: 'Off' }), HOST).console).toBeUndefined();
    expect(resolveMachineConfig(withConsole(undefined), HOST).console).toBeUndefined();
  });

  it.each<[unknown, unknown]>([
    [{ mode: 'Tty' }, { sink: { kind: 'tty' } }],
    [{ mode: 'File', file: '/tmp/hvc0.log', id: 'con0' }, { id: 'con0', sink: { kind: 'file', path: '/tmp/hvc0.log' } }],
    [{ mode: 'Socket', socket: '/tmp/hvc0.sock', iommu: false }, { sink: { kind: 'socket', path: '/tmp/hvc0.sock' } }],
  ])('resolves %j', (console, spec) => {
    expect(resolveMachineConfig(withConsole(console), HOST).console).toEqual(spec);
  });

  it.each([
    ['Pty', /console mode Pty/],
    ['Null', /console mode Null .*use Off/],
  ])('refuses mode %s as not supported, by name', (mode, message) => {
    const err = thrown(() => resolveMachineConfig(withConsole({ mode }), HOST));
    expect(err.code).toBe('ERR_VMM_VM_NOT_SUPPORTED');
    expect(err.message).toMatch(message);
  });

  it('refuses Tty on both the console and COM1, the default serial included', () => {
    const configs = [withConsole({ mode: 'Tty' }, { mode: 'Tty' }), { payload: { kernel: '/vmlinux' }, console: { mode: 'Tty' } } as VmConfig];
    for (const config of configs) {
      const err = thrown(() => resolveMachineConfig(config, HOST));
      expect(err.code).toBe('ERR_VMM_VM_INVALID_CONFIG');
      expect(err.details?.field).toBe('console.mode');
      expect(err.message).toMatch(/cannot share the terminal; set serial to Off, Null, File or Socket/);
    }
  });

  it.each<[unknown, unknown, string]>([
    [{ mode: 'File' }, undefined, 'console.file'],
    [{ mode: 'Socket' }, undefined, 'console.socket'],
    [{ mode: 'Tty', file: '/tmp/x' }, undefined, 'console.file'],
    [{ mode: 'File', file: '/tmp/x', socket: '/tmp/s' }, undefined, 'console.socket'],
    [{ mode: 'Socket', socket: '/tmp/s' }, { mode: 'Socket', socket: '/tmp/s' }, 'console.socket'],
  ])('refuses %j (serial %j) naming %s', (console, serial, field) => {
    const err = thrown(() => resolveMachineConfig(withConsole(console, serial ?? { mode: 'Off' }), HOST));
    expect(err.code).toBe('ERR_VMM_VM_INVALID_CONFIG');
    expect(err.details?.field).toBe(field);
  });

  it.each([
    [{ iommu: true }, /console\.iommu/],
    [{ pci_device_id: 3 }, /^console\.pci_device_id 3 \(console is virtio-mmio\)/],
  ])('refuses %j', (extra, message) => {
    const err = thrown(() => resolveMachineConfig(withConsole({ mode: 'File', file: '/tmp/x', ...extra }), HOST));
    expect(err.code).toBe('ERR_VMM_VM_NOT_SUPPORTED');
    expect(err.message).toMatch(message);
  });

  it('refuses a console id the rng uses', () => {
    const config = { ...withConsole({ mode: 'File', file: '/tmp/x', id: 'rng' }), rng: { src: '/dev/urandom' } } as VmConfig;
    expect(thrown(() => resolveMachineConfig(config, HOST)).details?.field).toBe('console.id');
  });
});

describe('resolveMachineConfig Landlock', () => {
  const base = { payload: { kernel: '/vmlinux' }, memory: { size: 64 << 20 } };

  it('refuses landlock_enable: true by name instead of accepting it and applying nothing', () => {
    const err = thrown(() => resolveMachineConfig({ ...base, landlock_enable: true } as VmConfig, HOST));
    expect(err.code).toBe('ERR_VMM_VM_NOT_SUPPORTED');
    expect(err.details?.field).toBe('landlock_enable');
    expect(err.message).toMatch(/^"landlock_enable": Landlock is applied only when the VMM starts \(workervisor --landlock\)/);
  });

  it('refuses landlock_rules, even an empty list', () => {
    for (const rules of [[{ path: '/tmp', access: 'rw' }], []]) {
      const err = thrown(() => resolveMachineConfig({ ...base, landlock_rules: rules } as unknown as VmConfig, HOST));
      expect(err.code).toBe('ERR_VMM_VM_NOT_SUPPORTED');
      expect(err.details?.field).toBe('landlock_rules');
    }
  });

  it('accepts landlock_enable: false (the default)', () => {
    expect(resolveMachineConfig({ ...base, landlock_enable: false } as VmConfig, HOST).vcpus).toBe(1);
  });
});

describe('resolveMachineConfig cpus, memory and serial', () => {
  const base = { payload: { kernel: '/vmlinux' }, memory: { size: 64 << 20 } };
  const field = (config: unknown) => thrown(() => resolveMachineConfig(config as VmConfig, HOST));

  it('falls back to the defaults table: 1 vCPU, 512M, COM1 on the terminal', () => {
    expect(resolveMachineConfig({ payload: { kernel: '/vmlinux' } }, HOST)).toMatchObject({ vcpus: 1, memoryBytes: 512 << 20, serial: { kind: 'tty' } });
  });

  it.each<[unknown, string, RegExp]>([
    [{ cpus: { boot_vcpus: 0, max_vcpus: 0 } }, 'cpus.boot_vcpus', /^cpus\.boot_vcpus 0 must be between 1 and 254$/],
    [{ cpus: { boot_vcpus: 255, max_vcpus: 255 } }, 'cpus.boot_vcpus', /^cpus\.boot_vcpus 255 must be between 1 and 254$/],
    [{ cpus: { boot_vcpus: 4, max_vcpus: 2 } }, 'cpus.max_vcpus', /^cpus\.max_vcpus 2 must be at least cpus\.boot_vcpus 4$/],
    [{ memory: { size: 8 << 20 } }, 'memory.size', /^memory\.size 8388608 bytes \(8M\) is below the minimum of 16M$/],
    [{ memory: { size: (16 << 20) + 1 } }, 'memory.size', /^memory\.size 16777217 bytes is not a multiple of 4K$/],
    [{ serial: { mode: 'Tty', file: '/tmp/x' } }, 'serial.file', /serial\.file is used only with mode File \(mode is Tty\)/],
    [{ serial: { mode: 'File', socket: '/tmp/s', file: '/tmp/x' } }, 'serial.socket', /serial\.socket is used only with mode Socket/],
    [{ serial: { mode: 'File', file: '' } }, 'serial.file', /serial mode File needs serial\.file/],
  ])('refuses %j as invalid, naming %s', (extra, name, message) => {
    const err = field({ ...base, ...(extra as object) });
    expect(err).toMatchObject({ code: 'ERR_VMM_VM_INVALID_CONFIG', details: { field: name } });
    expect(err.message).toMatch(message);
  });

  it('refuses vCPU hotplug and serial mode Pty as not supported, naming the key', () => {
    expect(field({ ...base, cpus: { boot_vcpus: 2, max_vcpus: 4 } })).toMatchObject({ code: 'ERR_VMM_VM_NOT_SUPPORTED', details: { field: 'cpus.max_vcpus' } });
    expect(field({ ...base, serial: { mode: 'Pty' } })).toMatchObject({ code: 'ERR_VMM_VM_NOT_SUPPORTED', details: { field: 'serial.mode' } });
  });

  it.each<[unknown, unknown]>([
    [{ mode: 'Tty' }, { kind: 'tty' }],
    [{ mode: 'Off' }, { kind: 'off' }],
    [{ mode: 'Null' }, { kind: 'off' }],
    [{ mode: 'File', file: '/tmp/ttyS0' }, { kind: 'file', path: '/tmp/ttyS0' }],
    [{ mode: 'Socket', socket: '/tmp/s.sock' }, { kind: 'socket', path: '/tmp/s.sock' }],
  ])('maps serial %j to the sink %j', (serial, sink) => {
    expect(resolveMachineConfig({ ...base, serial } as VmConfig, HOST).serial).toEqual(sink);
  });
});
