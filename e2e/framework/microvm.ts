// A VMM child process under test: spawns the `workervisor` CLI, collects the guest's
// serial output (stdout) and the VMM's log (stderr), and drives the serial console.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cliPath, repoRoot } from './paths.js';

/** How to boot a guest; turned into CLI flags by {@link microvmArgs}. */
export interface MicrovmOptions {
  /** Kernel image: ELF (PVH or 64-bit entry) or bzImage. */
  kernel: string;
  initramfs?: string;
  cmdline?: string;
  /** Number of vCPUs (`--cpus N`). */
  cpus?: number;
  /** Guest RAM: a number of MiB, or a size string such as `'512M'` (`--memory`). */
  memory?: number | string;
  /** `--serial` mode; default `'tty'`, so {@link Microvm.writeSerial} reaches the guest. */
  serial?: string;
  /** API socket path; without it the VMM runs with `--no-api`. */
  apiSocket?: string;
  /** Flags appended as given, e.g. `['-v']`. */
  extraArgs?: readonly string[];
  /** Variables added to (or overriding) this process's environment. */
  env?: NodeJS.ProcessEnv;
}

/** How a process ended, as reported by the child's `close` event. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ExpectOptions {
  /** Give up after this long; default {@link DEFAULT_EXPECT_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/** Default wait of {@link Microvm.expectSerial}, in milliseconds. */
export const DEFAULT_EXPECT_TIMEOUT_MS = 10_000;
/** Default wait of {@link Microvm.waitExit}, in milliseconds. */
export const DEFAULT_EXIT_TIMEOUT_MS = 10_000;
/** Characters of serial output and of stderr quoted in failure messages. */
const TAIL_CHARS = 3_000;

/** The CLI flags for `options`, in the order the contract in packages/cli lists them. */
export function microvmArgs(options: MicrovmOptions): string[] {
  const args = ['--kernel', options.kernel];
  if (options.initramfs !== undefined) args.push('--initramfs', options.initramfs);
  if (options.cmdline !== undefined) args.push('--cmdline', options.cmdline);
  if (options.cpus !== undefined) args.push('--cpus', String(options.cpus));
  if (options.memory !== undefined) {
    args.push('--memory', typeof options.memory === 'number' ? `${options.memory}M` : options.memory);
  }
  args.push('--serial', options.serial ?? 'tty');
  if (options.apiSocket !== undefined) args.push('--api-socket', options.apiSocket);
  else args.push('--no-api');
  args.push(...(options.extraArgs ?? []));
  return args;
}

/** Every child not yet exited, so a crashing test run does not leave VMMs behind. */
const live = new Set<Microvm>();
let exitHookInstalled = false;

/**
 * One VMM process. `expectSerial` works like pexpect: each match consumes the output up to
 * its end, so the next call only sees what came after.
 *
 * ```ts
 * const vm = Microvm.spawn({ kernel: guestPath('hello.elf') });
 * afterEach(() => vm.kill());
 * await vm.expectSerial(/hello/);
 * expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
 * ```
 */
export class Microvm {
  /** argv of the child, for messages. */
  readonly command: readonly string[];
  readonly #child: ChildProcess;
  readonly #closed: Promise<ExitStatus>;
  #serial = '';
  #stderr = '';
  #cursor = 0;
  #status: ExitStatus | undefined;
  #spawnError: Error | undefined;
  readonly #waiters = new Set<() => void>();

  /** Starts the workervisor CLI with flags built from `options`. */
  static spawn(options: MicrovmOptions): Microvm {
    if (!existsSync(cliPath)) {
      throw new Error(`workervisor CLI not found at ${cliPath}; build it with \`npm run build\``);
    }
    const env = options.env === undefined ? {} : options.env;
    return Microvm.spawnCommand(process.execPath, [cliPath, ...microvmArgs(options)], { env });
  }

