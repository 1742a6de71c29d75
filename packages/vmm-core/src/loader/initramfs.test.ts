import { describe, expect, it } from 'vitest';
import { FakeGuestMemory } from '@workervisor/devices/testing';
import { initramfsAddress, loadInitramfs } from './initramfs.js';
import { errorKindOf } from './test-support.js';

const MiB = 0x10_0000;

describe('initramfsAddress', () => {
  it('places the initramfs page-aligned at the top of RAM', () => {
    expect(initramfsAddress(64 * MiB, 0x1800, { kernelEnd: 4 * MiB, initrdAddrMax: 0x7fff_ffff })).toBe(64 * MiB - 0x2000);
  });

  it('stays at or below initrd_addr_max', () => {
    expect(initramfsAddress(64 * MiB, 0x1000, { kernelEnd: 4 * MiB, initrdAddrMax: 32 * MiB - 1 })).toBe(32 * MiB - 0x1000);
  });

  it('stays below the MMIO gap when RAM continues above 4 GiB', () => {
    expect(initramfsAddress(8 * 1024 * MiB, 0x1000, { kernelEnd: 4 * MiB, initrdAddrMax: 0xffff_ffff })).toBe(0xc000_0000 - 0x1000);
  });

  it('fails with initramfs-too-large when it would overlap the kernel', () => {
    expect(errorKindOf(() => initramfsAddress(64 * MiB, 61 * MiB, { kernelEnd: 4 * MiB, initrdAddrMax: 0x7fff_ffff }))).toBe(
      'LoaderError:initramfs-too-large',
    );
    expect(initramfsAddress(64 * MiB, 60 * MiB, { kernelEnd: 4 * MiB, initrdAddrMax: 0x7fff_ffff })).toBe(4 * MiB);
  });

  it('fails with initramfs-empty for zero bytes', () => {
    expect(errorKindOf(() => initramfsAddress(64 * MiB, 0, { kernelEnd: 4 * MiB, initrdAddrMax: 0x7fff_ffff }))).toBe('LoaderError:initramfs-empty');
  });
});

describe('loadInitramfs', () => {
  it('copies the bytes where it placed them', () => {
    const mem = new FakeGuestMemory(16 * MiB);
    const data = Uint8Array.from({ length: 0x1234 }, (_, i) => i & 0xff);
    const p = loadInitramfs(mem, data, { kernelEnd: 2 * MiB, initrdAddrMax: 0x7fff_ffff });
    expect(p).toEqual({ addr: 16 * MiB - 0x2000, size: 0x1234 });
    expect(mem.dump(p.addr, p.size)).toEqual(data);
  });
});
