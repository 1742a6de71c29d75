// AgentClient: the host's side of one connection to the guest agent (PROTOCOL.md). Requests are
// multiplexed by id, so commands and file transfers run concurrently on one connection. Anything
// the agent sends that breaks the protocol ends the connection with an AgentError; it never throws
// out of a stream callback.
import type { Duplex } from 'node:stream';
import { AgentError, AgentUnavailableError } from './errors.js';
import { replyError, type Pending } from './reply.js';
import { AGENT_PROTOCOL_VERSION, encodeFrame, Flag, FrameDecoder, FrameType, PayloadReader, PayloadWriter, type Frame } from './protocol.js';
import { AgentProcess, type ExecResult } from './process.js';

/** What the agent says about its guest when a connection opens. */
export interface AgentInfo {
  version: number;
  /** Guest uptime when the connection opened, in ms. */
  uptimeMs: number;
  /** `uname -r` of the guest kernel. */
  release: string;
  /** `uname -m`. */
  machine: string;
}

export interface SpawnOptions {
  /** Added to (or replacing the same keys of) the agent's own environment. */
  env?: Record<string, string>;
  /** Working directory in the guest; the agent's (/) when absent. */
  cwd?: string;
  /** Give the command a stdin pipe (`AgentProcess.stdin`); otherwise it reads /dev/null. */
  stdin?: boolean;
  /** The agent kills the command's process group after this many ms. */
  timeoutMs?: number;
}

export interface ExecOptions extends Omit<SpawnOptions, 'stdin'> {
  /** Written to the command's stdin, which is then closed. */
  stdin?: string | Uint8Array;
  /** Bytes of stdout and of stderr kept (default 64 MiB each); more kills the command. */
  maxOutputBytes?: number;
}

export interface FileStat {
  mode: number;
  size: number;
  mtimeMs: number;
  isFile: boolean;
  isDirectory: boolean;
}

/** A file chunk: well under the 1 MiB payload limit. */
const FILE_CHUNK = 512 * 1024;
const READY_TIMEOUT_MS = 30_000;

export class AgentClient {
  readonly info: AgentInfo;
  #socket: Duplex;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed: AgentError | undefined;
  #decoder = new FrameDecoder();

