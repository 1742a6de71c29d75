import { describe, expect, it } from 'vitest';
import { le } from '@workervisor/base';
import { FakeGuestMemory } from '@workervisor/devices/testing';
import { isElf, isInSegments, loadElf, parseElf, XEN_ELFNOTE_PHYS32_ENTRY } from './elf.js';
import { LoaderError } from './errors.js';
import { buildElf, encodeNotes, readLinuxArtifact, thrownBy, u32Desc, u64Desc } from './test-support.js';

const MiB = 0x10_0000;
const code = Uint8Array.from({ length: 0x100 }, (_, i) => (i * 7) & 0xff);
const pvhNote = (desc: Uint8Array): Uint8Array =>
  encodeNotes([
    { name: 'Xen', type: 6, desc: new TextEncoder().encode('linux\0') },
    { name: 'Xen', type: XEN_ELFNOTE_PHYS32_ENTRY, desc },
  ]);

function expectLoaderError(fn: () => unknown, kind: string): LoaderError {
  const err = thrownBy(fn);
  expect(err).toBeInstanceOf(LoaderError);
  expect((err as LoaderError).kind).toBe(kind);
  expect((err as LoaderError).code).toBe(`ERR_VMM_LOADER_${kind.replace(/-/g, '_').toUpperCase()}`);
  return err as LoaderError;
}

describe('parseElf', () => {
  it('reads the entry, the PT_LOAD segments and a 4-byte PVH note', () => {
    const elf = buildElf({
      entry: 2 * MiB,
      segments: [
        { paddr: 2 * MiB, data: code, memSize: 0x2000 },
        { type: 4, paddr: 0, data: pvhNote(u32Desc(2 * MiB + 0x40)) },
      ],
    });
    const image = parseElf(elf);
    expect(image.entry).toBe(2 * MiB);
    expect(image.pvhEntry).toBe(2 * MiB + 0x40);
    expect(image.segments).toEqual([{ paddr: 2 * MiB, fileOffset: 64 + 2 * 56, fileSize: 0x100, memSize: 0x2000 }]);
    expect(isInSegments(image, 2 * MiB + 0x1fff)).toBe(true);
    expect(isInSegments(image, 2 * MiB + 0x2000)).toBe(false);
  });

  it('accepts an 8-byte PVH note desc, as Linux emits with _ASM_PTR', () => {
    const elf = buildElf({ entry: 2 * MiB, segments: [{ paddr: 2 * MiB, data: code }, { type: 4, paddr: 0, data: pvhNote(u64Desc(0x20_0010n)) }] });
    expect(parseElf(elf).pvhEntry).toBe(0x20_0010);
  });

  it('has no PVH entry when the note is absent or not named "Xen"', () => {
    const other = encodeNotes([{ name: 'GNU', type: XEN_ELFNOTE_PHYS32_ENTRY, desc: u32Desc(0x1234) }]);
    const elf = buildElf({ entry: 2 * MiB, segments: [{ paddr: 2 * MiB, data: code }, { type: 4, paddr: 0, data: other }] });
    expect(parseElf(elf).pvhEntry).toBeUndefined();
  });

  it('rejects a PVH note whose address does not fit 32 bits', () => {
    const elf = buildElf({ entry: 2 * MiB, segments: [{ paddr: 2 * MiB, data: code }, { type: 4, paddr: 0, data: pvhNote(u64Desc(0x1_0000_0000n)) }] });
    expectLoaderError(() => parseElf(elf), 'invalid-note');
  });

  it('rejects a note that runs past its segment', () => {
    const notes = pvhNote(u32Desc(2 * MiB));
    const bad = notes.slice();
    le.putU32(bad, bad.length - 16, 0x100); // n_descsz of the last (20-byte) note, far past the end
    const elf = buildElf({ entry: 2 * MiB, segments: [{ paddr: 2 * MiB, data: code }, { type: 4, paddr: 0, data: bad }] });
    expectLoaderError(() => parseElf(elf), 'invalid-note');
  });

  it('rejects files that are not ELF64 little-endian x86_64 executables', () => {
    const good = buildElf({ entry: 2 * MiB, segments: [{ paddr: 2 * MiB, data: code }] });
    expect(isElf(good)).toBe(true);
    expectLoaderError(() => parseElf(new TextEncoder().encode('#!/bin/sh\necho not a kernel\n')), 'invalid-elf');
    const patch = (at: number, v: number): Uint8Array => {
      const b = good.slice();
      b[at] = v;
      return b;
    };
    expect(expectLoaderError(() => parseElf(patch(4, 1)), 'invalid-elf').message).toMatch(/ELFCLASS64/);
    expect(expectLoaderError(() => parseElf(patch(5, 2)), 'invalid-elf').message).toMatch(/little-endian/);
    expect(expectLoaderError(() => parseElf(patch(18, 3)), 'invalid-elf').message).toMatch(/x86_64/);
    expect(expectLoaderError(() => parseElf(patch(16, 1)), 'invalid-elf').message).toMatch(/executable/);
    expect(expectLoaderError(() => parseElf(patch(54, 40)), 'invalid-elf').message).toMatch(/e_phentsize/);
  });

  it('reports truncation of the header, the program headers and a segment', () => {
    const elf = buildElf({ entry: 2 * MiB, segments: [{ paddr: 2 * MiB, data: code }] });
    expectLoaderError(() => parseElf(elf.subarray(0, 40)), 'truncated');
    expectLoaderError(() => parseElf(elf.subarray(0, 100)), 'truncated');
    expect(expectLoaderError(() => parseElf(elf.subarray(0, elf.length - 1)), 'truncated').message).toMatch(/segment 0/);
  });

  it('rejects p_filesz larger than p_memsz', () => {
    const elf = buildElf({ entry: 2 * MiB, segments: [{ paddr: 2 * MiB, data: code, memSize: 0x10 }] });
    expectLoaderError(() => parseElf(elf), 'segment-out-of-range');
  });
});

