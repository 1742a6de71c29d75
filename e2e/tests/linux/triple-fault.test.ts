// A guest that triple-faults (e2e/guests/src/triple-fault.c: int3 with an empty IDT) is a crash,
// not a reboot request: the VMM resets it as hardware would (--reboot exit: exits 0) and says so
// at WARN with where the CPU was. In the Linux tier because it needs a real KVM: nested PVM
// reports the same fault as KVM_EXIT_INTERNAL_ERROR (an emulation failure), not KVM_EXIT_SHUTDOWN.
import { expect, it } from 'vitest';
import { describeWhen, guestPath, linuxTierStatus, Microvm } from '../../framework/index.js';

describeWhen(linuxTierStatus(), 'a triple-faulting guest', () => {
  it('is reset with a WARN naming the triple fault and the registers', async () => {
    const vm = Microvm.spawn({ kernel: guestPath('triple-fault.elf'), memory: '64M', extraArgs: ['--reboot', 'exit'] });
    try {
      await vm.expectSerial(/TRIPLE-FAULT now/, { timeoutMs: 60_000 });
      expect(await vm.waitExit(60_000)).toEqual({ code: 0, signal: null });
      expect(vm.serial).not.toContain('FAIL');
      expect(vm.stderr).toMatch(/WARN +\[vmm\] the guest triple-faulted and is reset \(vcpu0: triple-fault \(rip 0x[0-9a-f]+, rsp 0x[0-9a-f]+, .*cr3 0x[0-9a-f]+/);
    } finally {
      await vm.kill();
    }
  }, 120_000);
});
