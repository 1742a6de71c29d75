// Landlock (issue 9): `--landlock` lets the VMM open only what its config names (plus Node's own
// code, read-only). vm.snapshot writes to a directory the API names later, so it is refused with
// EACCES until `--landlock-rules` adds that directory; a serial file the config names is written.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { launch, type Vm } from '@workervisor/sdk';
import { landlockAbiVersion } from '@workervisor/native';
import { describeWhen, guestPath, kvmStatus, Microvm } from '../framework/index.js';

const kvm = kvmStatus();
const readiness = kvm.usable && landlockAbiVersion() === 0 ? { usable: false, reason: 'this kernel has no Landlock' } : kvm;

describeWhen(readiness, '--landlock', () => {
  const vms: Vm[] = [];
  let work: string;
  let vm: Microvm | undefined;
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'workervisor-landlock-'));
  });
  afterEach(async () => {
    await Promise.all(vms.splice(0).map((v) => v.kill()));
    await vm?.kill();
    vm = undefined;
    rmSync(work, { recursive: true, force: true });
  });

  async function pausedCounter(args: string[]): Promise<Vm> {
    const v = await launch({ kernel: guestPath('counter.elf'), cmdline: 'print-every=20000000 cpus=1', cpus: 1, memory: '64M', args: ['--landlock', ...args] });
    vms.push(v);
    await v.waitForSerial('COUNTER-READY');
    await v.pause();
    return v;
  }

  it('refuses vm.snapshot into a directory outside its rules (EACCES), and the VM goes on', async () => {
    const outside = join(work, 'outside');
    mkdirSync(outside);
    const v = await pausedCounter([]);
    await expect(v.snapshot({ destination_url: `file://${join(outside, 'snap')}` })).rejects.toThrow(/EACCES|permission denied/i);
    expect(existsSync(join(outside, 'snap', 'memory.bin'))).toBe(false);
    await v.resume();
    expect((await v.info()).state).toBe('Running');
  });

  it('writes the snapshot once --landlock-rules allows the directory', async () => {
    const allowed = join(work, 'allowed');
    mkdirSync(allowed);
    const v = await pausedCounter([`--landlock-rules=path=${allowed},access=rw`]);
    await v.snapshot({ destination_url: `file://${join(allowed, 'snap')}` });
    expect(existsSync(join(allowed, 'snap', 'memory.bin'))).toBe(true);
  });

  it.runIf(process.getuid?.() === 0 && existsSync('/dev/net/tun'))('opens its tap through /dev/net/tun: the virtio-net guest gets its ARP reply', async () => {
    const tap = `wvl${process.pid % 100000}`;
    try {
      vm = Microvm.spawn({ kernel: guestPath('virtio-net.elf'), memory: '64M', extraArgs: ['--landlock', '--net', `tap=${tap},ip=10.213.7.1,mask=255.255.255.0,host_mac=02:00:00:aa:bb:cc,mac=52:54:00:12:34:58`] });
      await vm.expectSerial(/NET arp-reply from 02:00:00:aa:bb:cc num_buffers=1 len=\d+\n/);
      expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
    } finally {
      spawnSync('ip', ['link', 'del', tap], { stdio: 'ignore' });
    }
  });

  it('boots with the serial file its config names, and exits as without Landlock', async () => {
    const serial = join(work, 'serial.txt');
    vm = Microvm.spawn({ kernel: guestPath('hello.elf'), cpus: 1, memory: '64M', serial: `file=${serial}`, extraArgs: ['--landlock'] });
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
    expect(readFileSync(serial, 'utf8')).toContain('DONE hello');
  });
});
