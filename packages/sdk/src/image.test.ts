import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findImage } from './image.js';

describe('findImage', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    delete process.env['WORKERVISOR_IMAGE'];
  });

  it('names the missing files and how to build the default image', () => {
    const d = mkdtempSync(join(tmpdir(), 'wv-image-'));
    dir = d;
    process.env['WORKERVISOR_IMAGE'] = d;
    expect(() => findImage()).toThrow(`no guest image in ${d}: ${d}/vmlinuz and ${d}/initramfs.cpio.gz missing`);
    expect(() => findImage(join(d, 'nope'))).toThrow(/vmlinuz and .* missing$/);
  });

  it('finds an image from WORKERVISOR_IMAGE', () => {
    dir = mkdtempSync(join(tmpdir(), 'wv-image-'));
    writeFileSync(join(dir, 'vmlinuz'), 'k');
    writeFileSync(join(dir, 'initramfs.cpio.gz'), 'i');
    process.env['WORKERVISOR_IMAGE'] = dir;
    expect(findImage()).toEqual({ dir, kernel: join(dir, 'vmlinuz'), initramfs: join(dir, 'initramfs.cpio.gz') });
  });
});
