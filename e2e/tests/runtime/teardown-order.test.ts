// The machine's one teardown stack, seen from outside: a build that fails late (a kernel that
// does not load, after the devices and vCPUs exist) and Machine.close release every resource,
// in the same order (builder.ts lists the constraints).
import diagnostics from 'node:diagnostics_channel';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { buildMachine, type MachineConfig } from '@workervisor/vmm-core';
import { describeKvm, guestPath, itKvm } from '../../framework/index.js';

/** The release steps in the order they must run for the config below (without a tap). */
const EXPECTED_ORDER = [
  'vcpus',
  'vsock: virtio transport',
  'vsock: host sockets',
  'console: virtio transport',
  'console: host end',
  'rng: virtio transport',
  'disk0: virtio transport',
  'com1: host output',
  'exit hub',
  'irqfds',
  'vm',
  'kvm',
  'taps',
  'disk images',
  'guest RAM',
];

const noExit = { reset() {}, powerOff() {}, panic() {} };
const canTap = process.getuid?.() === 0 && existsSync('/dev/net/tun');
if (!canTap) console.log('teardown order with a tap skipped: it needs root and /dev/net/tun');

describeKvm('the machine teardown', () => {
  let dir: string;
  const steps: Array<{ name: string; error?: string }> = [];
  const onStep = (e: unknown): void => void steps.push(e as { name: string; error?: string });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wv-teardown-'));
    steps.length = 0;
    diagnostics.subscribe('workervisor:teardown:step', onStep);
  });
  afterEach(() => {
    diagnostics.unsubscribe('workervisor:teardown:step', onStep);
    rmSync(dir, { recursive: true, force: true });
  });

  function config(kernel: string, nets: MachineConfig['nets'] = []): MachineConfig {
    const disk = join(dir, 'disk.img');
    writeFileSync(disk, Buffer.alloc(1 << 20));
    return {
      vcpus: 2,
      memoryBytes: 64 << 20,
      kernel,
      cmdline: '',
      serial: { kind: 'socket', path: join(dir, 'serial.sock') },
      disks: [{ path: disk, readonly: false }],
      rng: {},
      console: { sink: { kind: 'socket', path: join(dir, 'console.sock') } },
      vsock: { cid: 3, socket: join(dir, 'vsock.sock') },
      nets,
    };
  }

  const openFds = (): number => readdirSync('/proc/self/fd').length;
  const sockets = (): string[] => ['serial.sock', 'console.sock', 'vsock.sock'].filter((s) => existsSync(join(dir, s)));

  itKvm('releases everything, in order, when the kernel does not load', async () => {
    const bogus = join(dir, 'not-a-kernel');
    writeFileSync(bogus, Buffer.alloc(4096, 0x5a));
    const fdsBefore = openFds();
    await expect(buildMachine(config(bogus), noExit)).rejects.toThrow(/kernel|ELF|bzImage/i);
    expect(steps).toEqual(EXPECTED_ORDER.map((name) => ({ name })));
    expect(sockets()).toEqual([]);
    expect(openFds()).toBe(fdsBefore);
    // The disk image's lock went with it: a second machine may take the same image.
    const machine = await buildMachine(config(guestPath('counter.elf')), noExit);
    await machine.close();
  });

  itKvm('closes a built machine through the same steps in the same order', async () => {
    const fdsBefore = openFds();
    const machine = await buildMachine(config(guestPath('counter.elf')), noExit);
    await machine.resume();
    expect(sockets()).toHaveLength(3);
    await machine.close();
    await machine.close();
    expect(steps).toEqual(EXPECTED_ORDER.map((name) => ({ name })));
    expect(sockets()).toEqual([]);
    expect(openFds()).toBe(fdsBefore);
  });

  it.runIf(canTap)('resets virtio-net before its tap closes', async () => {
    const net = { id: 'net0', tap: { kind: 'name', name: 'wvteardown0' }, queueSize: 256, offloads: { tso: false, ufo: false, csum: false } } as const;
    const machine = await buildMachine(config(guestPath('counter.elf'), [net]), noExit);
    await machine.close();
    expect(steps.map((s) => s.name)).toEqual(['vcpus', 'net0: virtio transport', ...EXPECTED_ORDER.slice(1)]);
    expect(steps.every((s) => s.error === undefined)).toBe(true);
    expect(existsSync('/sys/class/net/wvteardown0')).toBe(false);
  });
});
