// A guest kernel panic must never look like a clean exit: Linux's pvpanic-mmio driver (bound to
// the DSDT's QEMU0001 node) reports it on port 0x505, and the VMM ends with its panic exit code
// and says so. The guest gets panic=0 (it stays in panic() after the report): with panic=-1 it
// reboots while the VMM tears the VM down, and once in 5 nested runs that left L1 in a soft
// lockup (most likely the static-key patching at a VM's teardown that L1's KVM holder now
// prevents: e2e/nested/README.md). With panic=0 a VMM that missed the report would never exit,
// so the test still fails.
import { expect } from 'vitest';
import { COMMAND_TIMEOUT_MS, describeWhen, guestCheck, linuxTest, linuxTierStatus, waitReady } from '../../framework/index.js';

describeWhen(linuxTierStatus(), 'Debian cloud kernel: kernel panic', () => {
  linuxTest('ends the VMM with a non-zero exit and a log line when the guest kernel panics', async ({ spawn, vmm }) => {
    const vm = spawn({ cmdlineExtra: 'panic=0' });
    await waitReady(vm, `${vmm.name} panic`);
    expect(await guestCheck(vm, 'ls /sys/bus/platform/drivers/pvpanic-mmio | grep -c QEMU0001'), 'pvpanic-mmio bound the DSDT node').toBe('1');
    vm.writeSerial('echo c > /proc/sysrq-trigger\n');
    const status = await vm.waitExit(COMMAND_TIMEOUT_MS);
    expect(status).toEqual({ code: vmm.panicExitCode, signal: null });
    expect(vm.serial).toMatch(/Kernel panic - not syncing: sysrq triggered crash/);
    if (vmm.name === 'workervisor') expect(vm.stderr).toMatch(/the guest crashed: guest kernel panic \(pvpanic\)/);
  });
});
