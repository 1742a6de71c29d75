// Boots Debian's cloud kernel under workervisor through both x86 entry paths — the
// bzImage (boot protocol) and the ELF's PVH note — with 2 vCPUs, and drives its shell
// over the serial console; then presses the ACPI power button through the API.
// DESIGN.md "The machine, and how tests cope", tier 3.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@workervisor/sdk';
import { afterEach, expect, it } from 'vitest';
import {
  GUEST_PROMPT,
  GUEST_READY,
  LINUX_CMDLINE,
  Microvm,
  describeWhen,
  linuxGuest,
  linuxTierStatus,
} from '../../framework/index.js';

/**
 * Hardware KVM boots this guest in about a second; forced runs on PVM are far slower.
 * WORKERVISOR_LINUX_BOOT_TIMEOUT_MS overrides it.
 */
const BOOT_TIMEOUT_MS = Number(process.env['WORKERVISOR_LINUX_BOOT_TIMEOUT_MS'] ?? 300_000);
const COMMAND_TIMEOUT_MS = 30_000;

const entryPaths = [
  { name: 'bzImage (vmlinuz)', kernel: linuxGuest.vmlinuz },
  { name: 'PVH ELF (vmlinux)', kernel: linuxGuest.vmlinux },
] as const;

describeWhen(linuxTierStatus(), 'Debian cloud kernel', () => {
  let vm: Microvm | undefined;

  afterEach(async () => {
    await vm?.kill();
    vm = undefined;
  });

  for (const { name, kernel } of entryPaths) {
    it(`boots from the ${name} on 2 vCPUs, runs a shell command and powers off`, async () => {
      vm = Microvm.spawn({
        kernel,
        initramfs: linuxGuest.initramfs,
        cmdline: LINUX_CMDLINE,
        cpus: 2,
        memory: 256,
      });

      const ready = await vm.expectSerial(GUEST_READY, { timeoutMs: BOOT_TIMEOUT_MS });
      expect(ready[1], 'online CPUs seen by the guest (MADT + AP startup)').toBe('2');
      await vm.expectSerial(GUEST_PROMPT, { timeoutMs: COMMAND_TIMEOUT_MS });

      vm.writeSerial('echo $((6*7))\n');
      // A whole line, so neither the echo of the typed command nor a partial read matches.
      await vm.expectSerial(/^42\r?\n/m, { timeoutMs: COMMAND_TIMEOUT_MS });

      vm.writeSerial('poweroff -f\n');
      // The kernel's pr_emerg on power-off; a panic (panic=-1 reboots) would also exit 0.
      await vm.expectSerial(/reboot: Power down/, { timeoutMs: COMMAND_TIMEOUT_MS });
      expect(await vm.waitExit(COMMAND_TIMEOUT_MS)).toEqual({ code: 0, signal: null });
      expect(vm.serial).not.toMatch(/Kernel panic/);
    });
  }

  it('powers off in order on PUT /vm.power-button: GED -> _EVT -> PWRB -> KEY_POWER -> S5', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'workervisor-pwrb-'));
    const apiSocket = join(dir, 'api.sock');
    const client = connect(apiSocket);
    try {
      vm = Microvm.spawn({ kernel: linuxGuest.vmlinuz, initramfs: linuxGuest.initramfs, cmdline: LINUX_CMDLINE, cpus: 1, memory: 256, apiSocket });
      await vm.expectSerial(GUEST_READY, { timeoutMs: BOOT_TIMEOUT_MS });
      await vm.expectSerial(GUEST_PROMPT, { timeoutMs: COMMAND_TIMEOUT_MS });
      // button.ko bound the DSDT's PNP0C0C (no fixed-feature button: the FADT says control method).
      expect(vm.serial).toMatch(/ACPI: button: Power Button \[PWRB\]/);
      expect(existsSync(apiSocket)).toBe(true);

      await client.powerButton();
      // /init's watcher read KEY_POWER from the button's evdev node and ran poweroff -f.
      await vm.expectSerial(/init: power button pressed/, { timeoutMs: COMMAND_TIMEOUT_MS });
      await vm.expectSerial(/reboot: Power down/, { timeoutMs: COMMAND_TIMEOUT_MS });
      expect(await vm.waitExit(COMMAND_TIMEOUT_MS)).toEqual({ code: 0, signal: null });
      expect(vm.serial).not.toMatch(/Kernel panic|IRQ method execution failed|acpi-ged.*(unable|cannot)/);
    } finally {
      await client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
