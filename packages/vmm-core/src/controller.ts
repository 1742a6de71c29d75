// Vmm: the VM lifecycle (Cloud Hypervisor's: no VM -> Created -> Running <-> Paused; shutdown drops
// the running machine and keeps its config) and the one place every VmmAction is performed.
import type { RestoreConfig, VmConfig, VmCounters, VmInfo, VmmPingResponse, VmResize, VmSnapshotConfig, VmState } from '@workervisor/schema';
import { createLogger, toErrorData, type LogLevel } from '@workervisor/base';
import type { ActionHandler, ActionOf, ActionResult, ActionValue, VmmAction, VmmActionType } from './actions.js';
import { buildMachine, type GuestExitRequester } from './builder.js';
import { resolveMachineConfig } from './config/resolve.js';
import type { MachineConfig } from './machine-config.js';
import type { GuestExit, Machine } from './machine.js';
import { loadSnapshot, restoreMachine } from './snapshot/restore.js';
import { takeSnapshot } from './snapshot/take.js';
import { snapshotDirectory } from './snapshot/url.js';
import { VmError } from './vm-error.js';

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
  /** The vcpu seccomp program every vCPU worker installs before its first KVM_RUN (--seccomp-filter). */
  vcpuSeccompFilter?: Uint8Array;
  /** Receives each machine right after it is built (benchmarks, tests). */
  onMachine?: (machine: Machine) => void;
  /** Builds the machine at vm.boot; buildMachine unless a test injects a fake. */
  build?: typeof buildMachine;
}

/** Actions this VMM cannot perform yet, each with the reason its refusal gives. */
const NOT_SUPPORTED = {
  VmNmi: 'NMI injection is not implemented yet',
  VmCoredump: 'guest coredumps are not implemented yet',
  VmSendMigration: 'live migration is not implemented yet (vm.snapshot and vm.restore are)',
  VmReceiveMigration: 'live migration is not implemented yet (vm.snapshot and vm.restore are)',
  VmResizeZone: 'no CPU, memory or disk hotplug yet',
  VmResizeDisk: 'no CPU, memory or disk hotplug yet',
  VmAddDevice: 'device hotplug is not implemented yet',
  VmAddUserDevice: 'device hotplug is not implemented yet',
  VmAddDisk: 'device hotplug is not implemented yet',
  VmAddFs: 'device hotplug is not implemented yet',
  VmAddGenericVhostUser: 'device hotplug is not implemented yet',
  VmAddPmem: 'device hotplug is not implemented yet',
  VmAddNet: 'device hotplug is not implemented yet',
  VmAddVsock: 'device hotplug is not implemented yet',
  VmAddVdpa: 'device hotplug is not implemented yet',
  VmRemoveDevice: 'device hotplug is not implemented yet',
} as const satisfies { readonly [T in VmmActionType]?: string };

type UnsupportedAction = keyof typeof NOT_SUPPORTED;

function isUnsupported(action: VmmAction): action is ActionOf<UnsupportedAction> {
  return Object.hasOwn(NOT_SUPPORTED, action.type);
}

/** The refusal of an action listed in NOT_SUPPORTED; `details.action` lets the API name its route. */
function notSupported(type: UnsupportedAction): VmError {
  const reason = NOT_SUPPORTED[type];
  return new VmError('not-supported', `${type} is not supported by this VMM yet: ${reason}`, { details: { action: type, reason } });
}

/** The compiler's proof that a switch covers every action; reached at run time only by a malformed message. */
function unknownAction(action: never): never {
  const type = String((action as { type?: unknown }).type);
  throw new VmError('not-supported', `${type.slice(0, 64)} is not an action this VMM knows`, { details: { action: type.slice(0, 64) } });
}

/** The exit requester a machine is built with, pointed at the machine once it exists. */
interface MachineExits {
  readonly requester: GuestExitRequester;
  bind(machine: Machine): void;
}

