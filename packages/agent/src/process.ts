// AgentProcess: one command running in the guest, as streams (spawn) or collected (exec). It is
// the Pending request of its id: STARTED, STDOUT/STDERR and EXIT frames arrive here.
import { constants } from 'node:os';
import { PassThrough, Writable } from 'node:stream';
import { replyError, type Pending } from './reply.js';
import { AgentError, ExecTimeoutError } from './errors.js';
import { Flag, FrameType, MAX_PAYLOAD, PayloadReader, type Frame } from './protocol.js';

export interface ExecResult {
  /** The exit status, or null when a signal ended the command. */
  exitCode: number | null;
  /** The signal that ended it (`SIGKILL`), or null. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** From the request to the command's EXIT, as seen by the host. */
  durationMs: number;
}

export interface ProcessExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The agent killed it at `timeoutMs`. */
  timedOut: boolean;
}

/** How a process talks back through its client. */
export interface ProcessLink {
  send(type: number, flags: number, payload: Buffer): void;
  /** The request is over (its id may be reused). */
  done(): void;
}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));
/** Stdin is sent in frames of at most this many bytes. */
const STDIN_CHUNK = Math.min(256 * 1024, MAX_PAYLOAD);

export class AgentProcess implements Pending {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  /** The command's stdin when spawned with `stdin: true` (ending it closes the guest side). */
  readonly stdin: Writable;
  /** The guest pid once the command started; rejects when it could not start. */
  readonly started: Promise<number>;
  /** The command's end; rejects when it could not start or the connection broke. */
  readonly exited: Promise<ProcessExit>;
  readonly startedAt = performance.now();
  #resolveStarted!: (pid: number) => void;
  #rejectStarted!: (err: Error) => void;
  #resolveExit!: (exit: ProcessExit) => void;
  #rejectExit!: (err: Error) => void;
  #started = false;

  constructor(
    readonly argv: readonly string[],
    readonly timeoutMs: number | undefined,
    private readonly link: ProcessLink,
  ) {
    this.started = new Promise((res, rej) => {
      this.#resolveStarted = res;
      this.#rejectStarted = rej;
    });
    this.exited = new Promise((res, rej) => {
      this.#resolveExit = res;
      this.#rejectExit = rej;
    });
    // Handled by whoever awaits them; never an unhandled rejection for a caller using only one.
    this.started.catch(() => undefined);
    this.exited.catch(() => undefined);
    this.stdin = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        for (let off = 0; off < chunk.length; off += STDIN_CHUNK) this.link.send(FrameType.Stdin, 0, chunk.subarray(off, off + STDIN_CHUNK));
        cb();
      },
      final: (cb) => {
        this.link.send(FrameType.Stdin, Flag.Eof, Buffer.alloc(0));
        cb();
      },
    });
  }

  /** Sends a signal to the command's process group (default SIGTERM). */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): void {
    const n = typeof signal === 'number' ? signal : constants.signals[signal];
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(n);
    this.link.send(FrameType.Kill, 0, b);
  }

  frame(f: Frame): void {
    switch (f.type) {
      case FrameType.Started: {
        const r = new PayloadReader(f.payload);
        const pid = r.u32();
        r.end();
        this.#started = true;
        this.#resolveStarted(pid);
        return;
      }
      case FrameType.Stdout:
        this.stdout.write(Buffer.from(f.payload));
        return;
      case FrameType.Stderr:
        this.stderr.write(Buffer.from(f.payload));
        return;
      case FrameType.Exit: {
        const r = new PayloadReader(f.payload);
        const code = r.i32();
        const sig = r.u32();
        r.end();
        this.link.done();
        this.stdout.end();
        this.stderr.end();
        this.#resolveExit({ exitCode: code < 0 ? null : code, signal: sig === 0 ? null : (SIGNAL_NAMES.get(sig) ?? null), timedOut: (f.flags & Flag.TimedOut) !== 0 });
        return;
      }
      case FrameType.Error: {
        // Before STARTED, an ERROR means the command never ran. After it, an ERROR is about a
        // STDIN or KILL (stdin already closed, the command gone) and does not end the command.
        if (this.#started) return;
        this.link.done();
        this.#fail(replyError(f, `running ${this.argv.join(' ')}`));
        return;
      }
      default:
        throw new Error(`unexpected frame type 0x${f.type.toString(16)} for a command`);
    }
  }

  closed(err: AgentError): void {
    this.#fail(err);
  }

  #fail(err: Error): void {
    this.#rejectStarted(err);
    this.#rejectExit(err);
    this.stdout.destroy();
    this.stderr.destroy();
  }

  /** exec(): writes `stdin`, gathers the output, resolves at EXIT. */
  async collect(stdin: string | Uint8Array | undefined, maxOutputBytes: number): Promise<ExecResult> {
    if (stdin !== undefined) this.stdin.end(typeof stdin === 'string' ? Buffer.from(stdin, 'utf8') : Buffer.from(stdin));
    const out = gather(this.stdout, maxOutputBytes, () => this.kill('SIGKILL'));
    const err = gather(this.stderr, maxOutputBytes, () => this.kill('SIGKILL'));
    const exit = await this.exited;
    const [stdout, stderr] = [await out, await err];
    if (stdout.over || stderr.over) throw new AgentError('output-limit', `${this.argv.join(' ')} wrote more than ${maxOutputBytes} bytes to ${stdout.over ? 'stdout' : 'stderr'} and was killed`);
    if (exit.timedOut) throw new ExecTimeoutError(this.argv, this.timeoutMs ?? 0, stdout.text, stderr.text);
    return { exitCode: exit.exitCode, signal: exit.signal, stdout: stdout.text, stderr: stderr.text, durationMs: performance.now() - this.startedAt };
  }
}

/** Collects a stream as text up to `max` bytes; past it calls `onOver` once. */
function gather(stream: PassThrough, max: number, onOver: () => void): Promise<{ text: string; over: boolean }> {
  const parts: Buffer[] = [];
  let size = 0;
  let over = false;
  return new Promise((resolve) => {
    stream.on('data', (b: Buffer) => {
      if (over) return;
      size += b.length;
      if (size > max) {
        over = true;
        onOver();
        return;
      }
      parts.push(b);
    });
    const finish = (): void => resolve({ text: Buffer.concat(parts).toString('utf8'), over });
    stream.on('end', finish);
    stream.on('close', finish);
  });
}
