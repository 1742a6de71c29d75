import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VmConfig } from '@workervisor/schema';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { VmmAction } from './actions.js';
import type { buildMachine } from './builder.js';
import { GUEST_PANIC_EXIT_CODE, Vmm, VERSION, type RebootPolicy } from './controller.js';
import type { MachineConfig } from './machine-config.js';
import type { GuestExit, Machine } from './machine.js';

type ExitRequester = Parameters<typeof buildMachine>[1];

/** The part of Machine the controller uses, checked against the real class. */
type ControlledMachine = Pick<Machine, 'onGuestExit' | 'guestExit' | 'resume' | 'pause' | 'close' | 'counters' | 'powerButton' | 'setBalloonTarget' | 'balloonActualBytes' | 'deviceTree'> & {
  parts: { memory: { size: number } };
};

/** A machine that records the controller's calls; `exits` are the requests its devices would make. */
class FakeMachine implements ControlledMachine {
  readonly calls: string[] = [];
  readonly parts = { memory: { size: 0 } };
  private handler: ((exit: GuestExit) => void) | undefined;
  constructor(
    readonly config: MachineConfig,
    readonly exits: ExitRequester,
  ) {
    this.parts.memory.size = config.memoryBytes;
  }
  onGuestExit(handler: (exit: GuestExit) => void): void {
    this.handler = handler;
  }
  guestExit(exit: GuestExit): void {
    this.handler?.(exit);
  }
  async resume(): Promise<void> {
    this.calls.push('resume');
  }
  async pause(): Promise<void> {
    this.calls.push('pause');
  }
  async close(): Promise<void> {
    this.calls.push('close');
  }
  counters(): Record<string, Record<string, number>> {
    return { com1: { txBytes: this.calls.length } };
  }
  powerButton(): void {
    this.calls.push('power-button');
  }
  /** The balloon target set through vm.resize, and the driver's `actual` a test pretends. */
  balloonTarget: number | undefined;
  actualBytes = 0;
  setBalloonTarget(bytes: number): boolean {
    if (this.config.balloon === undefined) return false;
    this.balloonTarget = bytes;
    return true;
  }
  balloonActualBytes(): number {
    return this.actualBytes;
  }
  deviceTree(): ReturnType<Machine['deviceTree']> {
    return { com1: { id: 'com1', resources: [{ PioAddressRange: { base: 0x3f8, size: 8 } }, { LegacyIrq: 4 }], children: [] } };
  }
}

let dir: string;
let disk: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wv-controller-'));
  disk = join(dir, 'disk.img');
  writeFileSync(disk, Buffer.alloc(4096));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const CONFIG: VmConfig = { payload: { kernel: '/vmlinux' }, memory: { size: 64 << 20 }, serial: { mode: 'Off' } };

/** A Vmm over fake machines, with every machine it built and every exit code it asked for. */
function harness(reboot: RebootPolicy = 'exit', build?: (config: MachineConfig) => void) {
  const machines: FakeMachine[] = [];
  const exitCodes: number[] = [];
  const vmm = new Vmm({
    reboot,
    onExit: (code) => exitCodes.push(code),
    build: async (config, exits) => {
      build?.(config);
      const m = new FakeMachine(config, exits);
      machines.push(m);
      return m as unknown as Machine;
    },
  });
  const run = (action: VmmAction) => vmm.handle(action);
  /** Runs an action that must fail and returns its error code. */
  const refused = async (action: VmmAction) => {
    const r = await vmm.handle(action);
    if (r.ok) throw new Error(`${action.type} succeeded`);
    return r.error.code;
  };
  /** Lets queued guest-exit handling (serialized behind the action queue) finish. */
  const settle = () => vmm.handle({ type: 'VmmPing' });
  return { vmm, machines, exitCodes, run, refused, settle };
}

