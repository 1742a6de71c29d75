import { describe, expect, it } from 'vitest';
import { le } from '@workervisor/base';
import { FakeGuestMemory } from '@workervisor/devices/testing';
import { HVM_START_MAGIC, MEMMAP_ENTRY_SIZE, START_INFO, buildStartInfo, writeStartInfo } from './start-info.js';
import { CMDLINE_START, PVH_INFO_START, PVH_MEMMAP_START, PVH_MODLIST_START, RSDP_START } from './layout.js';
import { E820_RAM, E820_RESERVED, guestMemoryMap, type MemoryMapEntry } from './memory-map.js';
import { loadKernel } from '../../loader/kernel.js';
import { loadInitramfs } from '../../loader/initramfs.js';
import { Cmdline, writeCmdline } from '../../loader/cmdline.js';
import { errorKindOf, readLinuxArtifact } from '../../loader/test-support.js';

const MiB = 0x10_0000;

function memmapOf(mem: FakeGuestMemory, addr: number, n: number): MemoryMapEntry[] {
  return Array.from({ length: n }, (_, i) => {
    const at = addr + i * MEMMAP_ENTRY_SIZE;
    return { addr: Number(mem.readU64(at)), size: Number(mem.readU64(at + 8)), type: mem.readU32(at + 16) };
  });
}

describe('buildStartInfo', () => {
  it('has no module list without an initramfs', () => {
    const { info, modlist, memmap } = buildStartInfo({ cmdlineAddr: CMDLINE_START, memoryMap: guestMemoryMap(64 * MiB) });
    expect(le.u32(info, START_INFO.MAGIC)).toBe(HVM_START_MAGIC);
    expect(le.u32(info, START_INFO.VERSION)).toBe(1);
    expect(le.u32(info, START_INFO.NR_MODULES)).toBe(0);
    expect(le.readU64(info, START_INFO.MODLIST_PADDR)).toBe(0n);
    expect(le.readU64(info, START_INFO.RSDP_PADDR)).toBe(0n);
    expect(modlist).toBeUndefined();
    expect(memmap.length).toBe(3 * MEMMAP_ENTRY_SIZE);
  });

  it('rejects a memory map larger than its page', () => {
    const many = Array.from({ length: 200 }, (_, i) => ({ addr: i * 0x1000, size: 0x1000, type: E820_RAM }));
    expect(errorKindOf(() => buildStartInfo({ cmdlineAddr: 0, memoryMap: many }))).toBe('X86Error:memory-map-too-large');
  });
});

describe('writeStartInfo', () => {
  it('writes hvm_start_info, one module and the memmap at the layout addresses', () => {
    const mem = new FakeGuestMemory(64 * MiB);
    const memoryMap = guestMemoryMap(mem.size);
    const at = writeStartInfo(mem, { cmdlineAddr: CMDLINE_START, rsdpAddr: RSDP_START, initramfs: { addr: 60 * MiB, size: 0x1234 }, memoryMap });
    expect(at).toBe(PVH_INFO_START);
    expect(mem.readU32(at + START_INFO.MAGIC)).toBe(0x336e_c578);
    expect(mem.readU32(at + START_INFO.NR_MODULES)).toBe(1);
    expect(mem.readU64(at + START_INFO.MODLIST_PADDR)).toBe(BigInt(PVH_MODLIST_START));
    expect(mem.readU64(PVH_MODLIST_START)).toBe(BigInt(60 * MiB));
    expect(mem.readU64(PVH_MODLIST_START + 8)).toBe(0x1234n);
    expect(mem.readU64(PVH_MODLIST_START + 16)).toBe(0n);
    expect(mem.readU64(at + START_INFO.MEMMAP_PADDR)).toBe(BigInt(PVH_MEMMAP_START));
    expect(memmapOf(mem, PVH_MEMMAP_START, mem.readU32(at + START_INFO.MEMMAP_ENTRIES))).toEqual(memoryMap);
  });
});

const vmlinux = readLinuxArtifact('vmlinux');
const initramfs = readLinuxArtifact('initramfs.cpio.gz');

describe.skipIf(vmlinux === undefined)("hvm_start_info for Debian's vmlinux in 256 MiB", () => {
  it('reads back magic, command line, module, RSDP and memory map', () => {
    const mem = new FakeGuestMemory(256 * MiB);
    const kernel = loadKernel(mem, vmlinux ?? new Uint8Array());
    expect(kernel.kind).toBe('pvh');
    const placed = writeCmdline(mem, new Cmdline(kernel.cmdlineMaxLength).insertStr('console=ttyS0 reboot=k panic=1'), kernel.cmdlineMaxLength);
    const rd = initramfs ?? new Uint8Array(0x12345).fill(0x5a);
    const ramdisk = loadInitramfs(mem, rd, kernel);
    const info = writeStartInfo(mem, { cmdlineAddr: placed.addr, initramfs: ramdisk, rsdpAddr: RSDP_START, memoryMap: guestMemoryMap(mem.size) });

    expect(mem.readU32(info + START_INFO.MAGIC)).toBe(HVM_START_MAGIC);
    expect(mem.readU32(info + START_INFO.VERSION)).toBe(1);
    expect(mem.readU32(info + START_INFO.FLAGS)).toBe(0);
    const cmdlineAddr = Number(mem.readU64(info + START_INFO.CMDLINE_PADDR));
    expect(new TextDecoder().decode(mem.dump(cmdlineAddr, placed.length))).toBe('console=ttyS0 reboot=k panic=1');
    expect(mem.readU8(cmdlineAddr + placed.length)).toBe(0);
    expect(mem.readU64(info + START_INFO.RSDP_PADDR)).toBe(BigInt(RSDP_START));
    expect(mem.readU32(info + START_INFO.NR_MODULES)).toBe(1);
    const mod = Number(mem.readU64(info + START_INFO.MODLIST_PADDR));
    const modAddr = Number(mem.readU64(mod));
    expect(modAddr).toBeGreaterThanOrEqual(kernel.kernelEnd);
    expect(modAddr % 0x1000).toBe(0);
    expect(Number(mem.readU64(mod + 8))).toBe(rd.length);
    expect(mem.dump(modAddr, 16)).toEqual(rd.subarray(0, 16));
    const memmap = memmapOf(mem, Number(mem.readU64(info + START_INFO.MEMMAP_PADDR)), mem.readU32(info + START_INFO.MEMMAP_ENTRIES));
    expect(memmap).toEqual([
      { addr: 0, size: 0x9_fc00, type: E820_RAM },
      { addr: 0x9_fc00, size: 0x6_0400, type: E820_RESERVED },
      { addr: MiB, size: 255 * MiB, type: E820_RAM },
    ]);
  });
});
