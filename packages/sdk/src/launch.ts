// Launches a VMM child process (`node <workervisor bin> --api-socket S [boot flags]`), waits for
// its API to answer, and hands back a Vm: the typed client plus the process and its serial console.
// The flags come from one translator (vmmArgs); spawnVmm starts a VMM without waiting for its API.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { VmmClient, type ConnectOptions } from './client.js';
import { ConnectionError, LaunchError } from './errors.js';
import { describeExit, VmmProcess, type VmExit, type VmmProcessOptions } from './vmm-process.js';
import { AgentUnavailableError, type AgentInfo, type AgentProcess, type ExecOptions, type ExecResult, type SpawnOptions } from '@workervisor/agent';
import { agentFiles, GuestAgent, type GuestFiles } from './guest.js';
import { restoreConfig, snapshotViewWithVsock, snapshotVsockSocket, type RestoreOptions } from './snapshot.js';

export type { VmExit } from './vmm-process.js';

/** Below this a `memory` number is surely MiB or GiB written as bytes (bytes). */
const MIN_MEMORY_BYTES = 1024 * 1024;

export interface LaunchOptions {
  /** Guest kernel (vmlinux ELF or bzImage). Without it the VMM starts with no VM: call create + boot. */
  kernel?: string;
  initramfs?: string;
  cmdline?: string;
  /** Boot vCPUs. */
  cpus?: number;
  /**
   * Guest RAM: a number of **bytes** (as the API's `memory.size`), or a CLI size such as `'512M'`
   * or `'1G'`. A number under 1 MiB is refused as a likely unit mistake (`64` is not 64 MiB).
   */
  memory?: number | string;
  /**
   * Where the guest console (the VMM's stdout) goes. `pipe` (default): `vm.serial`, `serialText()`,
   * `waitForSerial()`, and `writeSerial()` into the VMM's stdin. `inherit`: this process's stdout.
   * `off`: discarded (with boot flags the VMM is told `--serial off`).
   */
  serial?: 'pipe' | 'inherit' | 'off';
  /** API socket path. Default: `api.sock` in a fresh private directory under os.tmpdir(), removed on close. */
  apiSocket?: string;
  /** The CLI script to run with `node`. Default: `@workervisor/cli`'s `bin.workervisor`, or `$WORKERVISOR_BIN`. */
  binary?: string;
  /** Extra CLI arguments, appended after the generated ones (e.g. `['-vv', '--reboot', 'restart']`). */
  args?: string[];
  /** Variables added to (or, when undefined, removed from) this process's environment for the child. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Milliseconds until the API must answer ping. Default 15 000. */
  startTimeoutMs?: number;
  /** Milliseconds close() waits for a graceful exit before SIGKILL. Default 5 000. */
  closeTimeoutMs?: number;
  /** Options of the API client. */
  connect?: ConnectOptions;
  /**
   * Give the guest a virtio-vsock for its agent (packages/agent, which the guest image starts on
   * vsock port 52): `vm.exec()`, `vm.spawn()`, `vm.files` and `vm.waitReady()` then work. `true`
   * puts the vsock socket in the Vm's private directory with guest CID 3. Needs `kernel`.
   */
  agent?: boolean | AgentLaunchOptions;
  /**
   * Restore the VM from this snapshot directory (vm.snapshot's) instead of booting one: the VMM
   * starts with no VM, then `vm.restore` builds it, running unless `resume: false`. The machine
   * (kernel, cpus, memory, devices) is the snapshot's, so those options are refused beside it;
   * `agent: true` reaches the agent on the vsock socket the snapshot's config names.
   */
  restore?: string | RestoreSource;
}

/** A snapshot directory and how to restore it. */
export interface RestoreSource extends RestoreOptions {
  dir: string;
  /**
   * Give the restored VM its own vsock socket (in the Vm's private directory) instead of the one
   * in the snapshot's config, so any number of clones of one snapshot can run at once with their
   * agents. The restore reads a private view of the snapshot (snapshotViewWithVsock). Default false.
   */
  ownVsock?: boolean;
}

export interface AgentLaunchOptions {
  /** Guest CID. Default 3. */
  cid?: number;
  /** The VMM's hybrid vsock socket. Default: `vsock.sock` in the Vm's private directory. */
  socket?: string;
  /** The agent's vsock port. Default 52. */
  port?: number;
  /** How long vm.exec() and friends wait for the guest's agent to answer. Default 120 000 ms. */
  readyTimeoutMs?: number;
}