describe('Vmm lifecycle', () => {
  it('answers vmm.ping with its version and pid', async () => {
    const { run } = harness();
    expect(await run({ type: 'VmmPing' })).toEqual({ ok: true, value: expect.objectContaining({ version: VERSION, pid: process.pid }) });
  });

  it('refuses a second vm.create until vm.delete', async () => {
    const { run, refused, vmm } = harness();
    expect(await run({ type: 'VmCreate', body: CONFIG })).toEqual({ ok: true, value: undefined });
    expect(await refused({ type: 'VmCreate', body: CONFIG })).toBe('ERR_VMM_VM_ALREADY_CREATED');
    expect(vmm.state).toBe('Created');
    expect(await run({ type: 'VmDelete' })).toMatchObject({ ok: true });
    expect(vmm.state).toBeUndefined();
    expect(await run({ type: 'VmCreate', body: CONFIG })).toMatchObject({ ok: true });
  });

  it('refuses an unusable config at vm.create with the field at fault, and keeps no VM', async () => {
    const { run, vmm } = harness();
    const r = await run({ type: 'VmCreate', body: { ...CONFIG, memory: { size: 4096 } } });
    expect(r).toMatchObject({ ok: false, error: { code: 'ERR_VMM_VM_INVALID_CONFIG', details: { field: 'memory.size' } } });
    expect(vmm.state).toBeUndefined();
  });

  it('refuses every VM action before vm.create as not created', async () => {
    const { refused, machines } = harness();
    for (const type of ['VmBoot', 'VmInfo', 'VmCounters', 'VmPause', 'VmResume', 'VmShutdown', 'VmReboot', 'VmPowerButton'] as const) {
      expect(await refused({ type }), type).toBe('ERR_VMM_VM_NOT_CREATED');
    }
    expect(machines).toHaveLength(0);
  });

  it('boots from the config resolved at vm.create, without resolving it again', async () => {
    let builds = 0;
    const { run, machines } = harness('exit', () => builds++);
    await run({ type: 'VmCreate', body: { ...CONFIG, disks: [{ path: disk }] } });
    // A second resolution would stat the disk again and refuse the boot.
    rmSync(disk);
    expect(await run({ type: 'VmBoot' })).toEqual({ ok: true, value: undefined });
    expect(builds).toBe(1);
    expect(machines[0]?.config.disks?.[0]?.path).toBe(disk);
    expect(machines[0]?.calls).toEqual(['resume']);
  });

  it('refuses vm.boot of a running or paused VM', async () => {
    const { run, refused, machines } = harness();
    await run({ type: 'VmCreate', body: CONFIG });
    await run({ type: 'VmBoot' });
    expect(await refused({ type: 'VmBoot' })).toBe('ERR_VMM_VM_ALREADY_BOOTED');
    await run({ type: 'VmPause' });
    expect(await refused({ type: 'VmBoot' })).toBe('ERR_VMM_VM_ALREADY_BOOTED');
    expect(machines).toHaveLength(1);
  });

  it('keeps a failed build under its own code and stays Created', async () => {
    const failure = Object.assign(new Error('kernel /vmlinux is truncated'), { code: 'ERR_VMM_LOADER_TRUNCATED', kind: 'truncated' });
    const { run, vmm } = harness('exit', () => {
      throw failure;
    });
    await run({ type: 'VmCreate', body: CONFIG });
    expect(await run({ type: 'VmBoot' })).toMatchObject({ ok: false, error: { code: 'ERR_VMM_LOADER_TRUNCATED', message: 'kernel /vmlinux is truncated' } });
    expect(vmm.state).toBe('Created');
  });

  it('pauses once and resumes once', async () => {
    const { run, refused, vmm, machines } = harness();
    await run({ type: 'VmCreate', body: CONFIG });
    expect(await refused({ type: 'VmPause' })).toBe('ERR_VMM_VM_NOT_BOOTED');
    await run({ type: 'VmBoot' });
    expect(await refused({ type: 'VmResume' })).toBe('ERR_VMM_VM_NOT_PAUSED');
    expect(await run({ type: 'VmPause' })).toMatchObject({ ok: true });
    expect(vmm.state).toBe('Paused');
    expect(await refused({ type: 'VmPause' })).toBe('ERR_VMM_VM_ALREADY_PAUSED');
    expect(await run({ type: 'VmResume' })).toMatchObject({ ok: true });
    expect(vmm.state).toBe('Running');
    expect(await refused({ type: 'VmResume' })).toBe('ERR_VMM_VM_NOT_PAUSED');
    expect(machines[0]?.calls).toEqual(['resume', 'pause', 'resume']);
  });

  it('shuts the VM down to Created, reboots it on a new machine, and deletes it', async () => {
    const { run, refused, vmm, machines } = harness();
    await run({ type: 'VmCreate', body: CONFIG });
    expect(await refused({ type: 'VmShutdown' })).toBe('ERR_VMM_VM_NOT_BOOTED');
    expect(await refused({ type: 'VmReboot' })).toBe('ERR_VMM_VM_NOT_BOOTED');
    await run({ type: 'VmBoot' });
    expect(await run({ type: 'VmReboot' })).toMatchObject({ ok: true });
    expect(machines.map((m) => m.calls)).toEqual([['resume', 'close'], ['resume']]);
    expect(vmm.state).toBe('Running');
    expect(await run({ type: 'VmShutdown' })).toMatchObject({ ok: true });
    expect(vmm.state).toBe('Created');
    expect(machines[1]?.calls).toEqual(['resume', 'close']);
    await run({ type: 'VmBoot' });
    expect(await run({ type: 'VmDelete' })).toMatchObject({ ok: true });
    expect(machines[2]?.calls).toEqual(['resume', 'close']);
    expect(await refused({ type: 'VmInfo' })).toBe('ERR_VMM_VM_NOT_CREATED');
  });

  it('reports info and counters before and after boot, and the last counters after shutdown', async () => {
    const { run, refused, vmm } = harness();
    await run({ type: 'VmCreate', body: CONFIG });
    const created = await run({ type: 'VmInfo' });
    expect(created).toMatchObject({ ok: true, value: { state: 'Created', config: { payload: { kernel: '/vmlinux' } } } });
    expect(Object.keys(created.ok ? (created.value ?? {}) : {})).not.toContain('memory_actual_size');
    expect(Object.keys(created.ok ? (created.value ?? {}) : {})).not.toContain('device_tree');
    expect(await refused({ type: 'VmCounters' })).toBe('ERR_VMM_VM_NOT_BOOTED');
    expect(await refused({ type: 'VmPowerButton' })).toBe('ERR_VMM_VM_NOT_BOOTED');
    await run({ type: 'VmBoot' });
    expect(await run({ type: 'VmInfo' })).toMatchObject({ ok: true, value: { state: 'Running', memory_actual_size: 64 << 20, device_tree: { com1: { id: 'com1' } } } });
    expect(await run({ type: 'VmPowerButton' })).toMatchObject({ ok: true });
    expect(await run({ type: 'VmCounters' })).toEqual({ ok: true, value: { com1: { txBytes: 2 } } });
    await run({ type: 'VmShutdown' });
    expect(vmm.counters()).toEqual({ com1: { txBytes: 2 } });
  });

  it('refuses each unsupported action by name with its reason', async () => {
    const { run } = harness();
    const r = await run({ type: 'VmAddVdpa', body: { path: '/dev/vhost-vdpa-0', num_queues: 1 } });
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'ERR_VMM_VM_NOT_SUPPORTED', details: { action: 'VmAddVdpa', reason: 'device hotplug is not implemented yet' } },
    });
    expect(await run({ type: 'VmNmi' })).toMatchObject({ ok: false, error: { code: 'ERR_VMM_VM_NOT_SUPPORTED', details: { action: 'VmNmi' } } });
    expect(await run({ type: 'VmCoredump', body: {} })).toMatchObject({ ok: false, error: { details: { reason: 'guest coredumps are not implemented yet' } } });
  });

  it('snapshots only a booted, paused VM, to a file:// URL', async () => {
    const { run, refused } = harness();
    const snap = { type: 'VmSnapshot', body: { destination_url: 'file:///tmp/never-written' } } as const;
    expect(await refused(snap)).toBe('ERR_VMM_VM_NOT_CREATED');
    await run({ type: 'VmCreate', body: CONFIG });
    expect(await refused(snap)).toBe('ERR_VMM_VM_NOT_BOOTED');
    await run({ type: 'VmBoot' });
    expect(await run(snap)).toMatchObject({ ok: false, error: { code: 'ERR_VMM_VM_NOT_PAUSED', message: 'cannot snapshot the VM: it is running; pause it first (vm.pause)' } });
    await run({ type: 'VmPause' });
    expect(await refused({ type: 'VmSnapshot', body: { destination_url: 'unix:/tmp/s' } })).toBe('ERR_VMM_SNAPSHOT_INVALID_URL');
    expect(await refused({ type: 'VmSnapshot', body: {} })).toBe('ERR_VMM_SNAPSHOT_INVALID_URL');
  });

  it('restores only into a VMM without a VM, from a directory that holds a snapshot', async () => {
    const { run, refused } = harness();
    expect(await run({ type: 'VmRestore', body: { source_url: 'file:///nonexistent/snapshot' } })).toMatchObject({
      ok: false,
      error: { code: 'ERR_VMM_SNAPSHOT_NOT_FOUND', message: '/nonexistent/snapshot/state.json does not exist: the directory holds no (complete) snapshot' },
    });
    await run({ type: 'VmCreate', body: CONFIG });
    expect(await refused({ type: 'VmRestore', body: { source_url: 'file:///nonexistent/snapshot' } })).toBe('ERR_VMM_VM_ALREADY_CREATED');
  });

  describe('vm.resize', () => {
    const MIB = 1024 * 1024;
    const WITH_BALLOON: VmConfig = { ...CONFIG, balloon: { size: 8 * MIB } };

    it('sets the running balloon\'s target and the size a reboot boots with, and vm.info shows it', async () => {
      const { run, machines } = harness('restart');
      await run({ type: 'VmCreate', body: WITH_BALLOON });
      await run({ type: 'VmBoot' });
      expect(await run({ type: 'VmResize', body: { desired_balloon: 32 * MIB } })).toEqual({ ok: true, value: undefined });
      expect(machines[0]?.balloonTarget).toBe(32 * MIB);
      expect(await run({ type: 'VmInfo' })).toMatchObject({ ok: true, value: { config: { balloon: { size: 32 * MIB } } } });
      // The guest reported 16 MiB inflated so far: vm.info's memory_actual_size is RAM minus that.
      machines[0]!.actualBytes = 16 * MIB;
      expect(await run({ type: 'VmInfo' })).toMatchObject({ ok: true, value: { memory_actual_size: (64 - 16) * MIB } });
      await run({ type: 'VmReboot' });
      expect(machines[1]?.config.balloon?.sizeBytes).toBe(32 * MIB);
    });

    it('before vm.boot changes only the size the VM boots with', async () => {
      const { run, machines } = harness();
      await run({ type: 'VmCreate', body: WITH_BALLOON });
      expect(await run({ type: 'VmResize', body: { desired_balloon: 0 } })).toMatchObject({ ok: true });
      await run({ type: 'VmBoot' });
      expect(machines[0]?.config.balloon?.sizeBytes).toBe(0);
    });

    it.each([
      [{ desired_balloon: 64 * MIB }, 'ERR_VMM_VM_INVALID_REQUEST', 'desired_balloon', /must be less than the VM's memory/],
      [{ desired_balloon: 4097 }, 'ERR_VMM_VM_INVALID_REQUEST', 'desired_balloon', /not a whole number of 4K pages/],
      [{ desired_vcpus: 2 }, 'ERR_VMM_VM_NOT_SUPPORTED', 'desired_vcpus', /vCPU hotplug/],
      [{ desired_ram: 128 * MIB, desired_balloon: 0 }, 'ERR_VMM_VM_NOT_SUPPORTED', 'desired_ram', /memory hotplug/],
    ])('refuses %j naming the field', async (body, code, field, message) => {
      const { run, machines } = harness();
      await run({ type: 'VmCreate', body: WITH_BALLOON });
      await run({ type: 'VmBoot' });
      const r = await run({ type: 'VmResize', body });
      expect(r).toMatchObject({ ok: false, error: { code, details: { field } } });
      expect(r.ok ? '' : r.error.message).toMatch(message);
      expect(machines[0]?.balloonTarget).toBeUndefined();
    });

    it('accepts desired_vcpus and desired_ram equal to what the VM has', async () => {
      const { run } = harness();
      await run({ type: 'VmCreate', body: WITH_BALLOON });
      expect(await run({ type: 'VmResize', body: { desired_vcpus: 1, desired_ram: 64 * MIB } })).toMatchObject({ ok: true });
    });

    it('refuses desired_balloon for a VM without a balloon, and any resize before vm.create', async () => {
      const { run, refused } = harness();
      expect(await refused({ type: 'VmResize', body: { desired_balloon: 0 } })).toBe('ERR_VMM_VM_NOT_CREATED');
      await run({ type: 'VmCreate', body: CONFIG });
      expect(await run({ type: 'VmResize', body: { desired_balloon: 0 } })).toMatchObject({ ok: false, error: { code: 'ERR_VMM_VM_INVALID_REQUEST', message: expect.stringMatching(/needs a balloon device/) } });
    });
  });

  it('refuses a malformed action that names no known type', async () => {
    const { run } = harness();
    expect(await run({ type: 'VmFly' } as unknown as VmmAction)).toMatchObject({ ok: false, error: { code: 'ERR_VMM_VM_NOT_SUPPORTED', details: { action: 'VmFly' } } });
  });

  it('ends the VMM with 0 after vmm.shutdown, stopping the machine first', async () => {
    const { run, exitCodes, machines } = harness();
    await run({ type: 'VmCreate', body: CONFIG });
    await run({ type: 'VmBoot' });
    expect(await run({ type: 'VmmShutdown' })).toMatchObject({ ok: true });
    expect(machines[0]?.calls).toEqual(['resume', 'close']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(exitCodes).toEqual([0]);
  });
});

