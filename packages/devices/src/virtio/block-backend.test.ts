import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileBlockBackend } from './block-backend.js';

describe('FileBlockBackend', () => {
  let dir: string;
  let image: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wv-blk-'));
    image = join(dir, 'disk.img');
    writeFileSync(image, Buffer.alloc(2048, 0x11));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads and writes the file at byte offsets and reports its size', () => {
    const disk = FileBlockBackend.open(image);
    expect(disk.size).toBe(2048);
    disk.write(512, Uint8Array.of(1, 2, 3));
    disk.flush();
    const dst = new Uint8Array(4);
    disk.read(511, dst);
    expect([...dst]).toEqual([0x11, 1, 2, 3]);
    disk.close();
    disk.close();
    expect([...readFileSync(image).subarray(512, 515)]).toEqual([1, 2, 3]);
  });

  it('reads zeros past the end of the file', () => {
    const disk = FileBlockBackend.open(image, { readonly: true });
    const dst = new Uint8Array(8).fill(0xff);
    disk.read(2044, dst);
    expect([...dst]).toEqual([0x11, 0x11, 0x11, 0x11, 0, 0, 0, 0]);
    disk.close();
  });

  it('reads into SharedArrayBuffer views, as guest RAM is', () => {
    const disk = FileBlockBackend.open(image, { readonly: true });
    const ram = new Uint8Array(new SharedArrayBuffer(16));
    disk.read(0, ram.subarray(4, 8));
    expect([...ram.subarray(3, 9)]).toEqual([0, 0x11, 0x11, 0x11, 0x11, 0]);
    disk.close();
  });

  it('opens a read-only file only when asked to be read-only', () => {
    chmodSync(image, 0o444);
    const ro = FileBlockBackend.open(image, { readonly: true });
    expect(ro.readonly).toBe(true);
    ro.close();
    if (process.getuid?.() !== 0) expect(() => FileBlockBackend.open(image)).toThrow(/read-write \(EACCES\)/);
  });

  it('names the path and errno when the image cannot be opened', () => {
    expect(() => FileBlockBackend.open(join(dir, 'missing.img'))).toThrow(/missing\.img read-write \(ENOENT\)/);
  });

  it('refuses something that is neither a file nor a block device', () => {
    expect(() => FileBlockBackend.open(dir, { readonly: true })).toThrow(/neither a regular file nor a block device/);
  });
});
