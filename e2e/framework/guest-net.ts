// Moving bytes between the host and a Linux-tier guest over virtio-net, for the net test and
// `npm run bench -- net`: a tap with the host's address, TCP each way between a Node socket on
// the host and busybox nc in the guest, and ping's round-trip time. Transfers are streamed (a
// 256 MiB transfer does not fit in a 256 MiB guest's tmpfs): the guest sends one random chunk
// `repeats` times and the host checks every chunk-sized slice against the chunk's sha256; the
// host sends random bytes and the guest hashes the stream as it arrives.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { guestCheck, guestRun, type Console } from './guest-shell.js';

/** Polls (once a second, up to `seconds`) in the guest until `condition` holds; a subshell, so its exit 1 on timeout spares the shell. */
export const until = (condition: string, seconds = 30): string => `(i=0; until ${condition}; do i=$((i+1)); [ $i -ge ${seconds} ] && exit 1; sleep 1; done)`;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Creates tap `name` with `hostCidr` (e.g. 10.0.2.1/24) and brings it up; returns its remover. */
export function makeTap(name: string, hostCidr: string): () => void {
  ip('tuntap', 'add', 'dev', name, 'mode', 'tap');
  try {
    ip('addr', 'add', hostCidr, 'dev', name);
    ip('link', 'set', name, 'up');
  } catch (err) {
    ip('link', 'del', name);
    throw err;
  }
  return () => ip('link', 'del', name);
}

export interface Transfer {
  readonly bytes: number;
  /** First byte to last byte as the receiving side saw it (host clock). */
  readonly ms: number;
  /** MiB per second over `ms`. */
  readonly mibPerSecond: number;
}

const mib = (bytes: number): number => bytes / (1024 * 1024);
const rate = (bytes: number, ms: number): number => Math.round((mib(bytes) / (ms / 1000)) * 10) / 10;

export interface GuestToHostOptions {
  readonly hostIp: string;
  readonly port: number;
  /** Size of the random chunk the guest makes (it lives in the guest's tmpfs). */
  readonly chunkBytes: number;
  /** How many times the guest sends it. */
  readonly repeats: number;
  readonly timeoutMs: number;
}

/**
 * The guest sends chunk x repeats to a Node server on the host. Resolves with the timing once
 * every chunk-sized slice received has the guest chunk's sha256; throws naming the first slice
 * that does not, or when fewer bytes arrive.
 */
export async function guestToHost(vm: Console, o: GuestToHostOptions): Promise<Transfer> {
  const expected = (await guestCheck(vm, `head -c ${o.chunkBytes} /dev/urandom > /tmp/chunk && sha256sum /tmp/chunk`, 120_000)).split(/\s+/)[0];
  const total = o.chunkBytes * o.repeats;
  let slice = createHash('sha256');
  let inSlice = 0;
  let received = 0;
  let first = 0;
  let last = 0;
  const bad: number[] = [];
  let sock: Socket | undefined;
  const server = createServer((s) => {
    sock = s;
    s.on('data', (chunk: Buffer) => {
      if (first === 0) first = performance.now();
      last = performance.now();
      received += chunk.length;
      let at = 0;
      while (at < chunk.length) {
        const n = Math.min(chunk.length - at, o.chunkBytes - inSlice);
        slice.update(chunk.subarray(at, at + n));
        inSlice += n;
        at += n;
        if (inSlice === o.chunkBytes) {
          if (slice.digest('hex') !== expected) bad.push((received - chunk.length + at) / o.chunkBytes - 1);
          slice = createHash('sha256');
          inSlice = 0;
        }
      }
      // Everything is here: close, so nc (which may wait for the peer) ends.
      if (received >= total) s.end();
    });
  });
  const closed = new Promise<void>((resolve, reject) => {
    server.on('connection', (s) => {
      s.on('close', () => resolve());
      s.on('error', reject);
    });
  });
  await new Promise<void>((resolve, reject) => server.listen(o.port, o.hostIp, resolve).once('error', reject));
  try {
    const seconds = Math.ceil(o.timeoutMs / 1000);
    // nc's exit status varies between busybox's two nc flavours once the host closes; the bytes decide.
    await guestRun(vm, `i=0; while [ $i -lt ${o.repeats} ]; do cat /tmp/chunk; i=$((i+1)); done | timeout ${seconds} nc ${o.hostIp} ${o.port}; rm -f /tmp/chunk`, o.timeoutMs + 30_000);
    await Promise.race([closed, new Promise((r) => setTimeout(r, 10_000))]);
  } finally {
    sock?.destroy();
    server.close();
  }
  if (received !== total) throw new Error(`guest -> host: ${received} of ${total} bytes arrived`);
  if (bad.length > 0) throw new Error(`guest -> host: chunk(s) ${bad.slice(0, 5).join(', ')} of ${o.repeats} differ from the guest's (sha256 ${expected})`);
  return { bytes: total, ms: Math.round(last - first), mibPerSecond: rate(total, last - first) };
}

