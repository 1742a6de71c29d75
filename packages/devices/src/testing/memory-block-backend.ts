// An in-memory BlockBackend for virtio-blk tests: the image is a byte array; failures on demand.
import type { BlockBackend } from '../virtio/block-backend.js';

/** A disk image held in memory. Set `failNext` to make the next call throw it (a host I/O error). */
export class MemoryBlockBackend implements BlockBackend {
  readonly bytes: Uint8Array;
  readonly readonly: boolean;
  flushes = 0;
  closed = false;
  failNext: Error | undefined;

  constructor(image: number | Uint8Array, options: { readonly?: boolean } = {}) {
    this.bytes = typeof image === 'number' ? new Uint8Array(image) : image;
    this.readonly = options.readonly === true;
  }

  get size(): number {
    return this.bytes.length;
  }

  read(offset: number, dst: Uint8Array): void {
    this.maybeFail();
    dst.set(this.bytes.subarray(offset, offset + dst.length));
  }

  write(offset: number, src: Uint8Array): void {
    this.maybeFail();
    if (this.readonly) throw new Error('MemoryBlockBackend is read-only');
    this.bytes.set(src, offset);
  }

  flush(): void {
    this.maybeFail();
    this.flushes++;
  }

  close(): void {
    this.closed = true;
  }

  private maybeFail(): void {
    const err = this.failNext;
    if (err === undefined) return;
    this.failNext = undefined;
    throw err;
  }
}
