// vCPU control through reply ports: pause, resume and stop reach a vCPU spinning in a guest loop,
// and neither stop nor process.exit() can hang on a thread inside KVM_RUN.
import { spawn } from 'node:child_process';
import { afterEach, expect, it } from 'vitest';
import { bootMachine, describeKvm, guestPath, repoRoot, type TestMachine } from '../../framework/index.js';

const COUNTER_ADDR = 0x20_0004;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeKvm('vCPU control', () => {
  let vm: TestMachine | undefined;
  afterEach(async () => {
    await vm?.close();
    vm = undefined;
  });

  it('pauses and resumes a vCPU spinning in a ring-3 loop', async () => {
    vm = await bootMachine(guestPath('counter.elf'));
    await vm.waitSerial(/COUNTER-READY/);
    const mem = vm.machine.parts.memory;
    const a = mem.readU32(COUNTER_ADDR);
    await sleep(50);
    const b = mem.readU32(COUNTER_ADDR);
    expect(b).not.toBe(a);

    await vm.machine.pause();
    const stats = await vm.machine.vcpuStats();
    expect(stats[0]?.state).toBe('paused');
    const c = mem.readU32(COUNTER_ADDR);
    await sleep(100);
    expect(mem.readU32(COUNTER_ADDR)).toBe(c);

    await vm.machine.resume();
    await sleep(100);
    expect(mem.readU32(COUNTER_ADDR)).not.toBe(c);
  });

  it('answers every request on its own reply port while the guest spins', async () => {
    vm = await bootMachine(guestPath('counter.elf'), { vcpus: 2 });
    await vm.waitSerial(/COUNTER-READY/);
    const results = await Promise.all([vm.machine.vcpuStats(), vm.machine.vcpuStats(), vm.machine.vcpus[0]!.readMemory(COUNTER_ADDR - 4, 4)]);
    expect(results[0]).toHaveLength(2);
    expect(results[1]).toHaveLength(2);
    expect(results[2]).toHaveLength(4);
  });

  it('stops spinning vCPUs promptly', async () => {
    vm = await bootMachine(guestPath('counter.elf'), { vcpus: 2 });
    await vm.waitSerial(/COUNTER-READY/);
    const t0 = Date.now();
    await vm.machine.close();
    expect(Date.now() - t0).toBeLessThan(3_000);
    await expect(vm.machine.vcpus[0]!.stats()).rejects.toThrow(/exited/);
  });

  it('lets process.exit() end a process whose vCPUs spin in KVM_RUN', async () => {
    // The child imports the built packages (resolved from e2e/), boots the spinning guest, exits.
    const script = `
      import { buildMachine } from '@workervisor/vmm-core';
      const m = await buildMachine({ vcpus: 2, memoryBytes: 64 << 20, kernel: ${JSON.stringify(guestPath('counter.elf'))}, cmdline: '', serial: { kind: 'tty' } }, { reset() {}, powerOff() {}, panic() {} });
      await m.resume();
      setTimeout(() => { console.log('SPINNING'); process.exit(7); }, 300);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: `${repoRoot}/e2e`, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 20_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(out).toContain('COUNTER-READY');
    expect(out).toContain('SPINNING');
    expect(code).toBe(7);
  });
});