  private constructor(socket: Duplex, info: AgentInfo, decoder: FrameDecoder, rest: Frame[]) {
    this.#socket = socket;
    this.info = info;
    this.#decoder = decoder;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#fail(new AgentError('closed', `the agent connection failed: ${err.message}`, { cause: err })));
    socket.on('close', () => this.#fail(new AgentError('closed', 'the agent closed the connection')));
    for (const f of rest) this.#route(f);
  }

  /** Waits for the agent's READY on a connected stream and checks its protocol version. */
  static connect(socket: Duplex, options: { readyTimeoutMs?: number } = {}): Promise<AgentClient> {
    const timeoutMs = options.readyTimeoutMs ?? READY_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const decoder = new FrameDecoder();
      const done = (err: Error | undefined, client?: AgentClient): void => {
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('close', onClose);
        socket.off('error', onError);
        if (err !== undefined) {
          socket.destroy();
          reject(err);
        } else resolve(client as AgentClient);
      };
      const onData = (chunk: Buffer): void => {
        let frames: Frame[];
        try {
          frames = decoder.push(chunk);
        } catch (err) {
          done(new AgentError('protocol', `the agent's first frame is malformed: ${(err as Error).message}`));
          return;
        }
        const [first, ...rest] = frames;
        if (first === undefined) return;
        try {
          const info = parseReady(first);
          done(undefined, new AgentClient(socket, info, decoder, rest));
        } catch (err) {
          done(err as Error);
        }
      };
      const onClose = (): void => done(new AgentUnavailableError('not-ready', 'the connection closed before the agent said it was ready'));
      const onError = (err: Error): void => done(new AgentUnavailableError('no-connection', `cannot reach the agent: ${err.message}`, { cause: err }));
      const timer = setTimeout(() => done(new AgentUnavailableError('not-ready', `the agent did not say it was ready within ${timeoutMs} ms`)), timeoutMs);
      socket.on('data', onData);
      socket.once('close', onClose);
      socket.once('error', onError);
      // connectHybridVsock hands the socket over paused (bytes it read past its OK line wait in it).
      socket.resume();
    });
  }

  /** Runs a command to its end. A string runs under `/bin/sh -c`. */
  async exec(command: string | readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const { stdin, maxOutputBytes, ...spawnOptions } = options;
    const proc = this.spawn(command, { ...spawnOptions, stdin: stdin !== undefined });
    return proc.collect(stdin, maxOutputBytes ?? 64 * 1024 * 1024);
  }

  /** Starts a command with streamed stdout/stderr (and stdin when `stdin: true`). */
  spawn(command: string | readonly string[], options: SpawnOptions = {}): AgentProcess {
    const argv = typeof command === 'string' ? ['/bin/sh', '-c', command] : [...command];
    if (argv.length === 0) throw new AgentError('invalid-argument', 'a command needs at least the program to run');
    const w = new PayloadWriter().u32(options.timeoutMs ?? 0).str(options.cwd ?? '').u32(argv.length);
    for (const a of argv) w.str(a);
    const env = Object.entries(options.env ?? {});
    w.u32(env.length);
    for (const [k, v] of env) w.str(`${k}=${v}`);
    const id = this.#id();
    const proc = new AgentProcess(argv, options.timeoutMs, {
      send: (type, flags, payload) => this.#send(type, flags, id, payload),
      done: () => this.#pending.delete(id),
    });
    this.#register(id, proc);
    this.#send(FrameType.Exec, options.stdin === true ? Flag.Stdin : 0, id, w.finish());
    return proc;
  }

  /** Writes a file in the guest (created or truncated), in chunks; `mode` applies when it is created. */
  async writeFile(path: string, data: string | Uint8Array, options: { mode?: number } = {}): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    let off = 0;
    do {
      const chunk = bytes.subarray(off, off + FILE_CHUNK);
      const payload = new PayloadWriter().u32(options.mode ?? 0o644).str(path).bytes(chunk).finish();
      await this.#request(FrameType.WriteFile, off === 0 ? Flag.Truncate : 0, payload, FrameType.Ok);
      off += chunk.length;
    } while (off < bytes.length);
  }

  /** Reads a regular file from the guest. */
  readFile(path: string, options: { maxBytes?: number } = {}): Promise<Buffer> {
    const maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    const id = this.#id();
    const parts: Buffer[] = [];
    let size = 0;
    return new Promise((resolve, reject) => {
      this.#register(id, {
        frame: (f) => {
          if (f.type === FrameType.Data) {
            size += f.payload.length;
            if (size > maxBytes) {
              this.#pending.delete(id);
              reject(new AgentError('output-limit', `${path} is larger than ${maxBytes} bytes`));
              return;
            }
            parts.push(Buffer.from(f.payload));
            return;
          }
          this.#pending.delete(id);
          if (f.type === FrameType.End) resolve(Buffer.concat(parts, size));
          else reject(replyError(f, `reading ${path}`));
        },
        closed: reject,
      });
      this.#send(FrameType.ReadFile, 0, id, new PayloadWriter().str(path).finish());
    });
  }

  async stat(path: string): Promise<FileStat> {
    const f = await this.#request(FrameType.Stat, 0, new PayloadWriter().str(path).finish(), FrameType.StatReply);
    const r = new PayloadReader(f.payload);
    const mode = r.u32();
    const size = Number(r.u64());
    const mtimeMs = Number(r.u64());
    r.end();
    const type = mode & 0o170000; // S_IFMT
    return { mode, size, mtimeMs, isFile: type === 0o100000, isDirectory: type === 0o040000 };
  }

  async mkdir(path: string, options: { parents?: boolean; mode?: number } = {}): Promise<void> {
    await this.#request(FrameType.Mkdir, options.parents === false ? 0 : Flag.Parents, new PayloadWriter().u32(options.mode ?? 0o755).str(path).finish(), FrameType.Ok);
  }

  /** One round trip; resolves with its time in ms. */
  async ping(): Promise<number> {
    const start = performance.now();
    await this.#request(FrameType.Ping, 0, Buffer.alloc(0), FrameType.Pong);
    return performance.now() - start;
  }

  /** Ends the connection; requests in flight fail with `closed`. */
  close(): void {
    this.#fail(new AgentError('closed', 'the agent client was closed'));
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  #id(): number {
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 0xffffffff ? 1 : this.#nextId + 1;
    return id;
  }

  #register(id: number, pending: Pending): void {
    if (this.#closed !== undefined) {
      const err = this.#closed;
      queueMicrotask(() => pending.closed(err));
      return;
    }
    this.#pending.set(id, pending);
  }

  #send(type: number, flags: number, id: number, payload: Buffer): void {
    if (this.#closed !== undefined) return;
    this.#socket.write(encodeFrame(type, flags, id, payload));
  }

  /** A request answered by one frame of type `expect` (or an ERROR). */
  #request(type: number, flags: number, payload: Buffer, expect: number): Promise<Frame> {
    const id = this.#id();
    return new Promise((resolve, reject) => {
      this.#register(id, {
        frame: (f) => {
          this.#pending.delete(id);
          if (f.type === expect) resolve(f);
          else reject(replyError(f, describe(type)));
        },
        closed: reject,
      });
      this.#send(type, flags, id, payload);
    });
  }

  #onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (err) {
      this.#fail(new AgentError('protocol', `the agent broke the protocol: ${(err as Error).message}`));
      return;
    }
    for (const f of frames) this.#route(f);
  }

  #route(f: Frame): void {
    if (this.#closed !== undefined) return;
    const pending = this.#pending.get(f.id);
    // A frame for no request in flight (a late reply after a local timeout) is dropped.
    if (pending === undefined) return;
    try {
      pending.frame(f);
    } catch (err) {
      this.#fail(new AgentError('protocol', `the agent sent a malformed ${describe(f.type)} frame: ${(err as Error).message}`));
    }
  }

  #fail(err: AgentError): void {
    if (this.#closed !== undefined) return;
    this.#closed = err;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#socket.destroy();
    for (const p of pending) p.closed(err);
  }
}

function parseReady(f: Frame): AgentInfo {
  if (f.type !== FrameType.Ready) throw new AgentError('protocol', `the agent's first frame is type 0x${f.type.toString(16)}, not READY`);
  try {
    const r = new PayloadReader(f.payload);
    const version = r.u32();
    if (version !== AGENT_PROTOCOL_VERSION) throw new AgentError('version', `the agent speaks protocol version ${version}; this client speaks ${AGENT_PROTOCOL_VERSION}`);
    const info = { version, uptimeMs: Number(r.u64()), release: r.str(), machine: r.str() };
    r.end();
    return info;
  } catch (err) {
    if (err instanceof AgentError) throw err;
    throw new AgentError('protocol', `the agent's READY frame is malformed: ${(err as Error).message}`);
  }
}

function describe(type: number): string {
  const name = Object.entries(FrameType).find(([, v]) => v === type)?.[0];
  return name === undefined ? `type 0x${type.toString(16)}` : name.toUpperCase();
}
