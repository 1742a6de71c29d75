// Guest RAM to a snapshot's memory file. Writing is sparse: only the memfd's data ranges
// (SEEK_DATA/SEEK_HOLE) are written into a file of the full size, so pages the guest never touched
// stay holes; RAM without a memfd (itself mapped from a memory file) skips all-zero pages instead.
// The write loop (writeRanges) is plain fs and runs in a worker (memory-writer.ts) or here.
import { closeSync, fdatasyncSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { createLogger } from '@workervisor/base';
import { guestRamDataRanges, type ByteRange } from '@workervisor/native';
import { SnapshotError } from './errors.js';

const log = createLogger('snapshot');

/** Bytes per write() call (and per zero-page scan). */
const CHUNK = 16 << 20;
/** The granularity of the zero-page scan, the smallest hole the file can get. */
const PAGE = 4096;
/** Progress lines every this many bytes written. */
const PROGRESS_EVERY = 256 << 20;

/** The non-zero page runs of [start, end) of `buffer` (page-aligned). */
export function nonZeroRanges(buffer: SharedArrayBuffer, start: number, end: number): ByteRange[] {
  const out: Array<[number, number]> = [];
  let runStart = -1;
  for (let chunk = start; chunk < end; chunk += CHUNK) {
    const len = Math.min(CHUNK, end - chunk);
    const words = new BigUint64Array(buffer, chunk, len / 8);
    for (let page = 0; page < len; page += PAGE) {
      let zero = true;
      for (let w = page / 8, last = Math.min(len, page + PAGE) / 8; w < last; w++) {
        if (words[w] !== 0n) {
          zero = false;
          break;
        }
      }
      const at = chunk + page;
      if (!zero && runStart < 0) runStart = at;
      if (zero && runStart >= 0) {
        out.push([runStart, at]);
        runStart = -1;
      }
    }
  }
  if (runStart >= 0) out.push([runStart, end]);
  return out;
}

/** The ranges of guest RAM a memory file needs written: the memfd's data, or the non-zero pages. */
export function memoryDataRanges(buffer: SharedArrayBuffer): ByteRange[] {
  return guestRamDataRanges(buffer) ?? nonZeroRanges(buffer, 0, buffer.byteLength);
}

/** What a memory file write did. */
export interface MemoryFileStats {
  /** The file's size: all of guest RAM. */
  sizeBytes: number;
  /** Bytes actually written (the rest are holes). */
  dataBytes: number;
}

/**
 * Creates `path` (it must not exist) with the size of `buffer` and writes `ranges` of it, then
 * fdatasyncs. Throws SnapshotError('write-failed') naming the path.
 */
export function writeRanges(buffer: SharedArrayBuffer, path: string, ranges: readonly ByteRange[]): MemoryFileStats {
  const size = buffer.byteLength;
  let fd: number | undefined;
  let written = 0;
  let nextProgress = PROGRESS_EVERY;
  try {
    fd = openSync(path, 'wx', 0o600);
    ftruncateSync(fd, size);
    for (const [start, end] of ranges) {
      for (let off = start; off < end; off += CHUNK) {
        const len = Math.min(CHUNK, end - off);
        const view = new Uint8Array(buffer, off, len);
        for (let done = 0; done < len; ) done += writeSync(fd, view, done, len - done, off + done);
        written += len;
        if (written >= nextProgress) {
          log.info(`memory file: ${written >> 20} MiB written`, { path });
          nextProgress += PROGRESS_EVERY;
        }
      }
    }
    fdatasyncSync(fd);
  } catch (err) {
    throw new SnapshotError('write-failed', `cannot write the memory file ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return { sizeBytes: size, dataBytes: written };
}

/** Writes all of `buffer` (guest RAM) to a new file at `path`, sparse, on this thread. */
export function writeMemoryFile(buffer: SharedArrayBuffer, path: string): MemoryFileStats {
  return writeRanges(buffer, path, memoryDataRanges(buffer));
}
