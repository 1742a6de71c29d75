// The `workervisor` command boots test guests and exits 0 when they reset or power off.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { describeKvm, guestPath, Microvm } from '../framework/index.js';

describeKvm('workervisor CLI boots', () => {
  let vm: Microvm | undefined;
  afterEach(async () => {
    await vm?.kill();
    vm = undefined;
  });

  it('prints the hello guest line and exits 0 after its i8042 reset', async () => {
    vm = Microvm.spawn({ kernel: guestPath('hello.elf'), cpus: 1, memory: '64M', serial: 'stdout' });
    await vm.expectSerial(/Hello from workervisor guest\n/);
    await vm.expectSerial(/DONE hello/);
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
    expect(vm.serial).not.toContain('FAIL');
  });

  it("logs Firecracker's boot time and the guest's debug-port code with timestamps", async () => {
    vm = Microvm.spawn({ kernel: guestPath('hello.elf'), memory: '64M', serial: 'stdout', extraArgs: ['-vv'] });
    expect((await vm.waitExit()).code).toBe(0);
    expect(vm.stderr).toMatch(/Guest-boot-time = \d+ us \d+ ms/);
    expect(vm.stderr).toMatch(/POST code 0x42 at \d+ us/);
  });

  it('starts every AP with INIT-SIPI-SIPI: 4 vCPUs print 4 distinct APIC ids', async () => {
    vm = Microvm.spawn({ kernel: guestPath('smp.elf'), cpus: 4, memory: '64M', cmdline: 'cpus=4' });
    await vm.expectSerial(/SMP OK cpus=4/, { timeoutMs: 30_000 });
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
    const ids = [...vm.serial.matchAll(/CPU (\d+) online/g)].map((m) => Number(m[1]));
    expect(ids.sort()).toEqual([0, 1, 2, 3]);
  });

  it('accepts Cloud Hypervisor style flags (--cpus boot=N, --memory size=M)', async () => {
    vm = Microvm.spawn({ kernel: guestPath('smp.elf'), cmdline: 'cpus=2', extraArgs: ['--cpus', 'boot=2', '--memory', 'size=64M'] });
    await vm.expectSerial(/SMP OK cpus=2/, { timeoutMs: 30_000 });
    expect((await vm.waitExit()).code).toBe(0);
  });

  it('attaches --disk as virtio-blk: the guest reads the host file through the queue', async () => {
    const disk = join(mkdtempSync(join(tmpdir(), 'wv-disk-')), 'disk.img');
    const bytes = Buffer.alloc(2 << 20);
    bytes.write('WORKERVISOR-DISK');
    writeFileSync(disk, bytes);
    vm = Microvm.spawn({ kernel: guestPath('virtio-probe.elf'), memory: '64M', extraArgs: ['--disk', `path=${disk},readonly=on`] });
    await vm.expectSerial(/BLK capacity=4096\b/);
    await vm.expectSerial(/BLK sector0=574f524b45525649534f522d4449534b/);
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
  });

  it('powers off through the FADT sleep register and exits 0', async () => {
    vm = Microvm.spawn({ kernel: guestPath('poweroff.elf'), memory: '64M' });
    await vm.expectSerial(/FADT sleep-control=0x600/);
    await vm.expectSerial(/S5 slp-typ=5/);
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
    expect(vm.serial).not.toContain('FAIL');
  });

  it('boots the guest again on reset with --reboot restart', async () => {
    vm = Microvm.spawn({ kernel: guestPath('hello.elf'), memory: '64M', extraArgs: ['--reboot', 'restart'] });
    await vm.expectSerial(/DONE hello/);
    await vm.expectSerial(/DONE hello/);
    await vm.expectSerial(/DONE hello/);
    expect(vm.exitStatus).toBeUndefined();
  });

  it('stops gracefully on SIGTERM while the guest spins', async () => {
    vm = Microvm.spawn({ kernel: guestPath('counter.elf'), memory: '64M', cpus: 2 });
    await vm.expectSerial(/COUNTER-READY/);
    process.kill(vm.pid!, 'SIGTERM');
    // 128 + 15: a stop by signal is never mistaken for the guest's power-off (0).
    expect(await vm.waitExit(5_000)).toEqual({ code: 143, signal: null });
  });
});
