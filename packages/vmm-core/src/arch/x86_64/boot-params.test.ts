import { describe, expect, it } from 'vitest';
import { le } from '@workervisor/base';
import { FakeGuestMemory } from '@workervisor/devices/testing';
import { BOOT_PARAMS, BOOT_PARAMS_SIZE, E820_ENTRY_SIZE, buildBootParams, writeBootParams } from './boot-params.js';
import { CMDLINE_START, RSDP_START, ZERO_PAGE_START } from './layout.js';
import { E820_RAM, E820_RESERVED, guestMemoryMap } from './memory-map.js';
import { loadKernel } from '../../loader/kernel.js';
import { loadInitramfs } from '../../loader/initramfs.js';
import { Cmdline, writeCmdline } from '../../loader/cmdline.js';
import { buildBzImage, errorKindOf, readLinuxArtifact } from '../../loader/test-support.js';

const MiB = 0x10_0000;

/** Reads the e820 table of a zero page back into entries. */
function e820Of(zp: Uint8Array): { addr: number; size: number; type: number }[] {
  const n = zp[BOOT_PARAMS.E820_ENTRIES] ?? 0;
  return Array.from({ length: n }, (_, i) => {
    const off = BOOT_PARAMS.E820_TABLE + i * E820_ENTRY_SIZE;
    return { addr: Number(le.readU64(zp, off)), size: Number(le.readU64(zp, off + 8)), type: le.u32(zp, off + 16) };
  });
}

describe('buildBootParams', () => {
  it('synthesizes a setup header for an ELF 64-bit entry', () => {
    const zp = buildBootParams({ cmdline: { addr: CMDLINE_START, length: 12 }, memoryMap: guestMemoryMap(64 * MiB) });
    expect(zp.length).toBe(BOOT_PARAMS_SIZE);
    expect(le.u16(zp, BOOT_PARAMS.BOOT_FLAG)).toBe(0xaa55);
    expect(le.u32(zp, BOOT_PARAMS.HEADER)).toBe(0x5372_6448);
    expect(le.u16(zp, BOOT_PARAMS.VERSION)).toBe(0x020f);
    expect(zp[BOOT_PARAMS.TYPE_OF_LOADER]).toBe(0xff);
    expect(le.u32(zp, BOOT_PARAMS.KERNEL_ALIGNMENT)).toBe(0x100_0000);
    expect(le.u32(zp, BOOT_PARAMS.CMD_LINE_PTR)).toBe(CMDLINE_START);
    expect(le.u32(zp, BOOT_PARAMS.CMDLINE_SIZE)).toBe(12);
    expect(le.u32(zp, BOOT_PARAMS.RAMDISK_IMAGE)).toBe(0);
    expect(le.readU64(zp, BOOT_PARAMS.ACPI_RSDP_ADDR)).toBe(0n);
    expect(zp[BOOT_PARAMS.SENTINEL]).toBe(0);
  });

  it('copies a bzImage setup header and keeps its cmdline_size', () => {
    const header = buildBzImage({ cmdlineSize: 0x7ff }).subarray(0x1f1, 0x26c);
    const zp = buildBootParams({ setupHeader: header, cmdline: { addr: CMDLINE_START, length: 5 }, memoryMap: [] });
    expect(zp.subarray(0x1f1, 0x210)).toEqual(header.subarray(0, 0x210 - 0x1f1));
    expect(le.u32(zp, BOOT_PARAMS.CMDLINE_SIZE)).toBe(0x7ff);
    expect(zp[BOOT_PARAMS.TYPE_OF_LOADER]).toBe(0xff);
  });

  it('splits ramdisk fields into the low and ext_ high halves', () => {
    const zp = buildBootParams({
      cmdline: { addr: CMDLINE_START, length: 0 },
      initramfs: { addr: 0x1_2345_6000, size: 0x1_0000_1000 },
      memoryMap: [],
    });
    expect(le.u32(zp, BOOT_PARAMS.RAMDISK_IMAGE)).toBe(0x2345_6000);
    expect(le.u32(zp, BOOT_PARAMS.EXT_RAMDISK_IMAGE)).toBe(1);
    expect(le.u32(zp, BOOT_PARAMS.RAMDISK_SIZE)).toBe(0x1000);
    expect(le.u32(zp, BOOT_PARAMS.EXT_RAMDISK_SIZE)).toBe(1);
  });

  it('writes the memory map as e820 entries, including RAM above 4 GiB', () => {
    const map = guestMemoryMap(6 * 0x4000_0000);
    expect(e820Of(buildBootParams({ cmdline: { addr: CMDLINE_START, length: 0 }, memoryMap: map }))).toEqual(map);
  });

  it('rejects more than 128 e820 entries and a setup header that overflows its area', () => {
    const many = Array.from({ length: 129 }, (_, i) => ({ addr: i * 0x1000, size: 0x1000, type: E820_RAM }));
    expect(errorKindOf(() => buildBootParams({ cmdline: { addr: 0, length: 0 }, memoryMap: many }))).toBe('X86Error:memory-map-too-large');
    expect(errorKindOf(() => buildBootParams({ setupHeader: new Uint8Array(0xa0), cmdline: { addr: 0, length: 0 }, memoryMap: [] }))).toBe(
      'X86Error:invalid-state',
    );
  });
});