describe('loadElf', () => {
  it('copies segments to p_paddr and zero-fills p_memsz beyond p_filesz', () => {
    const mem = new FakeGuestMemory(8 * MiB);
    mem.load(2 * MiB + 0x100, [0xaa, 0xaa]); // stale bytes where .bss goes
    const elf = buildElf({ entry: 2 * MiB, segments: [{ paddr: 2 * MiB, data: code, memSize: 0x3000 }, { paddr: 4 * MiB, data: code }] });
    const r = loadElf(mem, elf);
    expect(mem.dump(2 * MiB, code.length)).toEqual(code);
    expect(mem.dump(2 * MiB + 0x100, 2)).toEqual(new Uint8Array(2));
    expect(mem.dump(4 * MiB, code.length)).toEqual(code);
    expect(r.kernelStart).toBe(2 * MiB);
    expect(r.kernelEnd).toBe(4 * MiB + code.length);
  });

  it('rejects a segment below 1 MiB, as Firecracker does', () => {
    const elf = buildElf({ entry: 0x8000, segments: [{ paddr: 0x8000, data: code }] });
    expect(expectLoaderError(() => loadElf(new FakeGuestMemory(8 * MiB), elf), 'segment-out-of-range').message).toMatch(/below 1 MiB/);
  });

  it('rejects a segment that ends past guest RAM without writing anything', () => {
    const mem = new FakeGuestMemory(4 * MiB);
    const elf = buildElf({ entry: 2 * MiB, segments: [{ paddr: 2 * MiB, data: code }, { paddr: 4 * MiB - 0x10, data: code }] });
    expectLoaderError(() => loadElf(mem, elf), 'segment-out-of-range');
    expect(mem.dump(2 * MiB, code.length)).toEqual(new Uint8Array(code.length));
  });
});

const vmlinux = readLinuxArtifact('vmlinux');

describe.skipIf(vmlinux === undefined)("Debian's cloud vmlinux", () => {
  it('has a PVH note and loads its segments at their physical addresses', () => {
    const bytes = vmlinux ?? new Uint8Array();
    const image = parseElf(bytes);
    expect(image.entry).toBe(0x100_0000); // CONFIG_PHYSICAL_START
    expect(image.pvhEntry).toBeDefined();
    expect(isInSegments(image, image.pvhEntry ?? 0)).toBe(true);
    expect(image.segments.length).toBeGreaterThanOrEqual(3);
    const mem = new FakeGuestMemory(256 * MiB);
    const r = loadElf(mem, bytes);
    const first = image.segments[0];
    if (first === undefined) throw new Error('no segment');
    expect(mem.dump(first.paddr, 64)).toEqual(bytes.subarray(first.fileOffset, first.fileOffset + 64));
    expect(r.kernelStart).toBe(0x100_0000);
    expect(r.kernelEnd).toBeLessThan(256 * MiB);
  });
});
