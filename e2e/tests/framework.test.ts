// Self-test of the e2e framework's Microvm fixture against fake VMMs (`node -e` scripts):
// no KVM and no workervisor build needed.
import { afterEach, describe, expect, it } from 'vitest';
import { Microvm, isNestedPvm, kvmStatus, linuxTierStatus, microvmArgs } from '../framework/index.js';

const vms: Microvm[] = [];

/** A fake VMM: node running `script`, killed after the test. */
function fake(script: string): Microvm {
  const vm = Microvm.spawnCommand(process.execPath, ['-e', script]);
  vms.push(vm);
  return vm;
}

afterEach(async () => {
  await Promise.all(vms.splice(0).map((vm) => vm.kill()));
});

describe('microvmArgs', () => {
  it("passes the boot flags in the SDK's form and runs without an API socket unless given one", () => {
    expect(
      microvmArgs({ kernel: 'k', initramfs: 'i', cmdline: 'console=ttyS0 panic=-1', cpus: 2, memory: '256M', binary: 'wv.js' }),
    ).toEqual([
      'wv.js', '--no-api', '--kernel=k', '--initramfs=i', '--cmdline=console=ttyS0 panic=-1',
      '--cpus=boot=2', '--memory=size=256M', '--serial', 'tty',
    ]);
  });

  it('uses the API socket, serial mode and extra flags it is given', () => {
    expect(
      microvmArgs({ kernel: 'k', memory: 1 << 30, serial: 'off', apiSocket: '/tmp/a.sock', extraArgs: ['-v'], binary: 'wv.js' }),
    ).toEqual(['wv.js', '--api-socket=/tmp/a.sock', '--kernel=k', '--memory=size=1073741824', '--serial', 'off', '-v']);
  });

  it('takes memory in bytes, as the SDK does, and refuses a MiB count', () => {
    expect(() => microvmArgs({ kernel: 'k', memory: 64, binary: 'wv.js' })).toThrow(/memory is in bytes/);
  });
});

describe('Microvm', () => {
  it('resolves expectSerial with a match that arrives later', async () => {
    const vm = fake(`console.log('booting'); setTimeout(() => console.log('GUEST-READY nproc=2'), 100)`);
    const match = await vm.expectSerial(/GUEST-READY nproc=(\d+)/);
    expect(match[1]).toBe('2');
    expect(match.index).toBe(vm.serial.indexOf('GUEST-READY'));
  });

  it('only matches output after the previous match', async () => {
    const vm = fake(`console.log('tick 1'); setTimeout(() => console.log('tick 2'), 100)`);
    expect((await vm.expectSerial(/tick (\d)/))[1]).toBe('1');
    expect((await vm.expectSerial(/tick (\d)/))[1]).toBe('2');
  });

  it('ignores the g and y flags of the pattern', async () => {
    const vm = fake(`console.log('a1 a2')`);
    expect((await vm.expectSerial(/a(\d)/g))[1]).toBe('1');
    expect((await vm.expectSerial(/a(\d)/y))[1]).toBe('2');
  });

  it('types writeSerial text into the child and reads the answer', async () => {
    const vm = fake(
      `process.stdin.setEncoding('utf8').on('data', (s) => { for (const l of s.split('\\n')) if (l) console.log('got ' + l.toUpperCase()) })`,
    );
    vm.writeSerial('echo 42\n');
    await vm.expectSerial(/got ECHO 42/);
  });

  it('rejects on timeout with the tail of serial output and stderr', async () => {
    const vm = fake(`console.log('kernel says hi'); console.error('vmm log line'); setInterval(() => {}, 1000)`);
    await vm.expectSerial(/hi/);
    const error = await vm.expectSerial(/never/, { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toMatch(/\/never\/ not in serial output after 200 ms/);
    expect(message).toContain('kernel says hi');
    expect(message).toContain('vmm log line');
    expect(message).toMatch(/pid \d+ running/);
    expect(message).toContain(" -e 'console.log(");
  });

  it('rejects as soon as the process exits without the match', async () => {
    const vm = fake(`console.log('bye'); process.exit(3)`);
    const started = Date.now();
    await expect(vm.expectSerial(/never/, { timeoutMs: 5_000 })).rejects.toThrow(/before the VMM exited[^]*code 3[^]*bye/);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('still finds output printed just before the process exited', async () => {
    const vm = fake(`process.stdout.write('last words\\n'); process.exitCode = 0`);
    await vm.waitExit();
    await vm.expectSerial(/last words/);
  });

  it('reports the exit code from waitExit', async () => {
    const vm = fake(`process.exit(7)`);
    expect(await vm.waitExit()).toEqual({ code: 7, signal: null });
    expect(vm.exitStatus).toEqual({ code: 7, signal: null });
  });

  it('rejects waitExit on timeout without killing the process', async () => {
    const vm = fake(`setInterval(() => {}, 1000)`);
    await expect(vm.waitExit(100)).rejects.toThrow(/still running after 100 ms/);
    expect(vm.exitStatus).toBeUndefined();
  });

  it('kills with SIGKILL, and kill is idempotent', async () => {
    const vm = fake(`process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)`);
    const first = vm.kill();
    const second = vm.kill();
    expect(await first).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await second).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await vm.kill()).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('refuses to write to a process that has exited', async () => {
    const vm = fake(`process.exit(0)`);
    await vm.waitExit();
    expect(() => vm.writeSerial('x')).toThrow(/has exited/);
  });

  it('reports a command that cannot be spawned', async () => {
    const vm = Microvm.spawnCommand('/nonexistent/workervisor', []);
    vms.push(vm);
    await expect(vm.expectSerial(/x/)).rejects.toThrow(/spawn failed: .*ENOENT/);
    await expect(vm.waitExit()).rejects.toThrow(/ENOENT/);
    expect(await vm.kill()).toEqual({ code: null, signal: null });
  });
});

describe('machine checks', () => {
  it('explains why KVM is unusable when it is', () => {
    const status = kvmStatus();
    expect(status.usable || (status.reason ?? '').length > 0).toBe(true);
  });

  it('skips the Linux tier on nested PVM unless forced', () => {
    const pvmReason = /nested PVM/;
    if (!kvmStatus().usable) return;
    if (isNestedPvm()) expect(linuxTierStatus({}).reason).toMatch(pvmReason);
    expect(linuxTierStatus({ WORKERVISOR_FORCE_LINUX: '1' }).reason ?? '').not.toMatch(pvmReason);
  });
});