const vmlinuz = readLinuxArtifact('vmlinuz');
const vmlinux = readLinuxArtifact('vmlinux');
const initramfs = readLinuxArtifact('initramfs.cpio.gz');

describe.skipIf(vmlinuz === undefined)("zero page for Debian's vmlinuz in 256 MiB", () => {
  it('reads back the setup header, command line, ramdisk, RSDP and e820 map', () => {
    const mem = new FakeGuestMemory(256 * MiB);
    const image = vmlinuz ?? new Uint8Array();
    const kernel = loadKernel(mem, image);
    if (kernel.kind !== 'bzimage') throw new Error(`expected a bzImage, got ${kernel.kind}`);
    const cmdline = new Cmdline(kernel.cmdlineMaxLength).insertStr('console=ttyS0').insert('reboot', 'k').insertStr('panic=1');
    const placed = writeCmdline(mem, cmdline, kernel.cmdlineMaxLength);
    const rd = initramfs ?? new Uint8Array(0x12345).fill(0x5a);
    const ramdisk = loadInitramfs(mem, rd, kernel);
    const memoryMap = guestMemoryMap(mem.size);
    expect(writeBootParams(mem, { setupHeader: kernel.setupHeader, cmdline: placed, initramfs: ramdisk, rsdpAddr: RSDP_START, memoryMap })).toBe(
      ZERO_PAGE_START,
    );

    const zp = mem.dump(ZERO_PAGE_START, BOOT_PARAMS_SIZE);
    // The kernel's own header survives: boot flag, magic, version, setup_sects, cmdline_size.
    expect(le.u16(zp, BOOT_PARAMS.BOOT_FLAG)).toBe(0xaa55);
    expect(le.u32(zp, BOOT_PARAMS.HEADER)).toBe(0x5372_6448);
    expect(le.u16(zp, BOOT_PARAMS.VERSION)).toBe(le.u16(image, 0x206));
    expect(zp[BOOT_PARAMS.SETUP_SECTS]).toBe(image[0x1f1]);
    expect(le.u32(zp, BOOT_PARAMS.CMDLINE_SIZE)).toBe(0x7ff);
    expect(zp[BOOT_PARAMS.TYPE_OF_LOADER]).toBe(0xff);
    // Command line pointer and the NUL-terminated string it points to.
    const ptr = le.u32(zp, BOOT_PARAMS.CMD_LINE_PTR);
    expect(ptr).toBe(CMDLINE_START);
    expect(new TextDecoder().decode(mem.dump(ptr, cmdline.length))).toBe('console=ttyS0 reboot=k panic=1');
    expect(mem.readU8(ptr + cmdline.length)).toBe(0);
    // Ramdisk: page-aligned, above the kernel's init_size, below initrd_addr_max and RAM end.
    const rdAddr = le.u32(zp, BOOT_PARAMS.RAMDISK_IMAGE);
    expect(rdAddr % 0x1000).toBe(0);
    expect(rdAddr).toBeGreaterThanOrEqual(kernel.kernelEnd);
    expect(rdAddr + rd.length).toBeLessThanOrEqual(256 * MiB);
    expect(le.u32(zp, BOOT_PARAMS.RAMDISK_SIZE)).toBe(rd.length);
    expect(le.u32(zp, BOOT_PARAMS.EXT_RAMDISK_IMAGE)).toBe(0);
    expect(mem.dump(rdAddr, 16)).toEqual(rd.subarray(0, 16));
    // ACPI RSDP and the e820 map.
    expect(le.readU64(zp, BOOT_PARAMS.ACPI_RSDP_ADDR)).toBe(BigInt(RSDP_START));
    expect(e820Of(zp)).toEqual([
      { addr: 0, size: 0x9_fc00, type: E820_RAM },
      { addr: 0x9_fc00, size: 0x6_0400, type: E820_RESERVED },
      { addr: MiB, size: 255 * MiB, type: E820_RAM },
    ]);
  });
});

describe.skipIf(vmlinux === undefined)("zero page for Debian's vmlinux at its 64-bit entry", () => {
  it('synthesizes the header and points at the command line', () => {
    const mem = new FakeGuestMemory(256 * MiB);
    const kernel = loadKernel(mem, vmlinux ?? new Uint8Array(), { protocol: 'linux64' });
    const placed = writeCmdline(mem, 'console=ttyS0', kernel.cmdlineMaxLength);
    writeBootParams(mem, { cmdline: placed, memoryMap: guestMemoryMap(mem.size) });
    const zp = mem.dump(ZERO_PAGE_START, BOOT_PARAMS_SIZE);
    expect(le.u16(zp, BOOT_PARAMS.BOOT_FLAG)).toBe(0xaa55);
    expect(le.u32(zp, BOOT_PARAMS.HEADER)).toBe(0x5372_6448);
    expect(zp[BOOT_PARAMS.TYPE_OF_LOADER]).toBe(0xff);
    expect(le.u32(zp, BOOT_PARAMS.CMD_LINE_PTR)).toBe(CMDLINE_START);
    expect(le.u32(zp, BOOT_PARAMS.CMDLINE_SIZE)).toBe(13);
    expect(zp[BOOT_PARAMS.E820_ENTRIES]).toBe(3);
  });
});
