import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VmConfig } from '@workervisor/api';
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
      { path: image, readonly: false, id: 'root', serial: 'root', queueSize: 128 },
      { path: ro, readonly: true, serial: 'SN1', queueSize: 64 },
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
    expect(err.code).toBe('ERR_VMM_API_INVALID_CONFIG');
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

  it('requires a path', () => {
    expect(thrown(() => resolveMachineConfig(withDisks([{ id: 'x' }]), HOST)).details?.field).toBe('disks[0].path');
  });

  it('refuses duplicate ids and queue sizes that are not powers of two', () => {
    expect(thrown(() => resolveMachineConfig(withDisks([{ path: image, id: 'a' }, { path: image, id: 'a' }]), HOST)).details?.field).toBe('disks[1].id');
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
    expect(err.code).toBe('ERR_VMM_API_NOT_SUPPORTED');
    expect(err.message).toMatch(message);
  });

  it('still refuses other device kinds', () => {
    const config = { payload: { kernel: '/vmlinux' }, memory: { size: 64 << 20 }, net: [{ tap: 'tap0' }] } as unknown as VmConfig;
    expect(thrown(() => resolveMachineConfig(config, HOST)).code).toBe('ERR_VMM_API_NOT_SUPPORTED');
  });

  it('refuses more disks than virtio-mmio slots', () => {
    expect(thrown(() => resolveMachineConfig(withDisks(Array.from({ length: 17 }, () => ({ path: image }))), HOST)).details?.field).toBe('disks');
  });
});
