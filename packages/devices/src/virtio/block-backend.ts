// Where a virtio-blk device's bytes live: the BlockBackend interface and its host-file
// implementation. I/O is synchronous (fs.*Sync on the core thread), see block.ts for why.
import { closeSync, constants, fdatasyncSync, fstatSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { VirtioError } from './device.js';

/** The storage behind a block device. Offsets and lengths in bytes; throws only for host failures. */
export interface BlockBackend {
  /** Size in bytes; the device exposes floor(size / 512) sectors. */
  readonly size: number;
  /** Writes are refused when true (VIRTIO_BLK_F_RO). */
  readonly readonly: boolean;
  /** Fills dst with the bytes at offset (zeros past the end of the host file). */
  read(offset: number, dst: Uint8Array): void;
  /** Writes src at offset. */
  write(offset: number, src: Uint8Array): void;
  /** Makes completed writes durable (VIRTIO_BLK_T_FLUSH). */
  flush(): void;
  /** Releases host resources. Idempotent. */
  close(): void;
}

export interface FileBlockBackendOptions {
  /** Open the file read-only and refuse writes. */
  readonly readonly?: boolean;
  /**
   * Called with the open fd before the backend is returned, e.g. to lock the image (the VMM
   * takes OFD locks, which this package cannot: no native code here). A throw closes the fd and
   * fails the open with that error.
   */
  readonly onOpen?: (fd: number) => void;
}

/**
 * A raw image in a regular file or a host block device, read and written with pread/pwrite
 * (fs.readSync/writeSync with a position) straight into guest RAM views: no copies.
 */
export class FileBlockBackend implements BlockBackend {
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    readonly size: number,
    readonly readonly: boolean,
  ) {}

  /** Opens `path`. Throws VirtioError('invalid-config') naming the path and the errno code. */
  static open(path: string, options: FileBlockBackendOptions = {}): FileBlockBackend {
    const readonly = options.readonly === true;
    let fd: number;
    try {
      // O_NONBLOCK: a FIFO put in the image's place cannot hang the open (imageSize then refuses
      // it); reads and writes of regular files and block devices ignore the flag.
      fd = openSync(path, (readonly ? constants.O_RDONLY : constants.O_RDWR) | constants.O_NONBLOCK | constants.O_NOCTTY);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new VirtioError('invalid-config', `cannot open disk image ${path} ${readonly ? 'read-only' : 'read-write'} (${code})`, { cause: err, details: { path } });
    }
    try {
      const size = imageSize(path, fd);
      options.onOpen?.(fd);
      return new FileBlockBackend(path, fd, size, readonly);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  read(offset: number, dst: Uint8Array): void {
    let done = 0;
    while (done < dst.length) {
      const n = readSync(this.fd, dst, done, dst.length - done, offset + done);
      if (n === 0) {
        // The file shrank under us: the rest reads as zeros, as past-EOF reads do.
        dst.fill(0, done);
        return;
      }
      done += n;
    }
  }

  write(offset: number, src: Uint8Array): void {
    let done = 0;
    while (done < src.length) done += writeSync(this.fd, src, done, src.length - done, offset + done);
  }

  flush(): void {
    if (!this.readonly) fdatasyncSync(this.fd);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

/** Bytes in the image: st_size for a file; for a block device (st_size 0) sysfs's 512-byte sector count. */
function imageSize(path: string, fd: number): number {
  const st = fstatSync(fd);
  if (st.isFile()) return st.size;
  if (st.isBlockDevice()) {
    // Node has no BLKGETSIZE64 ioctl; /sys/dev/block/MAJ:MIN/size is the same number in sectors.
    const major = Number((BigInt(st.rdev) >> 8n) & 0xfffn);
    const minor = Number((BigInt(st.rdev) & 0xffn) | ((BigInt(st.rdev) >> 12n) & 0xfff00n));
    try {
      return Number(readFileSync(`/sys/dev/block/${major}:${minor}/size`, 'utf8').trim()) * 512;
    } catch (err) {
      throw new VirtioError('invalid-config', `cannot read the size of block device ${path} (${major}:${minor}) from sysfs`, { cause: err, details: { path } });
    }
  }
  throw new VirtioError('invalid-config', `disk image ${path} is neither a regular file nor a block device`, { details: { path } });
}