describe('Vmm guest exits', () => {
  async function booted(reboot: RebootPolicy = 'exit', build?: (config: MachineConfig) => void) {
    const h = harness(reboot, build);
    await h.run({ type: 'VmCreate', body: CONFIG });
    await h.run({ type: 'VmBoot' });
    const first = h.machines[0];
    if (first === undefined) throw new Error('no machine');
    return { ...h, first };
  }

  it('ends with 0 when the guest powers off, closing the machine', async () => {
    const { first, exitCodes, settle, vmm } = await booted();
    first.exits.powerOff('ACPI S5');
    await settle();
    expect(exitCodes).toEqual([0]);
    expect(first.calls).toEqual(['resume', 'close']);
    expect(vmm.state).toBe('Created');
  });

  it('ends with 3 when the guest panics', async () => {
    const { first, exitCodes, settle } = await booted('restart');
    first.exits.panic('pvpanic');
    await settle();
    expect(exitCodes).toEqual([GUEST_PANIC_EXIT_CODE]);
    expect(GUEST_PANIC_EXIT_CODE).toBe(3);
  });

  it('ends with 1 when a vCPU fails', async () => {
    const { first, exitCodes, settle } = await booted();
    first.guestExit({ kind: 'failed', error: new Error('KVM_RUN failed') });
    await settle();
    expect(exitCodes).toEqual([1]);
    expect(first.calls).toEqual(['resume', 'close']);
  });

  it("ends with 0 on a reset under 'exit'", async () => {
    const { first, exitCodes, settle, machines } = await booted('exit');
    first.exits.reset('i8042');
    await settle();
    expect(exitCodes).toEqual([0]);
    expect(machines).toHaveLength(1);
  });

  it("boots a new machine on a reset under 'restart'", async () => {
    const { first, exitCodes, settle, machines, vmm } = await booted('restart');
    first.exits.reset('i8042');
    await settle();
    expect(exitCodes).toEqual([]);
    expect(machines).toHaveLength(2);
    expect(machines[1]?.config).toBe(first.config);
    expect(machines[1]?.calls).toEqual(['resume']);
    expect(vmm.state).toBe('Running');
  });

  it('ends with 1 when the restart after a reset fails to build', async () => {
    let builds = 0;
    const { first, exitCodes, settle } = await booted('restart', () => {
      if (++builds > 1) throw new Error('out of memory');
    });
    first.exits.reset('i8042');
    await settle();
    expect(exitCodes).toEqual([1]);
  });

  it('ignores a late exit from a machine already replaced', async () => {
    const { first, exitCodes, settle, machines, run, vmm } = await booted();
    await run({ type: 'VmReboot' });
    first.exits.powerOff('late');
    await settle();
    expect(exitCodes).toEqual([]);
    expect(machines[1]?.calls).toEqual(['resume']);
    expect(vmm.state).toBe('Running');
  });
});
