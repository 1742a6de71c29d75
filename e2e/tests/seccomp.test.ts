// Seccomp on a booting VMM (issue 9): each vCPU worker installs its vcpu filter before its first
// KVM_RUN, so a vcpu filter that traps KVM_RUN stops the vCPU thread at once (exit 159, a line
// naming the thread and the syscall), while --seccomp log and --seccomp false let the guest run.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeKvm, guestPath, Microvm } from '../framework/index.js';

const KVM_RUN = 0xae80;
const ALLOW_ALL = { default_action: 'allow', filter_action: 'allow', filter: [] };
/** Everything is allowed except KVM_RUN on the vCPU threads. */
const TRAP_KVM_RUN = {
  vmm: ALLOW_ALL,
  api: ALLOW_ALL,
  vcpu: { default_action: 'allow', filter_action: 'trap', filter: [{ syscall: 'ioctl', args: [{ index: 1, type: 'dword', op: 'eq', val: KVM_RUN, comment: 'KVM_RUN' }] }] },
};

describeKvm('seccomp filters on the VMM threads', () => {
  let dir: string;
  let filters: string;
  let vm: Microvm | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'wv-seccomp-e2e-'));
    filters = join(dir, 'filters.json');
    writeFileSync(filters, JSON.stringify(TRAP_KVM_RUN));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    await vm?.kill();
    vm = undefined;
  });

  it('stops a vCPU thread at its first KVM_RUN when its filter traps it, naming the thread and the syscall', async () => {
    vm = Microvm.spawn({ kernel: guestPath('hello.elf'), cpus: 1, memory: '64M', serial: 'stdout', extraArgs: ['--seccomp-filter', filters] });
    expect(await vm.waitExit()).toEqual({ code: 159, signal: null });
    expect(vm.stderr).toMatch(/ERROR \[seccomp\] thread vcpu0 \(tid \d+\) made syscall ioctl \(16\), which its seccomp filter does not allow; the VMM exits with status 159/);
    expect(vm.serial).not.toContain('Hello from workervisor guest');
  });

  it('lets the guest run with --seccomp log (the kernel logs the call instead)', async () => {
    vm = Microvm.spawn({ kernel: guestPath('hello.elf'), cpus: 1, memory: '64M', serial: 'stdout', extraArgs: ['--seccomp', 'log', '--seccomp-filter', filters] });
    await vm.expectSerial(/DONE hello/);
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
  });

  it('lets the guest run with --seccomp false', async () => {
    vm = Microvm.spawn({ kernel: guestPath('hello.elf'), cpus: 1, memory: '64M', serial: 'stdout', extraArgs: ['--seccomp', 'false'] });
    await vm.expectSerial(/DONE hello/);
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
  });

  it('boots under filters that allow what the threads do, on every vCPU', async () => {
    const allowing = join(dir, 'allowing.json');
    const noExec = { default_action: 'allow', filter_action: 'trap', filter: [{ syscall: 'execve' }, { syscall: 'execveat' }] };
    writeFileSync(allowing, JSON.stringify({ vmm: noExec, api: noExec, vcpu: noExec }));
    vm = Microvm.spawn({ kernel: guestPath('smp.elf'), cpus: 2, memory: '64M', cmdline: 'cpus=2', extraArgs: ['--seccomp-filter', allowing] });
    await vm.expectSerial(/SMP OK cpus=2/, { timeoutMs: 30_000 });
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
  });
});
