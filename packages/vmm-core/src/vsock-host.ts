// The host end of virtio-vsock in Firecracker's hybrid model: the VMM listens on a Unix socket
// (mode 0600) where a client writes `CONNECT <port>\n` to reach guest port <port> and reads
// `OK <host port>\n`; a guest connecting to host port P reaches whatever listens on `<socket>_P`.
// Each vsock stream is one Unix stream socket; half-close maps to SHUTDOWN, pause to credit.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { VirtioVsock, type VsockBackend, type VsockHostStream, type VsockStreamEvents } from '@workervisor/devices';
import { createLogger, listenPrivately, RateLimitedLog, removeBoundSocketSync } from '@workervisor/base';
import type { DeviceContext } from './device-manager.js';
import type { VsockSpec } from './machine-config.js';
import { virtioDevice, type VirtioRegistration } from './virtio-wiring.js';

const log = createLogger('vsock');
/** The longest `CONNECT <port>\n` line accepted (a u32 port is 10 digits). */
const MAX_CONNECT_LINE = 32;
/** How long a client may take to send its CONNECT line. */
const CONNECT_LINE_TIMEOUT_MS = 10_000;

/** A virtio-vsock device and its Unix sockets. */
export interface HostedVsock {
  readonly name: string;
  readonly device: VirtioVsock;
  /** Stops listening, closes every stream and removes the socket. Idempotent. */
  close(): void;
}

export interface HostedVsockOptions {
  /** How long a CONNECT waits for the guest's RESPONSE; default the device's. */
  readonly connectTimeoutMs?: number;
}

/** A VsockHostStream over a connected Unix socket. `events` is set once the device has the connection. */
class SocketStream implements VsockHostStream {
  events: VsockStreamEvents | undefined;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.events?.data(chunk));
    socket.on('end', () => this.events?.end());
    socket.on('close', () => this.events?.close());
    socket.on('error', (err) => log.debug('vsock stream error', { error: err.message }));
  }

  write(bytes: Uint8Array): void {
    const n = bytes.length;
    // Credit goes back to the guest only once the bytes left for the host program (fwd_cnt).
    this.socket.write(bytes, (err) => {
      if (err === undefined || err === null) this.events?.forwarded(n);
    });
  }

  end(): void {
    if (!this.socket.writableEnded) this.socket.end();
  }

  close(): void {
    this.events = undefined;
    if (this.socket.destroyed) return;
    // Flush what the guest sent, then close both directions.
    this.socket.end(() => this.socket.destroy());
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }
}

/** Guest-initiated connections: host port P is the Unix socket `<path>_P`. */
function unixBackend(path: string, sockets: Set<Socket>): VsockBackend {
  return {
    connectToHost(port, events, done) {
      const socket = connect({ path: `${path}_${port}`, allowHalfOpen: true });
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      let connected = false;
      socket.once('error', (err) => {
        if (connected) return;
        log.debug(`no host listener for vsock port ${port}`, { path: `${path}_${port}`, error: err.message });
        socket.destroy();
        done(undefined);
      });
      socket.once('connect', () => {
        connected = true;
        const stream = new SocketStream(socket);
        stream.events = events;
        done(stream);
      });
    },
  };
}

/** Parses `CONNECT <port>` (without the newline); undefined when malformed. */
export function parseConnectLine(line: string): number | undefined {
  const m = /^CONNECT (\d{1,10})\r?$/.exec(line);
  if (m === null) return undefined;
  const port = Number(m[1]);
  return port <= 0xffff_ffff ? port : undefined;
}

/** Creates the device and listens on `spec.socket`; resolves once the socket is in place. */
export async function createHostedVsock(spec: VsockSpec, options: HostedVsockOptions = {}): Promise<HostedVsock> {
  const name = spec.id ?? 'vsock';
  const path = spec.socket;
  const sockets = new Set<Socket>();
  const device = new VirtioVsock({
    name,
    guestCid: spec.cid,
    backend: unixBackend(path, sockets),
    ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
  });
  const warn = new RateLimitedLog(log);

  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', (err) => log.debug('vsock client error', { error: err.message }));
    let line = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), CONNECT_LINE_TIMEOUT_MS);
    timer.unref();
    const onLine = (chunk: Buffer): void => {
      line = Buffer.concat([line, chunk]);
      const nl = line.indexOf(0x0a);
      if (nl < 0) {
        if (line.length > MAX_CONNECT_LINE) {
          warn.warn(`vsock socket ${path}: a client sent ${line.length} bytes without a CONNECT line; closed`);
          socket.destroy();
        }
        return;
      }
      clearTimeout(timer);
      socket.off('data', onLine);
      socket.pause();
      const port = parseConnectLine(line.subarray(0, nl).toString('latin1'));
      if (port === undefined) {
        warn.warn(`vsock socket ${path}: expected "CONNECT <port>\\n"; closed the client`);
        socket.destroy();
        return;
      }
      const rest = line.subarray(nl + 1);
      const stream = new SocketStream(socket);
      const events = device.connectToGuest(port, stream, (result) => {
        if (result.ok) {
          socket.write(`OK ${result.hostPort}\n`);
          socket.resume();
        } else {
          log.debug(`vsock CONNECT ${port} failed: ${result.reason}`);
          socket.destroy();
        }
      });
      if (events === undefined) return;
      stream.events = events;
      // Bytes after the CONNECT line wait in the device until the guest has answered.
      if (rest.length > 0) events.data(rest);
    };
    socket.on('data', onLine);
  });

  // The shared helper refuses a path another process listens on (a second VMM given the same
  // vsock socket must not take over the first one's), replaces a stale socket, binds mode 0600.
  const bound = await listenPrivately(server, path, 'vsock socket');
  // From now on a server error (EMFILE on accept) is logged, never an uncaught exception.
  server.on('error', (err) => log.warn(`vsock socket ${path}: ${err.message}`));
  server.unref();
  let closed = false;
  return {
    name,
    device,
    close: () => {
      if (closed) return;
      closed = true;
      server.close();
      for (const s of sockets) s.destroy();
      try {
        removeBoundSocketSync(bound);
      } catch (err) {
        log.warn(`vsock socket ${path}: cannot remove it: ${(err as Error).message}`);
      }
    },
  };
}

/**
 * The virtio-vsock registration (Firecracker's hybrid vsock): listening on its Unix socket before
 * the guest can connect out; the sockets close after the device is reset.
 */
export async function vsockDevice(ctx: DeviceContext, spec: VsockSpec): Promise<VirtioRegistration> {
  const hosted = await createHostedVsock(spec);
  return virtioDevice(ctx, hosted.name, hosted.device, [{ name: 'host sockets', run: hosted.close }]);
}
