// A guest kernel panic must never look like a clean exit: Linux's pvpanic-mmio driver (bound to
// the DSDT's QEMU0001 node) reports it on port 0x505, and the VMM ends with its panic exit code
// and says so — even though panic=-1 makes the guest reboot at once.
import { expect } from 'vitest';
import { COMMAND_TIMEOUT_MS, describeWhen, guestCheck, linuxTest, linuxTierStatus, waitReady } from '../../framework/index.js';

describeWhen(linuxTierStatus(), 'Debian cloud kernel: kernel panic', () => {
  linuxTest('ends the VMM with a non-zero exit and a log line when the guest kernel panics', async ({ spawn, vmm }) => {
    const vm = spawn({});
    await waitReady(vm, `${vmm.name} panic`);
    expect(await guestCheck(vm, 'ls /sys/bus/platform/drivers/pvpanic-mmio | grep -c QEMU0001'), 'pvpanic-mmio bound the DSDT node').toBe('1');
    vm.writeSerial('echo c > /proc/sysrq-trigger\n');
    const status = await vm.waitExit(COMMAND_TIMEOUT_MS);
    expect(status).toEqual({ code: vmm.panicExitCode, signal: null });
    expect(vm.serial).toMatch(/Kernel panic - not syncing: sysrq triggered crash/);
    if (vmm.name === 'workervisor') expect(vm.stderr).toMatch(/the guest crashed: guest kernel panic \(pvpanic\)/);
  });
});
