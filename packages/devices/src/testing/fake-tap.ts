// A NetBackend double for virtio-net tests: frames queued by the test are "read" from the tap
// (copied into the device's views as a real readv would, truncating), frames the device writes are
// recorded, and failures can be injected on either side.
import type { NetBackend } from '../virtio/net/header.js';

export class FakeTap implements NetBackend {
  readonly name = 'faketap';
  /** Frames (vnet header + packet) waiting to be read. */
  readonly incoming: Uint8Array[] = [];
  /** Frames the device wrote, each gathered into one array. */
  readonly written: Uint8Array[] = [];
  /** Every setOffload call. */
  readonly offloadCalls: number[] = [];
  /** When set, the next read throws it (then clears); `'eof'` makes reads return 0 until cleared. */
  readError: Error | 'eof' | undefined;
  /** When set, writes throw it. */
  writeError: Error | undefined;
  /** Writes return -1 (would block) while true. */
  writeBlocks = false;
  /** Rejects setOffload with flags other than 0 when true. */
  refuseOffload = false;
  /** When set, onReadable(handler) throws it (as a uv_poll_init failure would). */
  watchError: Error | undefined;
  handler: (() => void) | undefined;
  reads = 0;

  constructor(readonly offloads = 0x1f) {}

  /** Queues a frame and, when the device watches the tap, fires its handler as the event loop would. */
  deliver(frame: Uint8Array): void {
    this.incoming.push(frame);
    this.handler?.();
  }

  setOffload(flags: number): void {
    this.offloadCalls.push(flags);
    if (this.refuseOffload && flags !== 0) throw Object.assign(new Error('TUNSETOFFLOAD failed: Invalid argument'), { code: 'EINVAL' });
  }

  read(views: readonly Uint8Array[]): number {
    this.reads++;
    if (this.readError === 'eof') return 0;
    if (this.readError !== undefined) {
      const e = this.readError;
      this.readError = undefined;
      throw e;
    }
    const frame = this.incoming.shift();
    if (frame === undefined) return -1;
    let pos = 0;
    for (const v of views) {
      if (pos >= frame.length) break;
      const n = Math.min(v.length, frame.length - pos);
      v.set(frame.subarray(pos, pos + n));
      pos += n;
    }
    // As tun_put_user: the full length even when the buffers were too small.
    return frame.length;
  }

  write(views: readonly Uint8Array[]): number {
    if (this.writeError !== undefined) throw this.writeError;
    if (this.writeBlocks) return -1;
    const total = views.reduce((s, v) => s + v.length, 0);
    const out = new Uint8Array(total);
    let pos = 0;
    for (const v of views) {
      out.set(v, pos);
      pos += v.length;
    }
    this.written.push(out);
    return total;
  }

  onReadable(handler: (() => void) | undefined): void {
    if (handler !== undefined && this.watchError !== undefined) throw this.watchError;
    this.handler = handler;
  }
}
