// The guest-driven device-access benchmark's guest (scratch-loop, scripts/bench/guest-exits.mjs):
// every write reaches COM1's scratch register through the forwarded exit path, and the guest
// powers off through ACPI S5 so the same image ends under QEMU -M microvm too.
import { afterEach, expect, it } from 'vitest';
import { describeKvm, guestPath, Microvm } from '../framework/index.js';

describeKvm('the scratch-loop guest', () => {
  let vm: Microvm | undefined;
  afterEach(async () => {
    await vm?.kill();
    vm = undefined;
  });

  it('writes COM1 scratch n times, reads the last value back and powers off', async () => {
    vm = Microvm.spawn({ kernel: guestPath('scratch-loop.elf'), memory: '64M', extraArgs: ['--cmdline', 'n=3000'] });
    await vm.expectSerial(/SCRATCH-START\nSCRATCH-END\nDONE scratch-loop\n/);
    expect(await vm.waitExit()).toEqual({ code: 0, signal: null });
    expect(vm.serial).not.toContain('FAIL');
  });
});
