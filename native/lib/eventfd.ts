// EventFd and FdWatcher: the doorbells between threads and the core's libuv-driven dispatch.
import { binding, type NativeFdWatcher } from './binding.js';
import { wrap } from './errors.js';

/** A non-blocking, close-on-exec eventfd. */
export class EventFd {
  readonly fd: number;
  constructor(initval = 0) {
    this.fd = wrap('eventfd', 'eventfd', () => binding().eventfdCreate(initval));
  }
  /** Adds value to the counter (wakes a watcher). */
  write(value: bigint | number = 1): void {
    wrap('eventfd', 'eventfd write', () => binding().eventfdWrite(this.fd, value));
  }
  /** Reads and clears the counter; 0n when it was already zero. */
  read(): bigint {
    return wrap('eventfd', 'eventfd read', () => binding().eventfdRead(this.fd));
  }
  close(): void {
    binding().closeFd(this.fd);
  }
}

/** Calls `onReadable` from this thread's event loop each time `fd` becomes readable. */
export class FdWatcher {
  private readonly raw: NativeFdWatcher;
  constructor(fd: number, onReadable: () => void) {
    this.raw = new (binding().FdWatcher)(fd, () => onReadable());
  }
  /** Whether this watcher alone keeps the process alive. */
  setRef(ref: boolean): void {
    this.raw.setRef(ref);
  }
  stop(): void {
    this.raw.stop();
  }
}

/** Writes an eventfd by number (for threads that got the fd over postMessage). */
export function eventfdWrite(fd: number, value: bigint | number = 1): void {
  binding().eventfdWrite(fd, value);
}
