// A VMM child process whose stdout is the guest console and stdin its input: output collected
// (console and stderr), expect-style waits, exit tracking, and SIGKILL for every child still
// running when this process exits. launch() builds a Vm on it; the e2e tests' Microvm wraps it.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { ConsoleBuffer, tail } from './console-buffer.js';
import { SerialWaitError } from './errors.js';

export interface VmExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface VmmProcessOptions {
  /** Variables added to (or, when undefined, removed from) this process's environment for the child. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /**
   * Where the child's stdout (the guest console) goes. `pipe` (default): collected, see
   * serialText() and waitForSerial(), with writeSerial() into its stdin. `inherit`: this process's
   * stdout. `off`: discarded.
   */
  serial?: 'pipe' | 'inherit' | 'off';
}

/** The VMM's stderr kept for messages (its log lines and fatal errors). */
const MAX_STDERR_CHARS = 64 * 1024;
/** Default wait of waitForSerial, in ms. */
const DEFAULT_WAIT_MS = 30_000;

// Children still running when this process exits are killed, so a crashed test run leaves no VMMs.
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackChild(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of liveChildren) c.kill('SIGKILL');
    });
  }
  liveChildren.add(child);
}

export class VmmProcess {
  readonly process: ChildProcess;
  /** argv of the child, program first, for messages. */
  readonly command: readonly string[];
  /** The guest console (stdout) with `serial: 'pipe'`, else null. Already flowing: earlier output is in serialText(). */
  readonly serial: Readable | null;
  /** Resolves when the process has exited and its output is fully read. Never rejects. */
  readonly exited: Promise<VmExit>;
  readonly #input: Writable | null;
  readonly #console: ConsoleBuffer;
  #stderr = '';
  #exit: VmExit | undefined;
  #spawnError: Error | undefined;

  /** Starts `file` with `args`; a failure to spawn shows in `spawnError` and `exited`, never as a throw. */
  static spawn(file: string, args: readonly string[], options: VmmProcessOptions = {}): VmmProcess {
    return new VmmProcess(file, args, options);
  }

  private constructor(file: string, args: readonly string[], options: VmmProcessOptions) {
    this.command = [file, ...args];
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [key, value] of Object.entries(options.env ?? {})) {
      if (value === undefined) delete env[key];
      else env[key] = value;
    }
    const serial = options.serial ?? 'pipe';
    const child = spawn(file, args, {
      stdio: [serial === 'pipe' ? 'pipe' : 'ignore', serial === 'pipe' ? 'pipe' : serial === 'inherit' ? 'inherit' : 'ignore', 'pipe'],
      env,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    this.process = child;
    this.serial = child.stdout;
    this.#input = child.stdin;
    // An exit is already in the message's first words; a running VMM's pid is context.
    this.#console = new ConsoleBuffer({ describe: () => `${this.#exit === undefined ? ` (${this.#state()})` : ''}; stderr tail: ${tail(this.#stderr)}` });
    trackChild(child);

    // Both pipes are always drained: a VMM blocked on a full pipe would look hung.
    if (child.stdout !== null) {
      const decoder = new StringDecoder('utf8');
      child.stdout.on('data', (chunk: Buffer) => this.#console.append(decoder.write(chunk)));
      child.stdout.on('end', () => this.#console.append(decoder.end()));
    }
    if (child.stderr !== null) {
      const decoder = new StringDecoder('utf8');
      child.stderr.on('data', (chunk: Buffer) => {
        this.#stderr = (this.#stderr + decoder.write(chunk)).slice(-MAX_STDERR_CHARS);
      });
    }
    // The VMM dying makes writes to its stdin fail with EPIPE; that is reported through `exited`.
    child.stdin?.on('error', () => {});

    this.exited = new Promise<VmExit>((resolveExit) => {
      const done = (exit: VmExit): void => {
        if (this.#exit !== undefined) return;
        this.#exit = exit;
        liveChildren.delete(child);
        this.#console.end(this.#spawnError === undefined ? `the VMM exited (${describeExit(exit)})` : `the VMM could not be spawned (${this.#spawnError.message})`);
        resolveExit(exit);
      };
      // 'close' comes after stdout and stderr end, so no console output is missed.
      child.on('close', (code, signal) => done({ code, signal }));
      // A spawn failure emits 'error' and no 'close'; other errors (a failed kill) end nothing.
      child.on('error', (err) => {
        if (child.pid !== undefined) return;
        this.#spawnError = err;
        done({ code: null, signal: null });
      });
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null && this.#exit === undefined;
  }

  /** How the process ended, or undefined while it runs. */
  get exitStatus(): VmExit | undefined {
    return this.#exit;
  }

  /** Why the process could not be started (ENOENT, EACCES), if it could not. */
  get spawnError(): Error | undefined {
    return this.#spawnError;
  }

  /** Everything the guest printed so far (up to the last 16 Mi characters). */
  serialText(): string {
    return this.#console.text;
  }

  /** The VMM's stderr so far (last 64 KiB): its log lines and fatal errors. */
  stderrText(): string {
    return this.#stderr;
  }

  /** Sends text to the guest console (the VMM's stdin). Only with `serial: 'pipe'`, and while it runs. */
  writeSerial(data: string | Uint8Array): void {
    if (this.#input === null) throw new SerialWaitError('not-piped', "writeSerial needs the console piped (serial: 'pipe')");
    if (this.#exit !== undefined || this.#input.destroyed) {
      throw new SerialWaitError('exited', `cannot write to the console: the VMM has exited (${this.#state()})`);
    }
    this.#input.write(data);
  }

  /**
   * Waits until console output not yet consumed matches `pattern`, like expect: the match and
   * everything before it are consumed, so the next wait only sees later output. The match's
   * `index` counts from the start of serialText(). Rejects with a SerialWaitError on timeout or
   * when the VMM exits first, quoting the tails of the console and of stderr.
   */
  waitForSerial(pattern: RegExp | string, timeoutMs = DEFAULT_WAIT_MS): Promise<RegExpExecArray> {
    if (this.serial === null) return Promise.reject(new SerialWaitError('not-piped', "waitForSerial needs the console piped (serial: 'pipe')"));
    return this.#console.wait(pattern, timeoutMs);
  }

  /** SIGKILLs the process if it still runs and waits for it to exit. Idempotent, never throws. */
  kill(): Promise<VmExit> {
    if (this.running && this.#spawnError === undefined) {
      try {
        this.process.kill('SIGKILL');
      } catch {
        // Already gone: 'close' still arrives.
      }
    }
    return this.exited;
  }

  #state(): string {
    if (this.#spawnError !== undefined) return `spawn failed: ${this.#spawnError.message}`;
    if (this.#exit === undefined) return `pid ${this.process.pid ?? '?'} running`;
    return describeExit(this.#exit);
  }
}

export function describeExit(exit: VmExit): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code ?? 'unknown'}`;
}