export interface HostToGuestOptions {
  readonly guestIp: string;
  readonly port: number;
  readonly bytes: number;
  /** The guest hashes what arrives (sha256sum) and the result is compared; else it goes to /dev/null. */
  readonly verify: boolean;
  readonly timeoutMs: number;
}

/** The host sends `bytes` random bytes to nc listening in the guest; checks the guest's byte count (and sha256 with `verify`). */
export async function hostToGuest(vm: Console, o: HostToGuestOptions): Promise<Transfer> {
  const sink = o.verify ? 'sha256sum > /tmp/in.sha' : 'cat > /dev/null';
  // stdin held open by sleep, so only the peer's FIN ends nc; dd counts the bytes on stderr.
  await guestCheck(vm, `rm -f /tmp/in.sha /tmp/in.dd; ((sleep 900 | nc -l -p ${o.port} | dd bs=65536 2>/tmp/in.dd | ${sink}) > /dev/null 2>&1 &)`);
  const hash = createHash('sha256');
  const block = randomBytes(1 << 20);
  let ms = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      ms = await new Promise<number>((resolve, reject) => {
        const sock = connect(o.port, o.guestIp);
        let t0 = 0;
        let sent = 0;
        const pump = (): void => {
          while (sent < o.bytes) {
            const n = Math.min(block.length, o.bytes - sent);
            // A fresh block each time (a cheap rotation), so a repeated-block bug cannot pass.
            const piece = Buffer.from(block.subarray(0, n));
            piece.writeUInt32LE(sent >>> 0, 0);
            hash.update(piece);
            sent += n;
            if (!sock.write(piece)) return void sock.once('drain', pump);
          }
          sock.end();
        };
        sock.on('connect', () => {
          t0 = performance.now();
          pump();
        });
        sock.on('error', reject);
        sock.on('close', (hadError) => (hadError ? reject(new Error('connection closed with an error')) : resolve(performance.now() - t0)));
        sock.setTimeout(o.timeoutMs, () => sock.destroy(new Error(`no progress for ${o.timeoutMs} ms`)));
      });
      break;
    } catch (err) {
      // The listener may not be up yet: connection refused before anything was sent.
      if (attempt >= 30 || !/ECONNREFUSED/.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  await guestCheck(vm, until(`grep -q 'bytes' /tmp/in.dd 2>/dev/null${o.verify ? ' && [ -s /tmp/in.sha ]' : ''}`, 300), 330_000);
  const count = await guestCheck(vm, `sed -n 's/^\\([0-9]*\\) bytes.*/\\1/p' /tmp/in.dd`);
  if (Number(count) !== o.bytes) throw new Error(`host -> guest: the guest read ${count} of ${o.bytes} bytes`);
  if (o.verify) {
    const got = (await guestCheck(vm, 'cat /tmp/in.sha')).split(/\s+/)[0];
    const want = hash.digest('hex');
    if (got !== want) throw new Error(`host -> guest: the guest's sha256 ${got} is not the host's ${want}`);
  }
  return { bytes: o.bytes, ms: Math.round(ms), mibPerSecond: rate(o.bytes, ms) };
}

/** busybox ping from the guest; resolves with the average round trip in ms. */
export async function guestPingRtt(vm: Console, hostIp: string, count: number): Promise<{ avgMs: number; minMs: number; maxMs: number }> {
  const out = await guestCheck(vm, `ping -c ${count} -i 0.2 -W 5 ${hostIp} | tail -1`, 120_000);
  const m = /= ([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(out);
  if (m === null) throw new Error(`no round-trip line in ping's output: ${out}`);
  return { minMs: Number(m[1]), avgMs: Number(m[2]), maxMs: Number(m[3]) };
}
