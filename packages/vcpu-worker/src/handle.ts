// VcpuHandle: the core's side of one vCPU worker, and the only code that touches Worker.
// Each request gets a fresh MessageChannel; its port2 travels with the command and carries the
// one reply. Requests that must reach a running vCPU are followed by a kick.
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { fromErrorData, logFileDescriptor, logLevel, type LogLevel } from '@workervisor/base';
import type { VmFd } from '@workervisor/native';
import { VcpuError } from './error.js';
import type { PortHandling, VcpuCommand, VcpuEvent, VcpuReply, VcpuSnapshot, VcpuState, VcpuStats, VcpuWorkerData } from './protocol.js';

export { VcpuError } from './error.js';

/** How long a worker's first answer may take (thread start-up + module loading), in ms. */
export const STARTUP_TIMEOUT_MS = 120_000;

export interface VcpuHandleOptions {
  id: number;
  vm: VmFd;
  mmapSize: number;
  memory: SharedArrayBuffer;
  regions: Array<{ gpa: number; offset: number; size: number }>;
  /** The core's ExitServer hub id; the vCPU forwards its port/MMIO exits through its slot `id`. */
  exitHubId: number;
  onEvent: (event: VcpuEvent) => void;
  logLevel?: LogLevel;
  /** The log file's fd; defaults to this thread's (logFileDescriptor), stderr when it has none. */
  logFd?: number;
  /** Milliseconds to wait for any reply before failing (default 10 s). */
  timeoutMs?: number;
  /** A seccomp program (struct sock_filter[]) the worker installs on its thread before its first KVM_RUN. */
  seccompFilter?: Uint8Array;
}

/** A command without its reply port (request() adds one). */
type CommandBody = VcpuCommand extends infer C ? (C extends VcpuCommand ? Omit<C, 'reply'> : never) : never;

const WORKER_URL = new URL('./worker.js', import.meta.url);

export class VcpuHandle {
  readonly id: number;
  private readonly worker: Worker;
  private readonly control: MessagePort;
  private readonly events: MessagePort;
  private readonly vm: VmFd;
  private readonly timeoutMs: number;
  private exited = false;
  /** Whether the worker has answered once: until then its thread start-up counts against the wait. */
  private answered = false;
  /** Rejecters of requests still waiting for a reply, called if the worker exits first. */
  private readonly pending = new Set<() => void>();
  /** The error that ended the worker, if one did. */
  private failure: Error | undefined;
  /** Resolves when the worker thread has ended. */
  readonly exit: Promise<number>;

