// createVmm(): the VMM core in a worker thread of this process instead of a child process,
// driven over comlink with actions instead of HTTP. Same method names and results as launch()'s
// Vm for the VM lifecycle, and exec/spawn/files through the guest agent when the VM has a vsock.
// Pick it for start-up cost and no socket; pick launch() for isolation: a VMM crash (or an
// addon fault) takes this process with it here.
import { MessageChannel, Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { fromErrorData } from '@workervisor/base';
import { binding } from '@workervisor/native';
import type { ActionOf, ActionValue, VmmActionType } from '@workervisor/vmm-core';
import { AgentUnavailableError, type AgentInfo, type AgentProcess, type ExecOptions, type ExecResult, type SpawnOptions } from '@workervisor/agent';
import type { VmConfig, VmCounters, VmInfo, VmmPingResponse, VmSnapshotConfig } from './api-types.js';
import { portEndpoint } from './comlink-port.js';
import { agentFiles, GuestAgent, type GuestFiles } from './guest.js';
import type { InProcessApi } from './in-process-worker.js';
import { restoreConfig, snapshotVm, snapshotVsockSocket, type RestoreOptions, type SnapshotOptions } from './snapshot.js';

export interface CreateVmmOptions {
  /** What a guest reset does: end the VM (`exit`, default) or boot it again. */
  reboot?: 'exit' | 'restart';
  /** Restore the VM of this snapshot directory at once (running: see InProcessVmm.restore). */
  restore?: string;
}

export class InProcessVmm {
  /** Resolves with the exit status the VMM would have ended with: 0 power-off/reset, 3 panic, 1 failure. */
  readonly exited: Promise<number>;
  readonly files: GuestFiles;
  #agent: GuestAgent | undefined;
  #closed = false;

  /** @internal Use createVmm(). */
  constructor(
    private readonly worker: Worker,
    private readonly remote: Comlink.Remote<InProcessApi>,
    exited: Promise<number>,
  ) {
    this.exited = exited;
    this.files = agentFiles(() => this.#requireAgent());
  }

  async #do<T extends VmmActionType>(action: ActionOf<T>): Promise<ActionValue<T>> {
    const result = await this.remote.handle(action);
    if (!result.ok) throw fromErrorData(result.error);
    return result.value as ActionValue<T>;
  }

  ping(): Promise<VmmPingResponse> {
    return this.#do<'VmmPing'>({ type: 'VmmPing' });
  }

  /** vm.create; a `vsock` in the config is where exec/spawn/files reach the guest agent. */
  async create(config: VmConfig): Promise<void> {
    await this.#do<'VmCreate'>({ type: 'VmCreate', body: config });
    if (config.vsock !== undefined) this.#agent = new GuestAgent({ socketPath: config.vsock.socket });
  }

  async boot(): Promise<void> {
    await this.#do<'VmBoot'>({ type: 'VmBoot' });
  }

  info(): Promise<VmInfo> {
    return this.#do<'VmInfo'>({ type: 'VmInfo' });
  }

  counters(): Promise<VmCounters> {
    return this.#do<'VmCounters'>({ type: 'VmCounters' });
  }

  async pause(): Promise<void> {
    await this.#do<'VmPause'>({ type: 'VmPause' });
  }

  async resume(): Promise<void> {
    await this.#do<'VmResume'>({ type: 'VmResume' });
  }

  async shutdown(): Promise<void> {
    await this.#do<'VmShutdown'>({ type: 'VmShutdown' });
  }

  async reboot(): Promise<void> {
    await this.#do<'VmReboot'>({ type: 'VmReboot' });
  }

  async powerButton(): Promise<void> {
    await this.#do<'VmPowerButton'>({ type: 'VmPowerButton' });
  }

  /** vm.snapshot into a directory (or a VmSnapshotConfig); as Vm.snapshot, `pause` pauses a running VM for it. */
  snapshot(target: string | VmSnapshotConfig, options?: SnapshotOptions): Promise<void> {
    return snapshotVm({ info: () => this.info(), pause: () => this.pause(), resume: () => this.resume(), sendSnapshot: async (c) => void (await this.#do<'VmSnapshot'>({ type: 'VmSnapshot', body: c })) }, target, options);
  }

  /**
   * vm.restore of the snapshot in `dir` into this VMM (which has no VM yet): running unless
   * `resume: false`, as the SDK's restore(); exec/spawn/files reach the agent on the snapshot's vsock.
   */
  async restore(dir: string, options: RestoreOptions = {}): Promise<void> {
    const vsock = snapshotVsockSocket(dir);
    await this.#do<'VmRestore'>({ type: 'VmRestore', body: { ...restoreConfig(dir, options), resume: options.resume ?? true } });
    if (vsock !== undefined) this.#agent = new GuestAgent({ socketPath: vsock });
  }

  async delete(): Promise<void> {
    await this.#do<'VmDelete'>({ type: 'VmDelete' });
  }

  waitReady(): Promise<AgentInfo> {
    return this.#withAgent((a) => a.waitReady());
  }

  exec(command: string | readonly string[], options?: ExecOptions): Promise<ExecResult> {
    return this.#withAgent((a) => a.exec(command, options));
  }

  spawn(command: string | readonly string[], options?: SpawnOptions): Promise<AgentProcess> {
    return this.#withAgent((a) => a.spawn(command, options));
  }

  /** Stops the VM and ends the worker thread. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#agent?.close();
    const ended = new Promise((resolve) => this.worker.once('exit', resolve));
    try {
      await this.remote.close();
      this.remote[Comlink.releaseProxy]();
      // The worker ends on its own once its ports close; terminate() only if it does not.
      const timer = setTimeout(() => void this.worker.terminate(), 5000);
      await ended;
      clearTimeout(timer);
    } catch (err) {
      await this.worker.terminate();
      throw err;
    }
  }

  #requireAgent(): GuestAgent {
    if (this.#agent === undefined) throw new AgentUnavailableError('no-connection', 'this VM has no guest agent channel: give vm.create a vsock ({ cid, socket })');
    return this.#agent;
  }

  async #withAgent<T>(fn: (agent: GuestAgent) => Promise<T>): Promise<T> {
    return fn(this.#requireAgent());
  }
}

/** Starts the VMM core in a worker thread; resolves once it answers. */
export async function createVmm(options: CreateVmmOptions = {}): Promise<InProcessVmm> {
  // Node unloads an addon once the last thread that loaded it is gone, and guest RAM's deleter
  // lives in the addon: V8 may run it when the worker's heap is torn down, after the unload (a
  // segfault). Loading it here too keeps it mapped for the life of this process.
  binding();
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(new URL('./in-process-worker.js', import.meta.url), {
    workerData: { reboot: options.reboot ?? 'exit', exitPort: port2 },
    transferList: [port2],
  });
  const exited = new Promise<number>((resolve) => {
    port1.once('message', (code: number) => resolve(code));
    worker.once('exit', () => resolve(1));
  });
  port1.unref();
  const vmm = new InProcessVmm(worker, Comlink.wrap<InProcessApi>(portEndpoint(worker)), exited);
  try {
    await vmm.ping();
    if (options.restore !== undefined) await vmm.restore(options.restore);
  } catch (err) {
    await vmm.close().catch(() => undefined);
    throw err;
  }
  return vmm;
}
