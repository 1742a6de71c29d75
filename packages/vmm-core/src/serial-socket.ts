// COM1 over a Unix socket (--serial socket=PATH): one client at a time receives the guest's output
// and its bytes become the guest's input, paused while the UART's receive FIFO is full.
import { chmodSync, existsSync, lstatSync, mkdtempSync, renameSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';
import { type SerialOutput } from '@workervisor/devices';
import { createLogger, RateLimitedLog } from '@workervisor/base';
import type { InputSink } from './serial-host.js';

const log = createLogger('serial');
/** Output kept while no client is connected, replayed to the next one (bytes). */
const BACKLOG_LIMIT = 64 * 1024;
/** Output queued for a connected client that does not read; past it, output is dropped and counted. */
const CLIENT_QUEUE_LIMIT = 1024 * 1024;

export interface SerialSocket {
  /** Resolves once the socket is at its path (mode 0600). */
  ready: Promise<void>;
  output: SerialOutput;
  onDrained: () => void;
  close: () => void;
}

/**
 * Listens on `path`; replaces a stale socket, refuses any other file. `what` names the device in
 * messages (`serial` for COM1, `console` for the virtio-console, which reuses this).
 */
export function serialSocket(path: string, getSerial: () => InputSink | undefined, what = 'serial'): SerialSocket {
  if (existsSync(path)) {
    if (!lstatSync(path).isSocket()) throw new Error(`--${what} socket=${path}: the path exists and is not a socket`);
    unlinkSync(path);
  }
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

  const server: Server = createServer((socket) => {
    if (client !== undefined) {
      socket.end(`workervisor: another client holds this ${what} console\r\n`);
      return;
    }
    client = socket;
    for (const chunk of backlog) socket.write(chunk);
    backlog = [];
    backlogBytes = 0;
    socket.on('data', (chunk: Buffer) => {
      pending = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
      socket.pause();
      pump();
    });
    socket.on('error', (err) => log.debug(`${what} client error`, { error: err.message }));
    socket.on('close', () => {
      if (client === socket) client = undefined;
      pending = undefined;
    });
  });
  // Bound in a private 0700 directory, made 0600, then renamed into place: the socket is never
  // reachable with the umask's looser mode.
  const privateDir = mkdtempSync(join(dirname(path), `.wv-${what}-`));
  const staging = join(privateDir, 's');
  const removePrivateDir = (): void => {
    try {
      rmSync(privateDir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  };
  const ready = new Promise<void>((resolve, reject) => {
    server.once('error', (err) => {
      removePrivateDir();
      reject(err);
    });
    server.listen(staging, () => {
      try {
        chmodSync(staging, 0o600);
        renameSync(staging, path);
        rmdirSync(privateDir);
        // From now on a server error (e.g. EMFILE on accept) is logged, never an uncaught exception.
        server.removeAllListeners('error');
        server.on('error', (err) => log.warn(`${what} socket ${path}: ${err.message}`));
        resolve();
      } catch (err) {
        removePrivateDir();
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
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
      client?.destroy();
      server.close();
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    },
  };
}
