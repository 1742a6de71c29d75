// Host-side helpers for a guest's virtio-vsock in Firecracker's hybrid model, for the vsock test
// and `npm run bench -- vsock`: `CONNECT <port>` on the VMM's socket, and byte streams through
// the guest's echo server (e2e/linux/vsock-tool.c) checked by sha256. No vitest here.
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/**
 * Opens a hybrid connection to guest port `port`: `CONNECT <port>\n`, then `OK <host port>\n`.
 * Retries (the guest listener may not be up yet: the VMM closes the client on the guest's RST).
 */
export async function hybridConnect(socketPath: string, port: number, attempts = 60): Promise<{ socket: Socket; hostPort: number }> {
  for (let i = 0; ; i++) {
    const result = await new Promise<{ socket: Socket; hostPort: number } | undefined>((resolve) => {
      const s = connect(socketPath);
      let line = '';
      const onData = (d: Buffer): void => {
        line += d.toString('latin1');
        const nl = line.indexOf('\n');
        if (nl < 0) return;
        s.off('data', onData);
        s.off('close', onClose);
        const m = /^OK (\d+)$/.exec(line.slice(0, nl));
        if (m === null) {
          s.destroy();
          resolve(undefined);
          return;
        }
        // Paused, so bytes past the OK line are not emitted before echoRoundTrip's reader exists.
        s.pause();
        if (nl + 1 < line.length) s.unshift(Buffer.from(line.slice(nl + 1), 'latin1'));
        resolve({ socket: s, hostPort: Number(m[1]) });
      };
      const onClose = (): void => resolve(undefined);
      s.on('connect', () => s.write(`CONNECT ${port}\n`));
      s.on('data', onData);
      s.on('close', onClose);
      s.on('error', () => {});
    });
    if (result !== undefined) return result;
    if (i + 1 >= attempts) throw new Error(`CONNECT ${port} on ${socketPath}: no OK after ${attempts} attempts`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Sends `block` `times` times (respecting backpressure), ends, and hashes what comes back. */
export async function echoRoundTrip(socket: Socket, block: Buffer, times: number): Promise<{ sent: string; received: string; bytes: number }> {
  const sentHash = createHash('sha256');
  const receivedHash = createHash('sha256');
  let bytes = 0;
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (d: Buffer) => {
      receivedHash.update(d);
      bytes += d.length;
    });
    socket.on('end', resolve);
    socket.on('error', reject);
    socket.on('close', resolve);
    socket.resume(); // hybridConnect hands the socket over paused
  });
  for (let i = 0; i < times; i++) {
    sentHash.update(block);
    if (!socket.write(block)) await new Promise((r) => socket.once('drain', r));
  }
  socket.end();
  await done;
  socket.destroy();
  return { sent: sentHash.digest('hex'), received: receivedHash.digest('hex'), bytes };
}

export interface EchoRun {
  /** Per stream: bytes back and the sha256 of what was sent and of what came back. */
  readonly results: ReadonlyArray<{ sent: string; received: string; bytes: number }>;
  /** Distinct host ports the VMM assigned (one per stream when all is well). */
  readonly hostPorts: number;
  readonly seconds: number;
  /** MiB per second, counting both directions. */
  readonly mibPerSecond: number;
}

/** `streams` concurrent connections to the guest's echo server on `port`, each sending its own random 1 MiB block `mibPerStream` times. */
export async function echoStreams(socketPath: string, port: number, streams: number, mibPerStream: number): Promise<EchoRun> {
  const blocks = Array.from({ length: streams }, () => randomBytes(1 << 20));
  const conns = await Promise.all(blocks.map(() => hybridConnect(socketPath, port)));
  const started = performance.now();
  const results = await Promise.all(conns.map((c, i) => echoRoundTrip(c.socket, blocks[i] as Buffer, mibPerStream)));
  const seconds = (performance.now() - started) / 1000;
  return { results, hostPorts: new Set(conns.map((c) => c.hostPort)).size, seconds, mibPerSecond: Math.round(((2 * streams * mibPerStream) / seconds) * 10) / 10 };
}
