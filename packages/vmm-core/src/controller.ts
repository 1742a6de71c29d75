// Vmm: the VM lifecycle (Cloud Hypervisor's: no VM -> Created -> Running <-> Paused; shutdown drops
// the running machine and keeps its config) and the API backend every control path goes through.
import { ApiError, ok, fail, notSupported, type ApiBackend, type ApiRequest, type ApiResponse } from '@workervisor/api/core';
import type { VmConfig, VmInfo, VmState } from '@workervisor/schema';
import { createLogger, type LogLevel } from '@workervisor/base';
import { buildMachine } from './builder.js';
import { resolveMachineConfig } from './config/resolve.js';
import type { GuestExit, Machine } from './machine.js';

const log = createLogger('vmm');

export const VERSION = '0.1.0';

/** The VMM's exit code when the guest kernel panicked (pvpanic); 0 is a clean reset or power-off. */
export const GUEST_PANIC_EXIT_CODE = 3;

/** What a guest reset does: end the VMM (Firecracker's behaviour) or boot the VM again. */
export type RebootPolicy = 'exit' | 'restart';

export interface VmmOptions {
  reboot: RebootPolicy;
  /** Called when the VMM process should end, with its exit code (guest exit, vmm.shutdown). */
  onExit: (code: number) => void;
  logLevel?: LogLevel;
  /** Receives each machine right after it is built (benchmarks, tests). */
  onMachine?: (machine: Machine) => void;
}

/** Error codes that mean "the VM's config or its files are unusable": a 400 for the API, not a 500. */
const CONFIG_ERROR_CODE = /^ERR_VMM_(LOADER|X86|ACPI|GUEST_MEMORY|HOST_FILE|DISK_LOCK)_|^ERR_VMM_BUILD_(DISK_UNREADABLE|NET_UNAVAILABLE)$/;

function asConfigError(err: unknown): unknown {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && CONFIG_ERROR_CODE.test(code)) {
    return new ApiError('invalid-config', (err as Error).message, { cause: err, details: { cause: code } });
  }
  return err;
}

export class Vmm implements ApiBackend {
  private config: VmConfig | undefined;
  /** `config` with the spec's defaults, for vm.info (computed off the boot path). */
  private configWithDefaults: Promise<VmConfig> | undefined;
  private machine: Machine | undefined;
  private paused = false;
  /** Device counters of the last machine, taken as it stopped (Firecracker's metrics at exit). */
  private finalCounters: Record<string, Record<string, number>> | undefined;
  /** Serializes lifecycle changes: API calls and guest exits never interleave. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: VmmOptions) {}

  get state(): VmState | undefined {
    if (this.config === undefined) return undefined;
    if (this.machine === undefined) return 'Created';
    return this.paused ? 'Paused' : 'Running';
  }

  /** Counters of the running machine, or of the last one as it stopped. */
  counters(): Record<string, Record<string, number>> | undefined {
    return this.machine?.counters() ?? this.finalCounters;
  }