function machineExits(): MachineExits {
  let target: Machine | undefined;
  return {
    requester: {
      reset: (reason) => target?.guestExit({ kind: 'reset', reason }),
      powerOff: (reason) => target?.guestExit({ kind: 'poweroff', reason }),
      panic: (reason) => target?.guestExit({ kind: 'panic', reason }),
    },
    bind: (machine) => (target = machine),
  };
}

export class Vmm implements ActionHandler {
  private config: VmConfig | undefined;
  /** `config` resolved once at vm.create; every boot (and reboot) of this VM builds from it. */
  private resolved: MachineConfig | undefined;
  /** `config` with the spec's defaults, for vm.info (computed off the boot path). */
  private configWithDefaults: Promise<VmConfig> | undefined;
  private machine: Machine | undefined;
  private paused = false;
  /** Device counters of the last machine, taken as it stopped (Firecracker's metrics at exit). */
  private finalCounters: VmCounters | undefined;
  /** Serializes lifecycle changes: actions and guest exits never interleave. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly build: typeof buildMachine;

  constructor(private readonly options: VmmOptions) {
    this.build = options.build ?? buildMachine;
  }

  get state(): VmState | undefined {
    if (this.config === undefined) return undefined;
    if (this.machine === undefined) return 'Created';
    return this.paused ? 'Paused' : 'Running';
  }

  /** Counters of the running machine, or of the last one as it stopped. */
  counters(): VmCounters | undefined {
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

  /** Performs one action after those before it; never rejects (a failure is `{ ok: false }`). */
  async handle<A extends VmmAction>(action: A): Promise<ActionResult<A['type']>> {
    try {
      // dispatch's switch gives each action type the value its case returns.
      const value = (await this.serialize(() => this.dispatch(action))) as ActionValue<A['type']>;
      return { ok: true, value };
    } catch (err) {
      return { ok: false, error: toErrorData(err) };
    }
  }

  private async dispatch(action: VmmAction): Promise<ActionValue<VmmActionType>> {
    if (isUnsupported(action)) throw notSupported(action.type);
    switch (action.type) {
      case 'VmmPing':
        return this.ping();
      case 'VmmShutdown':
        await this.stopMachine();
        setImmediate(() => this.options.onExit(0));
        return undefined;
      case 'VmCreate':
        await this.create(action.body);
        return undefined;
      case 'VmBoot':
        await this.boot();
        return undefined;
      case 'VmInfo':
        return this.info();
      case 'VmPause':
        await this.pause();
        return undefined;
      case 'VmResume':
        await this.resume();
        return undefined;
      case 'VmShutdown':
        this.requireBooted('shut down');
        await this.stopMachine();
        return undefined;
      case 'VmReboot':
        this.requireBooted('reboot');
        await this.stopMachine();
        await this.boot();
        return undefined;
      case 'VmDelete':
        await this.stopMachine();
        this.config = undefined;
        this.resolved = undefined;
        this.configWithDefaults = undefined;
        return undefined;
      case 'VmCounters':
        return this.requireBooted('report counters for').counters();
      case 'VmResize':
        this.resize(action.body);
        return undefined;
      case 'VmSnapshot':
        await this.snapshot(action.body);
        return undefined;
      case 'VmRestore':
        await this.restore(action.body);
        return undefined;
      case 'VmPowerButton':
        this.requireBooted('press the power button of').powerButton();
        return undefined;
      default:
        return unknownAction(action);
    }
  }

  private ping(): VmmPingResponse {
    return { build_version: VERSION, version: VERSION, pid: process.pid, features: ['kvm', 'acpi', 'pvh', 'bzimage'] };
  }

  /**
   * vm.create: validates and resolves the config once (boot builds from the result). The spec's
   * defaults (for vm.info) are applied in the background: they need the TypeBox schemas (~190 ms
   * to load), and booting does not, since resolveMachineConfig's fallbacks are those defaults.
   */
  async create(config: VmConfig): Promise<void> {
    if (this.config !== undefined) throw new VmError('already-created', 'a VM is already created; delete it first (vm.delete)');
    this.resolved = resolveMachineConfig(config);
    this.config = config;
    this.configWithDefaults = import('@workervisor/schema').then((schema) => schema.withDefaults(config));
    // Reported when vm.info awaits it; never an unhandled rejection before that.
    this.configWithDefaults.catch(() => undefined);
    log.info('VM created');
  }

  /** vm.boot: builds the machine from the config resolved at vm.create and starts every vCPU. */
  async boot(): Promise<void> {
    if (this.resolved === undefined) throw new VmError('not-created', 'no VM is created; call vm.create first');
    if (this.machine !== undefined) throw new VmError('already-booted', `the VM is already ${this.state === 'Paused' ? 'booted and paused' : 'running'}`);
    const { logLevel, vcpuSeccompFilter } = this.options;
    const config =
      logLevel === undefined && vcpuSeccompFilter === undefined
        ? this.resolved
        : { ...this.resolved, ...(logLevel === undefined ? {} : { logLevel }), ...(vcpuSeccompFilter === undefined ? {} : { vcpuSeccompFilter }) };
    // Build failures keep their own codes (LOADER, HOST_FILE, ...); the API maps them to a status.
    const exits = machineExits();
    const machine = this.adopt(await this.build(config, exits.requester), exits, false);
    await machine.resume();
    log.info('VM booted', { vcpus: config.vcpus, memory: config.memoryBytes });
  }

  /** Makes a built machine this VMM's: its guest exits go through the lifecycle queue. */
  private adopt(machine: Machine, exits: MachineExits, paused: boolean): Machine {
    exits.bind(machine);
    machine.onGuestExit((exit) => void this.serialize(() => this.onGuestExit(machine, exit)));
    this.machine = machine;
    this.paused = paused;
    this.options.onMachine?.(machine);
    return machine;
  }

  /**
   * vm.snapshot: the paused VM into `destination_url`'s directory (snapshot/format.ts). A running
   * VM is refused (pause it first), as is a VM with a device that has no snapshot support.
   */
  async snapshot(body: VmSnapshotConfig): Promise<void> {
    const m = this.requireBooted('snapshot');
    if (!this.paused) throw new VmError('not-paused', 'cannot snapshot the VM: it is running; pause it first (vm.pause)');
    const dir = snapshotDirectory(body.destination_url, 'destination_url');
    await takeSnapshot(m, this.config!, VERSION, dir);
  }

  /**
   * vm.restore: a new VM from the snapshot at `source_url`, in the Paused state (vm.resume
   * continues the guest), or running with `resume: true`. Guest RAM is always mapped
   * copy-on-write from the memory file, whatever `memory_restore_mode` says; `prefault` reads
   * it all in first.
   */
  async restore(body: RestoreConfig): Promise<void> {
    if (this.config !== undefined) throw new VmError('already-created', 'a VM is already created; vm.restore needs a VMM without one (delete it first: vm.delete)');
    if (body.zone_updates !== undefined && body.zone_updates.length > 0) throw new VmError('not-supported', 'vm.restore with zone_updates is not supported: this VMM has no memory zones', { details: { action: 'VmRestore', field: 'zone_updates' } });
    const snapshot = loadSnapshot(snapshotDirectory(body.source_url, 'source_url'));
    const { logLevel, vcpuSeccompFilter } = this.options;
    const exits = machineExits();
    const machine = await restoreMachine(snapshot, exits.requester, {
      prefault: body.prefault === true,
      ...(logLevel === undefined ? {} : { logLevel }),
      ...(vcpuSeccompFilter === undefined ? {} : { vcpuSeccompFilter }),
    });
    this.config = snapshot.config;
    this.resolved = snapshot.resolved;
    this.configWithDefaults = import('@workervisor/schema').then((schema) => schema.withDefaults(snapshot.config));
    this.configWithDefaults.catch(() => undefined);
    this.adopt(machine, exits, true);
    log.info('VM restored', { from: snapshot.dir, vcpus: snapshot.resolved.vcpus });
    if (body.resume === true) await this.resume();
  }

  async pause(): Promise<void> {
    const m = this.requireBooted('pause');
    if (this.paused) throw new VmError('already-paused', 'the VM is already paused');
    await m.pause();
    this.paused = true;
    log.info('VM paused');
  }

  async resume(): Promise<void> {
    const m = this.requireBooted('resume');
    if (!this.paused) throw new VmError('not-paused', 'the VM is not paused');
    await m.resume();
    this.paused = false;
    log.info('VM resumed');
  }

  async info(): Promise<VmInfo> {
    if (this.config === undefined || this.configWithDefaults === undefined) throw new VmError('not-created', 'no VM is created; call vm.create first');
    const info: VmInfo = { config: await this.configWithDefaults, state: this.state ?? 'Created' };
    if (this.machine !== undefined) {
      // memory_actual_size is RAM minus the balloon, as the guest last reported it (Cloud Hypervisor's).
      info.memory_actual_size = this.machine.parts.memory.size - this.machine.balloonActualBytes();
      info.device_tree = this.machine.deviceTree();
    }
    return info;
  }

  /**
   * vm.resize: desired_balloon sets the balloon's target, on the running guest and in the config a
   * reboot builds from (Cloud Hypervisor's Vm::resize does both; before vm.boot only the config).
   * desired_vcpus and desired_ram are refused by name unless they ask for what the VM already has.
   */
  resize(body: VmResize): void {
    const resolved = this.resolved;
    const config = this.config;
    if (resolved === undefined || config === undefined) throw new VmError('not-created', 'cannot resize the VM: no VM is created');
    if (body.desired_vcpus !== undefined && body.desired_vcpus !== resolved.vcpus) {
      throw new VmError('not-supported', `desired_vcpus ${body.desired_vcpus} (vCPU hotplug; the VM has ${resolved.vcpus}) is not supported by this VMM yet`, { details: { field: 'desired_vcpus' } });
    }
    if (body.desired_ram !== undefined && body.desired_ram !== resolved.memoryBytes) {
      throw new VmError('not-supported', `desired_ram ${body.desired_ram} (memory hotplug; the VM has ${resolved.memoryBytes} bytes) is not supported by this VMM yet; resize the balloon with desired_balloon`, { details: { field: 'desired_ram' } });
    }
    const bytes = body.desired_balloon;
    if (bytes === undefined) return;
    const field = { details: { field: 'desired_balloon' } };
    if (resolved.balloon === undefined || config.balloon === undefined) throw new VmError('invalid-request', 'desired_balloon needs a balloon device; create the VM with a balloon section', field);
    if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes % 4096 !== 0) throw new VmError('invalid-request', `desired_balloon ${bytes} is not a whole number of 4K pages`, field);
    if (bytes >= resolved.memoryBytes) throw new VmError('invalid-request', `desired_balloon ${bytes} must be less than the VM's memory, ${resolved.memoryBytes} bytes`, field);
    this.machine?.setBalloonTarget(bytes);
    this.resolved = { ...resolved, balloon: { ...resolved.balloon, sizeBytes: bytes } };
    this.config = { ...config, balloon: { ...config.balloon, size: bytes } };
    this.configWithDefaults = this.configWithDefaults?.then((c) => (c.balloon === undefined ? c : { ...c, balloon: { ...c.balloon, size: bytes } }));
    this.configWithDefaults?.catch(() => undefined);
    log.info(`balloon target ${bytes} bytes`);
  }

  private requireBooted(action: string): Machine {
    if (this.config === undefined) throw new VmError('not-created', `cannot ${action} the VM: no VM is created`);
    if (this.machine === undefined) throw new VmError('not-booted', `cannot ${action} the VM: it is not booted`);
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
      // A triple fault is the guest crashing, not asking to reboot: say so where it is seen.
      if (exit.kind === 'reset' && exit.reason.includes('triple-fault')) log.warn(`the guest triple-faulted and is reset (${exit.reason})`);
      else log.info(`guest ${exit.kind === 'reset' ? 'reset' : 'powered off'} (${exit.reason})`);
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