const DEFAULT_START_TIMEOUT_MS = 15_000;
const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;

/**
 * A launched VMM: the API client (every VmmClient method) plus the child process and its console.
 * Always `close()` it (idempotent): vmm.shutdown, then SIGKILL after `closeTimeoutMs`.
 */
export class Vm extends VmmClient {
  /** The child: its console, stderr, exit (the Vm's own methods below delegate to it). */
  readonly vmm: VmmProcess;
  /** The guest agent, when launched with `agent`. */
  readonly agent: GuestAgent | undefined;
  /** Files in the guest, through its agent (launch with `agent`). */
  readonly files: GuestFiles;
  readonly #tempDir: string | undefined;
  readonly #closeTimeoutMs: number;
  #closing: Promise<VmExit> | undefined;

  /** @internal Use launch(). */
  constructor(vmm: VmmProcess, socketPath: string, options: { tempDir?: string; closeTimeoutMs?: number; connect?: ConnectOptions; agent?: GuestAgent }) {
    super(socketPath, options.connect);
    this.vmm = vmm;
    this.agent = options.agent;
    this.files = agentFiles(() => this.#requireAgent());
    this.#tempDir = options.tempDir;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  }

  get process(): ChildProcess {
    return this.vmm.process;
  }

  /**
   * The guest console (the VMM's stdout) when `serial: 'pipe'`, else null. Already flowing: output
   * before your listener attaches is in serialText().
   */
  get serial(): Readable | null {
    return this.vmm.serial;
  }

  /** Resolves when the process has exited and its output is fully read. Never rejects. */
  get exited(): Promise<VmExit> {
    return this.vmm.exited;
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.vmm.running;
  }

  /** Everything the guest printed so far (up to the last 16 Mi characters). */
  serialText(): string {
    return this.vmm.serialText();
  }

  /** The VMM's stderr so far (last 64 KiB): its log lines and fatal errors. */
  stderrText(): string {
    return this.vmm.stderrText();
  }

  /** Sends text to the guest console (the VMM's stdin). Only with `serial: 'pipe'`. */
  writeSerial(data: string | Uint8Array): void {
    this.vmm.writeSerial(data);
  }

  /**
   * Waits until console output not yet consumed matches `pattern`, like expect: the match and
   * everything before it are consumed, so the next wait only sees later output. Rejects with a
   * SerialWaitError on timeout or when the VMM exits first, quoting the console's tail.
   */
  waitForSerial(pattern: RegExp | string, timeoutMs = 30_000): Promise<RegExpExecArray> {
    return this.vmm.waitForSerial(pattern, timeoutMs);
  }

  /** Waits until the guest's agent answers (the guest has booted that far); what it says about the guest. */
  waitReady(): Promise<AgentInfo> {
    return this.#withAgent((a) => a.waitReady());
  }

  /** Runs a command in the guest through its agent; a string runs under `/bin/sh -c`. */
  exec(command: string | readonly string[], options?: ExecOptions): Promise<ExecResult> {
    return this.#withAgent((a) => a.exec(command, options));
  }

  /** Starts a command in the guest with streamed stdout/stderr (and stdin with `stdin: true`). */
  spawn(command: string | readonly string[], options?: SpawnOptions): Promise<AgentProcess> {
    return this.#withAgent((a) => a.spawn(command, options));
  }

  #requireAgent(): GuestAgent {
    if (this.agent === undefined) throw new AgentUnavailableError('no-connection', 'this VM has no guest agent channel; launch it with { agent: true }');
    return this.agent;
  }

  #withAgent<T>(fn: (agent: GuestAgent) => Promise<T>): Promise<T> {
    try {
      return fn(this.#requireAgent());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * As VmmClient's, but a lost connection to a VMM that has exited (or exits within a second)
   * says how it ended and what it printed last, instead of only "closed the connection".
   */
  override async request(method: Parameters<VmmClient['request']>[0], route: string, body?: unknown): Promise<unknown> {
    try {
      return await super.request(method, route, body);
    } catch (err) {
      if (!(err instanceof ConnectionError) || err.kind === 'client-closed') throw err;
      let timer: NodeJS.Timeout | undefined;
      const exit = await Promise.race([this.exited, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 1000)))]);
      clearTimeout(timer);
      if (exit === undefined) throw err;
      throw new ConnectionError(err.kind, this.socketPath, route, err.cause, { exit: describeExit(exit), stderr: this.stderrText() });
    }
  }