  /** The running machine, if any. */
  get current(): Machine | undefined {
    return this.machine;
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async handle(request: ApiRequest): Promise<ApiResponse> {
    try {
      return await this.serialize(() => this.dispatch(request));
    } catch (err) {
      return fail(err);
    }
  }

  private async dispatch(request: ApiRequest): Promise<ApiResponse> {
    switch (request.type) {
      case 'VmmPing':
        return ok({ build_version: VERSION, version: VERSION, pid: process.pid, features: ['kvm', 'acpi', 'pvh', 'bzimage'] });
      case 'VmmShutdown':
        await this.stopMachine();
        setImmediate(() => this.options.onExit(0));
        return ok();
      case 'VmCreate':
        await this.create(request.body);
        return ok();
      case 'VmBoot':
        await this.boot();
        return ok();
      case 'VmInfo':
        return ok(await this.info());
      case 'VmPause':
        await this.pause();
        return ok();
      case 'VmResume':
        await this.resume();
        return ok();
      case 'VmShutdown':
        this.requireBooted('shut down');
        await this.stopMachine();
        return ok();
      case 'VmReboot':
        this.requireBooted('reboot');
        await this.stopMachine();
        await this.boot();
        return ok();
      case 'VmDelete':
        await this.stopMachine();
        this.config = undefined;
        this.configWithDefaults = undefined;
        return ok();
      case 'VmCounters':
        return ok(this.requireBooted('report counters for').counters());
      case 'VmPowerButton':
        this.requireBooted('press the power button of').powerButton();
        return ok();
      case 'VmNmi':
        return notSupported(request);
      case 'VmSnapshot':
      case 'VmRestore':
      case 'VmCoredump':
      case 'VmSendMigration':
      case 'VmReceiveMigration':
        return notSupported(request, 'device state save/restore is not implemented yet');
      case 'VmResize':
      case 'VmResizeZone':
      case 'VmResizeDisk':
        return notSupported(request, 'no CPU, memory or disk hotplug yet');
      default:
        return notSupported(request, 'device hotplug is not implemented yet');
    }
  }

  /**
   * vm.create: validates and keeps the config. The spec's defaults (for vm.info) are applied in
   * the background: they need the TypeBox schemas (~190 ms to load), and booting does not, since
   * resolveMachineConfig's fallbacks are those defaults.
   */
  async create(config: VmConfig): Promise<void> {
    if (this.config !== undefined) throw new ApiError('vm-already-created', 'a VM is already created; delete it first (vm.delete)');
    resolveMachineConfig(config);
    this.config = config;
    this.configWithDefaults = import('@workervisor/schema').then((schema) => schema.withDefaults(config));
    // Reported when vm.info awaits it; never an unhandled rejection before that.
    this.configWithDefaults.catch(() => undefined);
    log.info('VM created');
  }

  /** vm.boot: builds the machine from the config and starts every vCPU. */
  async boot(): Promise<void> {
    if (this.config === undefined) throw new ApiError('vm-not-created', 'no VM is created; call vm.create first');
    if (this.machine !== undefined) throw new ApiError('invalid-state', `the VM is already ${this.state === 'Paused' ? 'booted and paused' : 'running'}`);
    const resolved = resolveMachineConfig(this.config);
    if (this.options.logLevel !== undefined) resolved.logLevel = this.options.logLevel;
    let machine: Machine;
    try {
      machine = await buildMachine(resolved, {
        reset: (reason) => machine.guestExit({ kind: 'reset', reason }),
        powerOff: (reason) => machine.guestExit({ kind: 'poweroff', reason }),
        panic: (reason) => machine.guestExit({ kind: 'panic', reason }),
      });
    } catch (err) {
      throw asConfigError(err);
    }
    machine.onGuestExit((exit) => void this.serialize(() => this.onGuestExit(machine, exit)));
    this.machine = machine;
    this.paused = false;
    this.options.onMachine?.(machine);
    await machine.resume();
    log.info('VM booted', { vcpus: resolved.vcpus, memory: resolved.memoryBytes });
  }

  async pause(): Promise<void> {
    const m = this.requireBooted('pause');
    if (this.paused) throw new ApiError('invalid-state', 'the VM is already paused');
    await m.pause();
    this.paused = true;
    log.info('VM paused');
  }

  async resume(): Promise<void> {
    const m = this.requireBooted('resume');
    if (!this.paused) throw new ApiError('vm-not-paused', 'the VM is not paused');
    await m.resume();
    this.paused = false;
    log.info('VM resumed');
  }

  async info(): Promise<VmInfo> {
    if (this.config === undefined || this.configWithDefaults === undefined) throw new ApiError('vm-not-created', 'no VM is created; call vm.create first');
    const info: VmInfo = { config: await this.configWithDefaults, state: this.state ?? 'Created' };
    if (this.machine !== undefined) info.memory_actual_size = this.machine.parts.memory.size;
    return info;
  }

  private requireBooted(action: string): Machine {
    if (this.config === undefined) throw new ApiError('vm-not-created', `cannot ${action} the VM: no VM is created`);
    if (this.machine === undefined) throw new ApiError('vm-not-booted', `cannot ${action} the VM: it is not booted`);
    return this.machine;
  }

  private async stopMachine(): Promise<void> {
    const m = this.machine;
    this.machine = undefined;
    this.paused = false;
    if (m !== undefined) {
      this.finalCounters = m.counters();
      await m.close();
      log.info('VM shut down');
    }
  }

  /** The guest reset, powered off, or a vCPU failed. Never rejects: a failure here ends the VMM with 1. */
  private async onGuestExit(machine: Machine, exit: GuestExit): Promise<void> {
    if (this.machine !== machine) return; // a stale report from a machine already gone
    try {
      if (exit.kind === 'failed') {
        log.error(`the VM failed: ${exit.error.message}`);
        await this.stopMachine();
        this.options.onExit(1);
        return;
      }
      if (exit.kind === 'panic') {
        // Whatever the guest does next (panic=N reboots it), a crash must not look like a clean exit.
        log.error(`the guest crashed: ${exit.reason}; stopping the VM`);
        await this.stopMachine();
        this.options.onExit(GUEST_PANIC_EXIT_CODE);
        return;
      }
      log.info(`guest ${exit.kind === 'reset' ? 'reset' : 'powered off'} (${exit.reason})`);
      await this.stopMachine();
      if (exit.kind === 'reset' && this.options.reboot === 'restart') {
        await this.boot();
        return;
      }
      this.options.onExit(0);
    } catch (err) {
      log.error(`handling the guest's ${exit.kind} failed: ${err instanceof Error ? err.message : String(err)}`);
      this.options.onExit(1);
    }
  }

  /** Stops any running machine (SIGTERM, process end). */
  async close(): Promise<void> {
    await this.serialize(() => this.stopMachine());
  }
}
