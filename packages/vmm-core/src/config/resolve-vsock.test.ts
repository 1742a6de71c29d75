import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VmConfig } from '@workervisor/schema';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveMachineConfig } from './resolve.js';

const HOST = 64 * 1024 ** 3;

function thrown(fn: () => unknown): { code?: string; message?: string; details?: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    return err as { code: string; message: string; details: Record<string, unknown> };
  }
  throw new Error('expected a throw');
}

describe('resolveMachineConfig vsock', () => {
  let dir: string;
  let socket: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wv-resolve-vsock-'));
    socket = join(dir, 'v.sock');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const withVsock = (vsock: unknown, extra: Record<string, unknown> = {}): VmConfig => ({ payload: { kernel: '/vmlinux' }, memory: { size: 64 << 20 }, vsock, ...extra }) as unknown as VmConfig;

  it('has no vsock unless configured', () => {
    expect(resolveMachineConfig(withVsock(undefined), HOST).vsock).toBeUndefined();
  });

  it("resolves Cloud Hypervisor's vsock section: cid, socket and id; iommu false is fine", () => {
    expect(resolveMachineConfig(withVsock({ cid: 3, socket }), HOST).vsock).toEqual({ cid: 3, socket });
    expect(resolveMachineConfig(withVsock({ cid: 0xffff_fffe, socket, id: 'vsock0', iommu: false }), HOST).vsock).toEqual({ cid: 0xffff_fffe, socket, id: 'vsock0' });
  });

  it.each([
    [{ iommu: true }, /vsock\.iommu/],
    [{ pci_segment: 1 }, /vsock\.pci_segment/],
    [{ pci_device_id: 3 }, /^vsock\.pci_device_id 3 \(vsock is virtio-mmio\)/],
  ])('refuses %j by name', (extra, message) => {
    const err = thrown(() => resolveMachineConfig(withVsock({ cid: 3, socket, ...extra }), HOST));
    expect(err.code).toBe('ERR_VMM_VM_NOT_SUPPORTED');
    expect(err.message).toMatch(message);
  });

  it.each([0, 2, 0xffff_ffff, 2 ** 40])('refuses cid %d', (cid) => {
    const err = thrown(() => resolveMachineConfig(withVsock({ cid, socket }), HOST));
    expect(err.code).toBe('ERR_VMM_VM_INVALID_CONFIG');
    expect(err.details?.['field']).toBe('vsock.cid');
  });

  it('refuses an empty socket path, one in a missing directory and one too long for sun_path', () => {
    for (const s of ['', join(dir, 'nope', 'v.sock'), join(dir, 'x'.repeat(120))]) {
      const err = thrown(() => resolveMachineConfig(withVsock({ cid: 3, socket: s }), HOST));
      expect(err.details?.['field'], s).toBe('vsock.socket');
    }
  });

  it('refuses a socket path the serial port or the console uses, and an id another device has', () => {
    expect(thrown(() => resolveMachineConfig(withVsock({ cid: 3, socket }, { serial: { mode: 'Socket', socket } }), HOST)).details?.['field']).toBe('vsock.socket');
    expect(thrown(() => resolveMachineConfig(withVsock({ cid: 3, socket }, { serial: { mode: 'Off' }, console: { mode: 'Socket', socket } }), HOST)).details?.['field']).toBe('vsock.socket');
    const image = join(dir, 'd.img');
    writeFileSync(image, Buffer.alloc(512));
    expect(thrown(() => resolveMachineConfig(withVsock({ cid: 3, socket }, { disks: [{ path: image, id: 'vsock' }] }), HOST)).details?.['field']).toBe('vsock.id');
    expect(thrown(() => resolveMachineConfig(withVsock({ cid: 3, socket, id: 'rng' }, { rng: { src: '/dev/urandom' } }), HOST)).details?.['field']).toBe('vsock.id');
  });

  it("resolves the vsock Firecracker's {guest_cid, uds_path, vsock_id} translates to (api's firecracker/config.test.ts)", () => {
    const config = withVsock({ cid: 42, socket, id: 'vsock0' }, { cpus: { boot_vcpus: 1, max_vcpus: 1 } });
    expect(resolveMachineConfig(config, HOST).vsock).toEqual({ cid: 42, socket, id: 'vsock0' });
  });
});
