import { describe, expect, it } from 'vitest';
import { le } from '@workervisor/base';
import { FakeGuestMemory } from '@workervisor/devices/testing';
import { SETUP_HEADER, bzImageLoadAddress, isBzImage, loadBzImage, parseBzImage } from './bzimage.js';
import { buildBzImage, errorKindOf, readLinuxArtifact } from './test-support.js';

const MiB = 0x10_0000;

describe('parseBzImage', () => {
  it('reads the setup header fields and copies the header up to 0x202 + jump offset', () => {
    const img = buildBzImage({ setupSects: 0 });
    const bz = parseBzImage(img);
    expect(isBzImage(img)).toBe(true);
    expect(bz.fields.setupSects).toBe(4); // 0 means 4
    expect(bz.kernelOffset).toBe(5 * 512);
    expect(bz.kernelSize).toBe(0x1000);
    expect(bz.fields.version).toBe(0x020f);
    expect(bz.fields.cmdlineSize).toBe(0x7ff);
    expect(bz.setupHeader.length).toBe(0x26c - 0x1f1);
    expect(bz.setupHeader).toEqual(img.subarray(0x1f1, 0x26c));
  });

  it('rejects an image without the 0xAA55 boot flag or "HdrS"', () => {
    const img = buildBzImage();
    const noFlag = img.slice();
    noFlag[0x1fe] = 0;
    expect(errorKindOf(() => parseBzImage(noFlag))).toBe('LoaderError:invalid-bzimage');
    const noMagic = img.slice();
    noMagic[0x202] = 0x41;
    expect(errorKindOf(() => parseBzImage(noMagic))).toBe('LoaderError:invalid-bzimage');
  });

  it('rejects protocols before 2.12, zImages and kernels without the 64-bit entry', () => {
    expect(errorKindOf(() => parseBzImage(buildBzImage({ version: 0x020a })))).toBe('LoaderError:unsupported-protocol');
    expect(errorKindOf(() => parseBzImage(buildBzImage({ loadflags: 0 })))).toBe('LoaderError:unsupported-protocol');
    expect(errorKindOf(() => parseBzImage(buildBzImage({ xloadflags: 0x7e })))).toBe('LoaderError:unsupported-protocol');
  });

  it('reports a file cut inside the header, the setup sectors or the kernel as truncated', () => {
    const img = buildBzImage();
    expect(errorKindOf(() => parseBzImage(img.subarray(0, 0x100)))).toBe('LoaderError:truncated');
    expect(errorKindOf(() => parseBzImage(img.subarray(0, 0x250)))).toBe('LoaderError:truncated');
    expect(errorKindOf(() => parseBzImage(img.subarray(0, 5 * 512)))).toBe('LoaderError:truncated');
    expect(errorKindOf(() => parseBzImage(img.subarray(0, img.length - 0x100)))).toBe('LoaderError:truncated');
    expect(errorKindOf(() => parseBzImage(img.subarray(0, img.length - 16)))).toBe('LoaderError:truncated');
  });

  it('accepts a file up to 15 bytes short of syssize * 16, which rounds up', () => {
    const img = buildBzImage({ kernel: new Uint8Array(0x1001) });
    le.putU32(img, 0x1f4, 0x101); // ceil(0x1001 / 16)
    expect(parseBzImage(img).kernelSize).toBe(0x1001);
  });
});

describe('bzImageLoadAddress', () => {
  it('loads a relocatable kernel at pref_address and runs it there', () => {
    const f = parseBzImage(buildBzImage({ prefAddress: 16 * MiB })).fields;
    expect(bzImageLoadAddress(f)).toEqual({ loadAddress: 16 * MiB, runtimeStart: 16 * MiB });
  });

  it('falls back to 1 MiB rounded to kernel_alignment when pref_address is unusable', () => {
    const f = parseBzImage(buildBzImage({ prefAddress: 0x1234, kernelAlignment: 2 * MiB })).fields;
    expect(bzImageLoadAddress(f)).toEqual({ loadAddress: 2 * MiB, runtimeStart: 2 * MiB });
  });

  it('loads a non-relocatable kernel at code32_start; it moves itself to pref_address', () => {
    const f = parseBzImage(buildBzImage({ relocatable: false, prefAddress: 16 * MiB })).fields;
    expect(bzImageLoadAddress(f)).toEqual({ loadAddress: MiB, runtimeStart: 16 * MiB });
  });

  it('rejects a non-relocatable kernel whose code32_start is below 1 MiB', () => {
    const img = buildBzImage({ relocatable: false });
    le.putU32(img, 0x214, 0x9000);
    expect(errorKindOf(() => parseBzImage(img))).toBe('LoaderError:invalid-bzimage');
  });
});

describe('loadBzImage', () => {
  it('copies the protected-mode kernel and returns the 64-bit entry at load + 0x200', () => {
    const img = buildBzImage({ prefAddress: 2 * MiB, initSize: 4 * MiB });
    const mem = new FakeGuestMemory(16 * MiB);
    const r = loadBzImage(mem, img);
    expect(r.loadAddress).toBe(2 * MiB);
    expect(r.entry).toBe(2 * MiB + 0x200);
    expect(r.kernelEnd).toBe(6 * MiB);
    expect(mem.dump(2 * MiB, 0x1000)).toEqual(img.subarray(5 * 512));
    expect(le.u32(r.setupHeader, SETUP_HEADER.CODE32_START - SETUP_HEADER.START)).toBe(2 * MiB);
  });

  it('fails with kernel-too-large when init_size does not fit in RAM', () => {
    const img = buildBzImage({ prefAddress: 2 * MiB, initSize: 64 * MiB });
    expect(errorKindOf(() => loadBzImage(new FakeGuestMemory(32 * MiB), img))).toBe('LoaderError:kernel-too-large');
  });
});

const vmlinuz = readLinuxArtifact('vmlinuz');

describe.skipIf(vmlinuz === undefined)("Debian's cloud vmlinuz", () => {
  it('is a relocatable 64-bit bzImage with an LZ4 payload, loaded at pref_address', () => {
    const img = vmlinuz ?? new Uint8Array();
    const bz = parseBzImage(img);
    expect(bz.fields.version).toBeGreaterThanOrEqual(0x020c);
    expect(bz.fields.relocatable).toBe(true);
    expect(bz.fields.prefAddress).toBe(0x100_0000);
    expect(bz.fields.cmdlineSize).toBe(0x7ff);
    const payload = img.subarray(bz.kernelOffset + bz.fields.payloadOffset, bz.kernelOffset + bz.fields.payloadOffset + 4);
    expect([...payload]).toEqual([0x02, 0x21, 0x4c, 0x18]); // LZ4 legacy frame magic
    const mem = new FakeGuestMemory(256 * MiB);
    const r = loadBzImage(mem, img);
    expect(r.loadAddress).toBe(0x100_0000);
    expect(r.entry).toBe(0x100_0200);
    expect(r.kernelEnd).toBe(0x100_0000 + bz.fields.initSize);
    expect(mem.dump(r.loadAddress, 0x400)).toEqual(img.subarray(bz.kernelOffset, bz.kernelOffset + 0x400));
  });

  it('does not fit in 64 MiB of RAM (init_size is ~51 MiB from 16 MiB)', () => {
    expect(errorKindOf(() => loadBzImage(new FakeGuestMemory(64 * MiB), vmlinuz ?? new Uint8Array()))).toBe('LoaderError:kernel-too-large');
  });
});
