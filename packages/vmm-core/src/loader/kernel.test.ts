import { describe, expect, it } from 'vitest';
import { FakeGuestMemory } from '@workervisor/devices/testing';
import { detectKernelFormat, loadKernel } from './kernel.js';
import { XEN_ELFNOTE_PHYS32_ENTRY } from './elf.js';
import { buildBzImage, buildElf, encodeNotes, errorKindOf, readLinuxArtifact, u32Desc } from './test-support.js';

const MiB = 0x10_0000;
const code = new Uint8Array(0x1000).fill(0x90);
const note = encodeNotes([{ name: 'Xen', type: XEN_ELFNOTE_PHYS32_ENTRY, desc: u32Desc(2 * MiB + 0x10) }]);
const pvhElf = buildElf({ entry: 2 * MiB, segments: [{ paddr: 2 * MiB, data: code }, { type: 4, paddr: 0, data: note }] });
const plainElf = buildElf({ entry: 2 * MiB + 0x20, segments: [{ paddr: 2 * MiB, data: code }] });

describe('loadKernel', () => {
  it('detects the format from the magic numbers', () => {
    expect(detectKernelFormat(pvhElf)).toBe('elf');
    expect(detectKernelFormat(buildBzImage())).toBe('bzimage');
    expect(detectKernelFormat(new Uint8Array(16))).toBe('unknown');
  });

  it('boots an ELF with the PVH note through PVH', () => {
    const k = loadKernel(new FakeGuestMemory(8 * MiB), pvhElf);
    expect(k).toMatchObject({ kind: 'pvh', entry: 2 * MiB + 0x10, kernelEnd: 2 * MiB + 0x1000, initrdAddrMax: 0xbfff_ffff, cmdlineMaxLength: 0xffff });
  });

  it('boots an ELF without the note at its 64-bit e_entry', () => {
    expect(loadKernel(new FakeGuestMemory(8 * MiB), plainElf)).toMatchObject({ kind: 'elf64', entry: 2 * MiB + 0x20 });
  });

  it('uses the 64-bit entry of a PVH-capable ELF when asked to', () => {
    expect(loadKernel(new FakeGuestMemory(8 * MiB), pvhElf, { protocol: 'linux64' })).toMatchObject({ kind: 'elf64', entry: 2 * MiB });
  });

  it('fails with no-pvh-entry when PVH is required but the ELF has no note', () => {
    expect(errorKindOf(() => loadKernel(new FakeGuestMemory(8 * MiB), plainElf, { protocol: 'pvh' }))).toBe('LoaderError:no-pvh-entry');
  });

  it('fails with invalid-entry when the entry is outside every segment', () => {
    const elf = buildElf({ entry: 6 * MiB, segments: [{ paddr: 2 * MiB, data: code }] });
    expect(errorKindOf(() => loadKernel(new FakeGuestMemory(8 * MiB), elf))).toBe('LoaderError:invalid-entry');
  });

  it('fails with unknown-format for anything else', () => {
    expect(errorKindOf(() => loadKernel(new FakeGuestMemory(8 * MiB), new TextEncoder().encode('hello')))).toBe('LoaderError:unknown-format');
  });

  it('boots a bzImage at its 64-bit entry with the kernel limits from its header', () => {
    const k = loadKernel(new FakeGuestMemory(16 * MiB), buildBzImage({ prefAddress: 2 * MiB, cmdlineSize: 0x800, initrdAddrMax: 0x37ff_ffff }));
    expect(k).toMatchObject({ kind: 'bzimage', entry: 2 * MiB + 0x200, loadAddress: 2 * MiB, cmdlineMaxLength: 0x800, initrdAddrMax: 0x37ff_ffff });
  });
});

const vmlinux = readLinuxArtifact('vmlinux');
const vmlinuz = readLinuxArtifact('vmlinuz');

describe.skipIf(vmlinux === undefined)("loadKernel on Debian's vmlinux", () => {
  it('picks PVH at the note address', () => {
    const k = loadKernel(new FakeGuestMemory(256 * MiB), vmlinux ?? new Uint8Array());
    expect(k.kind).toBe('pvh');
    expect(k.entry).toBeGreaterThan(0x100_0000);
    expect(k.entry).toBeLessThan(0x200_0000);
  });

  it('enters at e_entry (CONFIG_PHYSICAL_START) when the 64-bit entry is asked for', () => {
    const k = loadKernel(new FakeGuestMemory(256 * MiB), vmlinux ?? new Uint8Array(), { protocol: 'linux64' });
    expect(k).toMatchObject({ kind: 'elf64', entry: 0x100_0000 });
  });
});

describe.skipIf(vmlinuz === undefined)("loadKernel on Debian's vmlinuz", () => {
  it('picks the bzImage 64-bit entry', () => {
    const k = loadKernel(new FakeGuestMemory(256 * MiB), vmlinuz ?? new Uint8Array());
    expect(k).toMatchObject({ kind: 'bzimage', entry: 0x100_0200, cmdlineMaxLength: 0x7ff, initrdAddrMax: 0x7fff_ffff });
  });

  it('refuses PVH for a bzImage', () => {
    expect(errorKindOf(() => loadKernel(new FakeGuestMemory(256 * MiB), vmlinuz ?? new Uint8Array(), { protocol: 'pvh' }))).toBe('LoaderError:no-pvh-entry');
  });
});
