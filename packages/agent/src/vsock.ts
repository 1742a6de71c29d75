// Dials a guest vsock port through a VMM's hybrid vsock socket (Firecracker's model, which
// Workervisor's virtio-vsock serves): connect to the Unix socket, send `CONNECT <port>\n`, read
// `OK <host port>\n`; the socket is then a byte stream to the guest's listener.
import { connect, type Socket } from 'node:net';
import { AgentUnavailableError } from './errors.js';

/** The handshake line is short; more than this before a newline is not the VMM talking. */
const MAX_LINE = 64;

/**
 * Resolves with the connected socket **paused**, holding any guest bytes that came with the
 * handshake: attach a reader, then `resume()` it (or `pipe()` it, which resumes).
 */
export function connectHybridVsock(socketPath: string, port: number, options: { timeoutMs?: number } = {}): Promise<Socket> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let line = Buffer.alloc(0);
    const fail = (why: string, cause?: unknown): void => {
      cleanup();
      socket.destroy();
      reject(new AgentUnavailableError('no-connection', `cannot reach guest vsock port ${port} through ${socketPath}: ${why}`, cause === undefined ? undefined : { cause }));
    };
    const onData = (chunk: Buffer): void => {
      line = Buffer.concat([line, chunk]);
      const nl = line.indexOf(0x0a);
      if (nl < 0) {
        if (line.length > MAX_LINE) fail('the VMM answered with something other than "OK <port>"');
        return;
      }
      const answer = line.subarray(0, nl).toString('latin1');
      if (!/^OK \d+$/.test(answer)) {
        fail(`the VMM answered ${JSON.stringify(answer)}`);
        return;
      }
      cleanup();
      // Bytes after the line are the guest's (its first frame may come in the same read as the
      // OK): hand them back to a paused stream. Left flowing with no 'data' listener until the
      // caller attaches one, the stream would emit them to nobody on the next tick.
      socket.pause();
      const rest = line.subarray(nl + 1);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    const onClose = (): void => fail('the connection closed during the handshake (is anything listening on that port in the guest?)');
    const onError = (err: Error): void => fail(err.message, err);
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
    };
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', onError);
    socket.once('connect', () => socket.write(`CONNECT ${port}\n`));
  });
}
