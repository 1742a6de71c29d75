// Reads a gzip'd newc cpio archive (an initramfs, as e2e/linux/guest_tools.py writes it) into its
// entry names and modes, so tests can check what an image holds without a cpio binary.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export interface CpioEntry {
  name: string;
  mode: number;
  size: number;
}

/** The entries of `file` (gzip'd newc), in archive order; throws on a malformed archive. */
export function readCpio(file: string): CpioEntry[] {
  const data = gunzipSync(readFileSync(file));
  const entries: CpioEntry[] = [];
  let at = 0;
  const align = (n: number): number => (n + 3) & ~3;
  for (;;) {
    if (data.toString('latin1', at, at + 6) !== '070701') throw new Error(`${file}: no newc header at byte ${at}`);
    const field = (i: number): number => Number.parseInt(data.toString('latin1', at + 6 + i * 8, at + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const name = data.toString('utf8', at + 110, at + 110 + nameSize - 1);
    if (name === 'TRAILER!!!') return entries;
    entries.push({ name, mode, size });
    at = align(align(at + 110 + nameSize) + size);
    if (at >= data.length) throw new Error(`${file}: archive ends without a trailer`);
  }
}
