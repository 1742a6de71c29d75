// The sparse memory file: only the data of guest RAM is written, holes stay holes, the bytes read
// back are guest RAM's. Needs the built addon (memfd guest RAM), not /dev/kvm.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { allocateGuestRam, mapGuestRamFile } from '@workervisor/native';
import { SnapshotError } from './errors.js';
import { nonZeroRanges, writeMemoryFile } from './memory-file.js';

const MIB = 1 << 20;

describe('writeMemoryFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'workervisor-memfile-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes only the touched pages of a memfd, in a file of the full size', () => {
    const ram = allocateGuestRam(64 * MIB);
    const bytes = new Uint8Array(ram);
    bytes[0x1000] = 0x11;
    bytes.fill(0x22, 10 * MIB, 12 * MIB);
    bytes[64 * MIB - 1] = 0x33;
    const path = join(dir, 'memory.bin');
    const stats = writeMemoryFile(ram, path);
    expect(stats).toEqual({ sizeBytes: 64 * MIB, dataBytes: 4096 + 2 * MIB + 4096 });
    const st = statSync(path);
    expect(st.size).toBe(64 * MIB);
    expect(st.blocks * 512).toBeLessThan(3 * MIB);
    expect(Buffer.compare(readFileSync(path), Buffer.from(bytes))).toBe(0);
  });

  it('skips the all-zero pages of RAM mapped from a memory file (no memfd to ask)', () => {
    const src = join(dir, 'src.bin');
    const content = new Uint8Array(4 * MIB);
    content[3 * MIB + 7] = 0x44;
    writeFileSync(src, content);
    const ram = mapGuestRamFile(src, 4 * MIB);
    new Uint8Array(ram)[8192] = 0x55;
    const stats = writeMemoryFile(ram, join(dir, 'again.bin'));
    expect(stats.dataBytes).toBe(2 * 4096);
    const back = readFileSync(join(dir, 'again.bin'));
    expect([back[8192], back[3 * MIB + 7], back.length]).toEqual([0x55, 0x44, 4 * MIB]);
  });

  it('refuses to overwrite an existing file, naming it', () => {
    const path = join(dir, 'memory.bin');
    writeFileSync(path, 'x');
    expect(() => writeMemoryFile(allocateGuestRam(MIB), path)).toThrow(SnapshotError);
    expect(() => writeMemoryFile(allocateGuestRam(MIB), path)).toThrow(`cannot write the memory file ${path}`);
  });
});

describe('nonZeroRanges', () => {
  it('merges adjacent non-zero pages into runs', () => {
    const buf = new SharedArrayBuffer(8 * 4096);
    const b = new Uint8Array(buf);
    b[4096 + 1] = 1;
    b[2 * 4096 + 4095] = 1;
    b[7 * 4096] = 1;
    expect(nonZeroRanges(buf, 0, buf.byteLength)).toEqual([
      [4096, 3 * 4096],
      [7 * 4096, 8 * 4096],
    ]);
  });
});
