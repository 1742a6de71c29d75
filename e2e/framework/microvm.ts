// A VMM child process under test: the SDK's launcher (spawnVmm / VmmProcess: spawn, console and
// stderr capture, expect, kill) with the e2e tests' names and failure messages that quote the command.
import { spawnVmm, vmmArgs, VmmProcess, type LaunchOptions, type SpawnVmmOptions } from '@workervisor/sdk';
import { cliPath, repoRoot } from './paths.js';

/** How to boot a guest; the SDK's spawnVmm options under the names the tests use. */
export interface MicrovmOptions {
  /** Kernel image: ELF (PVH or 64-bit entry) or bzImage. */
  kernel: string;
  initramfs?: string;
  cmdline?: string;
  /** Number of vCPUs (`--cpus boot=N`). */
  cpus?: number;
  /** Guest RAM, as in the SDK: a number of bytes, or a size string such as `'64M'` (`--memory size=`). */
  memory?: LaunchOptions['memory'];
  /** `--serial` mode (`tty`, `off`, `file=P`, `socket=P`, ...); default `'tty'`, so {@link Microvm.writeSerial} reaches the guest. */
  serial?: string;
  /** API socket path; without it the VMM runs with `--no-api`. */
  apiSocket?: string;
  /** Flags appended as given, e.g. `['-v']`. */
  extraArgs?: readonly string[];
  /** Variables added to (or, when undefined, removed from) this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** The CLI script; default the repository's `packages/cli/bin/workervisor.js`. */
  binary?: string;
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

/** `options` as the SDK's spawnVmm options. */
function spawnOptions(options: MicrovmOptions): SpawnVmmOptions {
  const pick = <K extends 'initramfs' | 'cmdline' | 'cpus' | 'memory' | 'apiSocket'>(key: K) => (options[key] === undefined ? {} : { [key]: options[key] });
  return {
    kernel: options.kernel,
    ...pick('initramfs'),
    ...pick('cmdline'),
    ...pick('cpus'),
    ...pick('memory'),
    ...pick('apiSocket'),
    binary: options.binary ?? cliPath,
    serial: 'pipe',
    // A --serial in the args replaces the SDK's --serial=tty.
    args: ['--serial', options.serial ?? 'tty', ...(options.extraArgs ?? [])],
    ...(options.env === undefined ? {} : { env: options.env }),
    cwd: repoRoot,
  };
}

/** The VMM's argv after `node` for `options` (the SDK's vmmArgs). */
export function microvmArgs(options: MicrovmOptions): string[] {
  const o = spawnOptions(options);
  return vmmArgs(o, o.apiSocket);
}

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
  readonly #vmm: VmmProcess;

  /** Starts the workervisor CLI with flags built from `options` (spawnVmm). */
  static spawn(options: MicrovmOptions): Microvm {
    return new Microvm(spawnVmm(spawnOptions(options)));
  }

  /**
   * Starts any command as if it were a VMM: stdout is the serial output, stdin the serial
   * input. For other VMMs (QEMU as a reference) and for testing this class.
   */
  static spawnCommand(file: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Microvm {
    return new Microvm(VmmProcess.spawn(file, args, { cwd: options.cwd ?? repoRoot, ...(options.env === undefined ? {} : { env: options.env }) }));
  }

  private constructor(vmm: VmmProcess) {
    this.#vmm = vmm;
  }

  /** argv of the child, for messages. */
  get command(): readonly string[] {
    return this.#vmm.command;
  }

  /** Process id, or undefined if the spawn failed. */
  get pid(): number | undefined {
    return this.#vmm.pid;
  }

  /** All serial output so far (stdout of the VMM). */
  get serial(): string {
    return this.#vmm.serialText();
  }

  /** All of the VMM's stderr so far (its log; the last 64 KiB). */
  get stderr(): string {
    return this.#vmm.stderrText();
  }

  /** How the process ended, or undefined while it runs. */
  get exitStatus(): ExitStatus | undefined {
    return this.#vmm.exitStatus;
  }

  /**
   * Waits until serial output after the previous match matches `pattern`. Resolves with the
   * match (its `index` counts from the start of all output); rejects on timeout or when the
   * process exits first, with the tails of serial output and stderr in the message.
   * Output arrives in pieces and `$` matches at the end of what has arrived so far: end a
   * whole-line pattern with `\r?\n`, not `$`.
   */
  async expectSerial(pattern: RegExp, options: ExpectOptions = {}): Promise<RegExpExecArray> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_EXPECT_TIMEOUT_MS;
    try {
      return await this.#vmm.waitForSerial(pattern, timeoutMs);
    } catch (err) {
      const what = (err as { kind?: string }).kind === 'timeout' ? `after ${timeoutMs} ms` : 'before the VMM exited';
      throw new Error(this.#describe(`${String(pattern)} not in serial output ${what}`), { cause: err });
    }
  }

  /** Types `text` into the guest's serial console (the VMM's stdin). */
  writeSerial(text: string): void {
    try {
      this.#vmm.writeSerial(text);
    } catch (err) {
      throw new Error(this.#describe('cannot write to the serial console: the VMM has exited'), { cause: err });
    }
  }

  /** Waits for the process to exit; rejects after `timeoutMs` (without killing it). */
  waitExit(timeoutMs: number = DEFAULT_EXIT_TIMEOUT_MS): Promise<ExitStatus> {
    if (this.#vmm.spawnError !== undefined) return Promise.reject(new Error(this.#describe('spawn failed')));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(this.#describe(`still running after ${timeoutMs} ms`))), timeoutMs);
    });
    return Promise.race([this.#vmm.exited, timeout]).finally(() => clearTimeout(timer));
  }

  /** SIGKILLs the process if it still runs and waits for it. Idempotent, never throws. */
  kill(): Promise<ExitStatus> {
    return this.#vmm.kill();
  }

  /** `what` plus the state of the process and the tails of its output. */
  #describe(what: string): string {
    const spawnError = this.#vmm.spawnError;
    const status = this.#vmm.exitStatus;
    const state =
      spawnError !== undefined
        ? `spawn failed: ${spawnError.message}`
        : status === undefined
          ? `pid ${this.#vmm.pid ?? '?'} running`
          : `exited with code ${status.code} signal ${status.signal}`;
    const serial = this.serial;
    const stderr = this.stderr;
    return [
      `${what} (${state}; command: ${this.command.map(quote).join(' ')})`,
      `--- serial output (last ${TAIL_CHARS} of ${serial.length} chars) ---`,
      tail(serial),
      `--- stderr (last ${TAIL_CHARS} of ${stderr.length} chars) ---`,
      tail(stderr),
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