  constructor(opts: VcpuHandleOptions) {
    this.id = opts.id;
    this.vm = opts.vm;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    const control = new MessageChannel();
    const events = new MessageChannel();
    this.control = control.port1;
    this.events = events.port1;
    const logFd = opts.logFd ?? logFileDescriptor();
    const workerData: VcpuWorkerData = {
      id: opts.id,
      vmFd: opts.vm.fd,
      mmapSize: opts.mmapSize,
      memory: opts.memory,
      regions: opts.regions,
      exitHubId: opts.exitHubId,
      control: control.port2,
      events: events.port2,
      logLevel: opts.logLevel ?? logLevel(),
      ...(logFd === undefined ? {} : { logFd }),
      ...(opts.seccompFilter === undefined ? {} : { seccompFilter: opts.seccompFilter }),
    };
    // --input-type (from `node -e` parents) would make the worker's own module fail to load.
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
    this.worker = new Worker(WORKER_URL, { workerData, transferList: [control.port2, events.port2], name: `vcpu${opts.id}`, execArgv });
    this.events.on('message', (e: VcpuEvent) => opts.onEvent(e));
    this.exit = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        this.exited = true;
        for (const reject of [...this.pending]) reject();
        this.events.close();
        this.control.close();
        resolve(code);
      });
    });
    this.worker.on('error', (err) => {
      this.failure = err;
      opts.onEvent({ type: 'failed', id: opts.id, error: { name: err.name, code: 'ERR_VMM_VCPU_WORKER_FAILED', kind: 'worker-failed', message: err.message } });
    });
  }

  /** Sends a command with a fresh reply port and waits for its one reply. */
  private request<T>(body: CommandBody, kick: boolean): Promise<T> {
    if (this.exited) return Promise.reject(new VcpuError('finished', `vCPU ${this.id} worker has exited`));
    const { port1, port2 } = new MessageChannel();
    return new Promise<T>((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        port1.close();
        this.pending.delete(onExit);
      };
      // A worker's first answer waits for its thread to start and load its modules: ~100 ms on a
      // quiet host, but over 10 s for 4 workers on a 2-vCPU nested-KVM host under TCG (measured).
      const waitMs = this.answered ? this.timeoutMs : Math.max(this.timeoutMs, STARTUP_TIMEOUT_MS);
      const timer = setTimeout(() => {
        settle();
        reject(new VcpuError('timeout', `vCPU ${this.id} did not answer ${body.type} within ${waitMs} ms`));
      }, waitMs);
      const onExit = (): void => {
        settle();
        const why = this.failure === undefined ? '' : `: ${this.failure.message}`;
        reject(new VcpuError('finished', `vCPU ${this.id} worker exited before answering ${body.type}${why}`, { cause: this.failure }));
      };
      port1.once('message', (reply: VcpuReply) => {
        settle();
        this.answered = true;
        if (reply.ok) resolve(reply.value as T);
        else reject(fromErrorData(reply.error));
      });
      this.pending.add(onExit);
      this.control.postMessage({ ...body, reply: port2 }, [port2]);
      if (kick) this.vm.kickVcpu(this.id);
    });
  }

  getState(msrIndices?: number[]): Promise<VcpuState> {
    return this.request({ type: 'get-state', ...(msrIndices === undefined ? {} : { msrIndices }) }, true);
  }

  setState(state: VcpuState): Promise<void> {
    return this.request({ type: 'set-state', state }, true);
  }

  /** The vCPU's whole state for a snapshot (VcpuSnapshot); rejects unless it is paused. */
  saveSnapshot(msrIndices: number[], hasXsave: boolean): Promise<VcpuSnapshot> {
    return this.request({ type: 'save-snapshot', msrIndices, hasXsave }, true);
  }

  /** Writes a snapshot's state into a vCPU that has not run yet (or is paused). */
  restoreSnapshot(snapshot: VcpuSnapshot): Promise<void> {
    return this.request({ type: 'restore-snapshot', snapshot }, true);
  }

  /** Starts or continues running the guest. */
  resume(): Promise<string> {
    return this.request({ type: 'resume' }, false);
  }

  /** Returns once the vCPU is out of KVM_RUN and parked. */
  pause(): Promise<string> {
    return this.request({ type: 'pause' }, true);
  }

  stats(): Promise<VcpuStats> {
    return this.request({ type: 'stats' }, true);
  }

  readMemory(gpa: number, length: number): Promise<Uint8Array> {
    return this.request({ type: 'read-memory', gpa, length }, true);
  }

  setPortHandling(port: number, handling: PortHandling): Promise<void> {
    return this.request({ type: 'set-port-handling', port, handling }, true);
  }

  /**
   * Stops the vCPU for good: sticky native stop (so KVM_RUN cannot be re-entered), a stop command,
   * then the worker's exit; terminate() only if it does not end by itself.
   */
  async stop(): Promise<void> {
    this.vm.stopVcpu(this.id);
    if (!this.exited) {
      try {
        await this.request({ type: 'stop' }, true);
      } catch {
        // Already finishing: the exit wait below decides.
      }
    }
    const timer = setTimeout(() => void this.worker.terminate(), 2_000);
    await this.exit;
    clearTimeout(timer);
  }
}