  /**
   * Starts any command as if it were a VMM: stdout is the serial output, stdin the serial
   * input. For other VMMs (QEMU as a reference) and for testing this class.
   */
  static spawnCommand(file: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Microvm {
    return new Microvm(file, args, options.env ?? {}, options.cwd ?? repoRoot);
  }

  private constructor(file: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd: string) {
    this.command = [file, ...args];
    this.#child = spawn(file, args, { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(this);
    installExitHook();
    this.#child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#serial += chunk;
      this.#notify();
    });
    this.#child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr += chunk;
    });
    // Writes racing the child's exit fail with EPIPE; writeSerial reports a dead child itself.
    this.#child.stdin?.on('error', () => {});
    this.#closed = new Promise((resolve) => {
      const finish = (status: ExitStatus): void => {
        if (this.#status !== undefined) return;
        this.#status = status;
        live.delete(this);
        resolve(status);
        this.#notify();
      };
      this.#child.on('error', (err) => {
        // Only a failed spawn ends the process here; other errors (kill failing) do not.
        if (this.#child.pid === undefined) {
          this.#spawnError = err;
          finish({ code: null, signal: null });
        }
      });
      // 'close' comes after stdout and stderr end, so no serial output is missed.
      this.#child.on('close', (code, signal) => finish({ code, signal }));
    });
  }

  /** Process id, or undefined if the spawn failed. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** All serial output so far (stdout of the VMM). */
  get serial(): string {
    return this.#serial;
  }

  /** All of the VMM's stderr so far (its log). */
  get stderr(): string {
    return this.#stderr;
  }

  /** How the process ended, or undefined while it runs. */
  get exitStatus(): ExitStatus | undefined {
    return this.#status;
  }

  /**
   * Waits until serial output after the previous match matches `pattern`. Resolves with the
   * match (its `index` counts from the start of all output); rejects on timeout or when the
   * process exits first, with the tails of serial output and stderr in the message.
   * Output arrives in pieces and `$` matches at the end of what has arrived so far: end a
   * whole-line pattern with `\r?\n`, not `$`.
   */
  expectSerial(pattern: RegExp, options: ExpectOptions = {}): Promise<RegExpExecArray> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_EXPECT_TIMEOUT_MS;
    // A g or y flag would make exec() depend on lastIndex.
    const regex = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
    const from = this.#cursor;
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const match = regex.exec(this.#serial.slice(from));
        if (match !== null) {
          match.index += from;
          this.#cursor = Math.max(this.#cursor, match.index + match[0].length);
          done();
          resolve(match);
        } else if (this.#status !== undefined) {
          done();
          reject(new Error(this.#describe(`${String(pattern)} not in serial output before the VMM exited`)));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(this.#describe(`${String(pattern)} not in serial output after ${timeoutMs} ms`)));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Types `text` into the guest's serial console (the VMM's stdin). */
  writeSerial(text: string): void {
    const stdin = this.#child.stdin;
    if (this.#status !== undefined || stdin === null || stdin.destroyed) {
      throw new Error(this.#describe('cannot write to the serial console: the VMM has exited'));
    }
    stdin.write(text);
  }

  /** Waits for the process to exit; rejects after `timeoutMs` (without killing it). */
  waitExit(timeoutMs: number = DEFAULT_EXIT_TIMEOUT_MS): Promise<ExitStatus> {
    if (this.#spawnError !== undefined) return Promise.reject(new Error(this.#describe('spawn failed')));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(this.#describe(`still running after ${timeoutMs} ms`))), timeoutMs);
    });
    return Promise.race([this.#closed, timeout]).finally(() => clearTimeout(timer));
  }

  /** SIGKILLs the process if it still runs and waits for it. Idempotent, never throws. */
  async kill(): Promise<ExitStatus> {
    if (this.#status === undefined) {
      try {
        this.#child.kill('SIGKILL');
      } catch {
        // Already gone: 'close' still arrives.
      }
    }
    return this.#closed;
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** `what` plus the state of the process and the tails of its output. */
  #describe(what: string): string {
    const state =
      this.#spawnError !== undefined
        ? `spawn failed: ${this.#spawnError.message}`
        : this.#status === undefined
          ? `pid ${this.#child.pid ?? '?'} running`
          : `exited with code ${this.#status.code} signal ${this.#status.signal}`;
    return [
      `${what} (${state}; command: ${this.command.map(quote).join(' ')})`,
      `--- serial output (last ${TAIL_CHARS} of ${this.#serial.length} chars) ---`,
      tail(this.#serial),
      `--- stderr (last ${TAIL_CHARS} of ${this.#stderr.length} chars) ---`,
      tail(this.#stderr),
    ].join('\n');
  }
}

/** `arg` as a shell would need it, for copy-pasting the command from a failure message. */
function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

function tail(text: string): string {
  return text.length <= TAIL_CHARS ? text : `...${text.slice(-TAIL_CHARS)}`;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const vm of live) void vm.kill();
  });
}