  /**
   * Stops the VMM: `vmm.shutdown` if it is running, then waits up to `closeTimeoutMs` for it to
   * exit, then SIGKILL. Closes the API client and removes the temporary socket directory.
   * Idempotent; how the process ended is in `exited`.
   */
  override async close(): Promise<void> {
    this.#closing ??= this.#stop(true);
    await this.#closing;
  }

  /** SIGKILLs the VMM without asking, then cleans up as close() does. */
  kill(): Promise<VmExit> {
    this.#closing ??= this.#stop(false);
    return this.#closing;
  }

  async #stop(graceful: boolean): Promise<VmExit> {
    this.agent?.close();
    if (this.running && graceful) {
      // The VMM may drop the connection instead of answering while it exits: that is fine.
      const asked = this.shutdownVmm().catch(() => {});
      await withTimeout(Promise.race([asked, this.exited]), this.#closeTimeoutMs);
      await withTimeout(this.exited, this.#closeTimeoutMs);
    }
    const exit = await this.vmm.kill();
    await super.destroy();
    if (this.#tempDir !== undefined) rmSync(this.#tempDir, { recursive: true, force: true });
    return exit;
  }
}

/** Options of spawnVmm: launch's, but the API socket is optional and nothing waits for it. */
export type SpawnVmmOptions = Omit<LaunchOptions, 'apiSocket' | 'startTimeoutMs' | 'closeTimeoutMs' | 'connect' | 'restore'> & {
  /** Serve the API on this socket; absent: the VMM runs with `--no-api`. */
  apiSocket?: string;
};

/**
 * The VMM's argv after `node`: the CLI script, the API flag (`--api-socket=S`, or `--no-api` when
 * `apiSocket` is undefined), the boot flags (bootFlags) and `options.args`. The one translation of
 * these options into flags.
 */
export function vmmArgs(options: Omit<SpawnVmmOptions, 'apiSocket'>, apiSocket: string | undefined, binary = options.binary ?? resolveCliBinary()): string[] {
  const bootArgs = bootFlags(options);
  return [binary, apiSocket === undefined ? '--no-api' : `--api-socket=${apiSocket}`, ...bootArgs, ...(options.args ?? [])];
}

/**
 * Starts a VMM without waiting for anything: the process, its console and its exit. For a VMM
 * with no API (`--no-api`) or whose start-up itself is under test; launch() when you want the API.
 */
export function spawnVmm(options: SpawnVmmOptions): VmmProcess {
  const argv = vmmArgs(options, options.apiSocket);
  const binary = argv[0] as string;
  if (!existsSync(binary)) throw new LaunchError('no-binary', `the VMM binary ${binary} does not exist; build the CLI (npm run build) or pass { binary }`);
  return VmmProcess.spawn(process.execPath, argv, processOptions(options));
}

function processOptions(options: SpawnVmmOptions): VmmProcessOptions {
  return {
    serial: options.serial ?? 'pipe',
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  };
}

/**
 * Starts a VMM and resolves once its API answers ping. With `kernel` the VM boots from flags;
 * without it the VMM waits for `create()` + `boot()`. Rejects with a LaunchError (quoting the
 * child's stderr) if the VMM exits or does not answer within `startTimeoutMs`.
 */
export async function launch(options: LaunchOptions = {}): Promise<Vm> {
  // Bad options are refused before a temporary directory or a process exists.
  const source = restoreSource(options);
  bootFlags(source === undefined ? options : { ...options, agent: false });
  const binary = options.binary ?? resolveCliBinary();
  if (!existsSync(binary)) throw new LaunchError('no-binary', `the VMM binary ${binary} does not exist; build the CLI (npm run build) or pass launch({ binary })`);

  const agentOptions = options.agent === true ? {} : options.agent === false ? undefined : options.agent;
  let tempDir: string | undefined;
  const privateDir = (): string => (tempDir ??= mkdtempSync(join(tmpdir(), 'workervisor-')));
  // A restored VM's vsock is the snapshot's (its socket is in the snapshot's config), or with
  // ownVsock a private one, through a view of the snapshot whose config names it.
  let restoreDir = source?.dir;
  let restoredVsock: string | undefined;
  if (source?.ownVsock === true) {
    restoredVsock = join(privateDir(), 'vsock.sock');
    restoreDir = snapshotViewWithVsock(source.dir, join(privateDir(), 'snapshot'), restoredVsock);
  } else if (source !== undefined && agentOptions !== undefined) {
    restoredVsock = restoredAgentSocket(source.dir);
  }
  const socketPath = options.apiSocket ?? join(privateDir(), 'api.sock');
  let args = options.args ?? [];
  let agent: GuestAgent | undefined;
  if (agentOptions !== undefined) {
    const vsockSocket = restoredVsock ?? agentOptions.socket ?? join(privateDir(), 'vsock.sock');
    if (restoredVsock === undefined) args = [...args, `--vsock=cid=${agentOptions.cid ?? 3},socket=${vsockSocket}`];
    agent = new GuestAgent({
      socketPath: vsockSocket,
      ...(agentOptions.port === undefined ? {} : { port: agentOptions.port }),
      ...(agentOptions.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: agentOptions.readyTimeoutMs }),
    });
  }
  const child = VmmProcess.spawn(process.execPath, vmmArgs({ ...options, args, ...(source === undefined ? {} : { agent: false }) }, socketPath, binary), processOptions(options));
  const vm = new Vm(child, socketPath, {
    ...(agent === undefined ? {} : { agent }),
    ...(tempDir === undefined ? {} : { tempDir }),
    ...(options.closeTimeoutMs === undefined ? {} : { closeTimeoutMs: options.closeTimeoutMs }),
    ...(options.connect === undefined ? {} : { connect: options.connect }),
  });
  try {
    await waitUntilReady(vm, options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    if (source !== undefined && restoreDir !== undefined) await vm.restore({ ...restoreConfig(restoreDir, source), resume: source.resume ?? true });
  } catch (err) {
    await vm.kill();
    throw err;
  }
  return vm;
}

/**
 * Restores the VM of the snapshot in `dir` into a new VMM (launch({ restore })): running unless
 * `resume: false`, with the same Vm a boot gives. Clones: any number of VMMs may restore one
 * snapshot at once; they share its unchanged memory pages.
 */
export function restore(dir: string, options: Omit<LaunchOptions, 'restore'> & Omit<RestoreSource, 'dir'> = {}): Promise<Vm> {
  const { prefault, resume, ownVsock, ...rest } = options;
  return launch({ ...rest, restore: { dir, ...(prefault === undefined ? {} : { prefault }), ...(resume === undefined ? {} : { resume }), ...(ownVsock === undefined ? {} : { ownVsock }) } });
}

/** launch()'s `restore`, checked against the options a snapshot fixes. */
function restoreSource(options: LaunchOptions): RestoreSource | undefined {
  if (options.restore === undefined) return undefined;
  const source = typeof options.restore === 'string' ? { dir: options.restore } : options.restore;
  if (typeof source.dir !== 'string' || source.dir === '') throw new LaunchError('invalid-options', 'launch({ restore }) needs a snapshot directory');
  for (const key of ['kernel', 'initramfs', 'cmdline', 'cpus', 'memory'] as const) {
    if (options[key] !== undefined) throw new LaunchError('invalid-options', `launch({ restore, ${key} }): a restored VM's ${key} is the snapshot's; leave ${key} out`);
  }
  if (typeof options.agent === 'object' && (options.agent.socket !== undefined || options.agent.cid !== undefined)) {
    throw new LaunchError('invalid-options', "launch({ restore, agent: { socket, cid } }): a restored VM's vsock is the snapshot's; give only port or readyTimeoutMs");
  }
  return source;
}

/** The vsock socket of a snapshot's VM, for its agent; LaunchError when it has none. */
function restoredAgentSocket(dir: string): string {
  const socket = snapshotVsockSocket(dir);
  if (socket === undefined) throw new LaunchError('invalid-options', `launch({ restore, agent }): the VM snapshotted in ${dir} has no vsock, so no agent can be reached`);
  return socket;
}

/** Polls ping with backoff (10 ms doubling to 250 ms) until it answers, the child exits, or time runs out. */
async function waitUntilReady(vm: Vm, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 10;
  let lastError: unknown;
  for (;;) {
    if (!vm.running) {
      const exit = await vm.exited;
      throw new LaunchError('exited', `the VMM exited (${describeExit(exit)}) before its API answered at ${vm.socketPath}; stderr: ${vm.stderrText().trim() || '(empty)'}`, { stderr: vm.stderrText() });
    }
    try {
      const pong = await vm.ping();
      if (pong.pid !== undefined && pong.pid !== vm.process.pid) {
        throw new LaunchError('socket-taken', `another VMM (pid ${pong.pid}) already answers on ${vm.socketPath}; pass a fresh apiSocket`);
      }
      return;
    } catch (err) {
      // Not listening yet (no socket file, or bound but not accepting): keep polling.
      if (!(err instanceof ConnectionError)) throw err;
      lastError = err;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new LaunchError('timeout', `the VMM's API did not answer at ${vm.socketPath} within ${timeoutMs} ms; stderr: ${vm.stderrText().trim() || '(empty)'}`, { cause: lastError, stderr: vm.stderrText() });
    }
    await withTimeout(vm.exited, Math.min(delay, left));
    delay = Math.min(delay * 2, 250);
  }
}

/** The CLI flags that make the VMM boot a VM at start; none without a kernel. */
export function bootFlags(options: LaunchOptions): string[] {
  if (options.kernel === undefined) {
    for (const key of ['initramfs', 'cmdline', 'cpus', 'memory', 'agent'] as const) {
      if (key === 'agent' && (options.agent === undefined || options.agent === false)) continue;
      if (options[key] !== undefined) {
        throw new LaunchError('invalid-options', `launch({ ${key} }) needs kernel: without a kernel the VMM starts with no VM; pass these in create() instead`);
      }
    }
    return [];
  }
  const args = [`--kernel=${options.kernel}`];
  if (options.initramfs !== undefined) args.push(`--initramfs=${options.initramfs}`);
  if (options.cmdline !== undefined) args.push(`--cmdline=${options.cmdline}`);
  if (options.cpus !== undefined) {
    if (!Number.isInteger(options.cpus) || options.cpus < 1) throw new LaunchError('invalid-options', `launch({ cpus: ${options.cpus} }): must be a positive integer`);
    args.push(`--cpus=boot=${options.cpus}`);
  }
  if (options.memory !== undefined) {
    if (typeof options.memory === 'number' && (!Number.isSafeInteger(options.memory) || options.memory <= 0)) {
      throw new LaunchError('invalid-options', `launch({ memory: ${options.memory} }): must be a positive number of bytes or a size such as '512M'`);
    }
    if (typeof options.memory === 'number' && options.memory < MIN_MEMORY_BYTES) {
      throw new LaunchError('invalid-options', `launch({ memory: ${options.memory} }): memory is in bytes, and ${options.memory} bytes is under 1 MiB; write '${options.memory}M' for ${options.memory} MiB`);
    }
    args.push(`--memory=size=${options.memory}`);
  }
  // A --serial in the extra args (file=..., socket=...) wins; the CLI rejects a flag given twice.
  const userSerial = (options.args ?? []).some((a) => a === '--serial' || a.startsWith('--serial='));
  if (!userSerial) args.push(options.serial === 'off' ? '--serial=off' : '--serial=tty');
  return args;
}

/**
 * Path of the `workervisor` CLI script: `$WORKERVISOR_BIN`, else `bin.workervisor` of the
 * `@workervisor/cli` package found the way Node looks packages up from this module. (The package's
 * `exports` hides package.json from require.resolve, so the node_modules directories are searched.)
 */
export function resolveCliBinary(): string {
  const fromEnv = process.env['WORKERVISOR_BIN'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const require = createRequire(import.meta.url);
  const searched = require.resolve.paths('@workervisor/cli') ?? [];
  for (const dir of searched) {
    const pkgPath = join(dir, '@workervisor', 'cli', 'package.json');
    if (!existsSync(pkgPath)) continue;
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { bin?: string | Record<string, string> };
    const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.['workervisor'];
    if (bin === undefined) break;
    return resolve(dirname(pkgPath), bin);
  }
  throw new LaunchError('no-binary', `cannot find the @workervisor/cli package (searched ${searched.length} node_modules directories from ${dirname(new URL(import.meta.url).pathname)}); pass launch({ binary }) or set WORKERVISOR_BIN`);
}

/** Waits for `promise` or `ms`, whichever is first; the timer never outlives the wait. */
async function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<void>((res) => {
    timer = setTimeout(res, ms);
  });
  try {
    await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
