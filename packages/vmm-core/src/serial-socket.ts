// COM1 over a Unix socket (--serial socket=PATH): one client at a time receives the guest's output
// and its bytes become the guest's input, paused while the UART's receive FIFO is full. The socket
// file is @workervisor/base's (unix-socket.ts): a live socket at the path is never taken over.
import { createServer, type Server, type Socket } from 'node:net';
import { type SerialOutput } from '@workervisor/devices';
import { createLogger, listenPrivately, RateLimitedLog, removeBoundSocketSync, type BoundSocket } from '@workervisor/base';
import type { InputSink } from './serial-host.js';

const log = createLogger('serial');
/** Output kept while no client is connected, replayed to the next one (bytes). */
const BACKLOG_LIMIT = 64 * 1024;
/** Output queued for a connected client that does not read; past it, output is dropped and counted. */
const CLIENT_QUEUE_LIMIT = 1024 * 1024;
/**
 * A connection becomes the client this long after it is accepted (ms). Another VMM started on the
 * same path connects to see whether the socket is live (prepareSocketPath) and closes at once:
 * the backlog must not be replayed into that probe and lost.
 */
const CLAIM_DELAY_MS = 25;

export interface SerialSocket {
  /**
   * Resolves once the socket is at its path (mode 0600). Rejects with a UnixSocketError naming the
   * path when it is not free: a file that is not a socket, or a socket another process listens on.
   */
  ready: Promise<void>;
  output: SerialOutput;
  onDrained: () => void;
  close: () => void;
}

/**
 * Listens on `path`; replaces a stale socket (nobody listening), refuses any other file and a live
 * socket (see `ready`). `what` names the device in messages (`serial` for COM1, `console` for the
 * virtio-console, which reuses this).
 */
export function serialSocket(path: string, getSerial: () => InputSink | undefined, what = 'serial'): SerialSocket {
  let client: Socket | undefined;
  let pending: Buffer | undefined;
  let backlog: Buffer[] = [];
  let dropped = 0;
  const dropLog = new RateLimitedLog(log);
  let backlogBytes = 0;

  const pump = (): void => {
    const serial = getSerial();
    if (serial === undefined || pending === undefined) return;
    const n = serial.enqueueInput(pending);
    pending = n >= pending.length ? undefined : pending.subarray(n);
    if (pending === undefined) client?.resume();
  };

  const refuse = (socket: Socket): void => {
    socket.end(`workervisor: another client holds this ${what} console\r\n`);
  };
  const claim = (socket: Socket): void => {
    // Gone already: a probe, not a client (see CLAIM_DELAY_MS).
    if (socket.destroyed) return;
    if (client !== undefined) return refuse(socket);
    client = socket;
    for (const chunk of backlog) socket.write(chunk);
    backlog = [];
    backlogBytes = 0;
    // Input that arrived before the claim waited in the socket's buffer; it flows from here.
    socket.on('data', (chunk: Buffer) => {
      pending = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
      socket.pause();
      pump();
    });
  };

  const server: Server = createServer((socket) => {
    socket.on('error', (err) => log.debug(`${what} client error`, { error: err.message }));
    socket.on('close', () => {
      if (client !== socket) return;
      client = undefined;
      pending = undefined;
    });
    if (client !== undefined) return refuse(socket);
    setTimeout(() => claim(socket), CLAIM_DELAY_MS).unref();
  });
  // The file we bound, removed on close only while it is still ours; undefined until bound.
  let bound: BoundSocket | undefined;
  let closed = false;
  const removeSocketFile = (): void => {
    if (bound === undefined) return;
    try {
      removeBoundSocketSync(bound);
    } catch (err) {
      log.warn(`${what} socket ${path}: cannot remove it`, { error: (err as Error).message });
    }
    bound = undefined;
  };
  const ready = listenPrivately(server, path, `${what} socket`).then((b) => {
    bound = b;
    // Closed while binding: nothing will ever close the socket again, so undo it now.
    if (closed) {
      server.close();
      removeSocketFile();
      return;
    }
    // From now on a server error (e.g. EMFILE on accept) is logged, never an uncaught exception.
    server.on('error', (err) => log.warn(`${what} socket ${path}: ${err.message}`));
  });
  ready.catch((err: Error) => log.error(`${what} socket ${path} failed`, { error: err.message }));
  server.unref();

  return {
    ready,
    output: {
      write: (bytes) => {
        const chunk = Buffer.from(bytes);
        if (client !== undefined) {
          // A client that stops reading must not make the guest grow the VMM's memory.
          if (client.writableLength > CLIENT_QUEUE_LIMIT) {
            dropped += chunk.length;
            dropLog.warn(`${what} socket ${path}: the client is not reading; dropping output`, { droppedBytes: dropped });
            return;
          }
          client.write(chunk);
          return;
        }
        backlog.push(chunk);
        backlogBytes += chunk.length;
        while (backlogBytes > BACKLOG_LIMIT && backlog.length > 1) backlogBytes -= backlog.shift()!.length;
      },
    },
    onDrained: pump,
    close: () => {
      closed = true;
      client?.destroy();
      if (server.listening) server.close();
      removeSocketFile();
    },
  };
}
