// Reference check of the Linux-tier guest itself: boots e2e/linux/out under QEMU's TCG
// (no KVM needed, so it runs on nested PVM too) through the same two entry paths and the
// same serial dialogue as boot.test.ts. If this passes and boot.test.ts fails, the bug
// is in workervisor, not in the guest. Skipped without qemu-system-x86_64.
// Also presses the power button of QEMU's microvm, whose ACPI GED + PNP0C0C use the same
// mechanism as ours (GED interrupt -> _EVT -> Notify (PWRB, 0x80)), to check the guest's half:
// evged, button.ko, evdev.ko and /init's watcher.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import {
  GUEST_PROMPT,
  GUEST_READY,
  LINUX_CMDLINE,
  Microvm,
  describeWhen,
  linuxGuest,
  linuxTierStatus,
  type Readiness,
} from '../../framework/index.js';

const QEMU = 'qemu-system-x86_64';
/** TCG emulates every instruction: a boot takes tens of seconds. */
const BOOT_TIMEOUT_MS = 300_000;
const COMMAND_TIMEOUT_MS = 60_000;

/** Sends one command to a QEMU human monitor listening on a Unix socket. */
async function monitorCommand(socket: string, command: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const conn = connect(socket);
    conn.once('error', reject);
    // The banner first, then the command; QEMU runs it as soon as it reads the line.
    conn.once('data', () => conn.end(`${command}\n`, () => resolve()));
  });
}

function qemuReadiness(): Readiness {
  const probe = spawnSync(QEMU, ['--version'], { stdio: 'ignore' });
  if (probe.error !== undefined || probe.status !== 0) {
    return { usable: false, reason: `${QEMU} is not installed (apt-get install qemu-system-x86)` };
  }
  // The guest files are the only other requirement; force past the KVM/PVM checks.
  const guest = linuxTierStatus({ ...process.env, WORKERVISOR_FORCE_LINUX: '1' });
  if (!guest.usable && guest.reason?.includes('build.sh') === true) return guest;
  return { usable: true };
}

describeWhen(qemuReadiness(), 'Linux-tier guest under QEMU TCG (reference)', () => {
  let vm: Microvm | undefined;

  afterEach(async () => {
    await vm?.kill();
    vm = undefined;
  });

  for (const { name, kernel } of [
    { name: 'bzImage (vmlinuz)', kernel: linuxGuest.vmlinuz },
    { name: 'PVH ELF (vmlinux)', kernel: linuxGuest.vmlinux },
  ]) {
    it(`boots from the ${name} on 2 vCPUs, loads its virtio drivers and powers off`, async () => {
      // q35, not microvm: its HPET and PM timer let the kernel calibrate the TSC even when
      // the host is busy, where microvm's PIT-only calibration fails and the boot hangs.
      vm = Microvm.spawnCommand(QEMU, [
        '-machine', 'q35', '-accel', 'tcg', '-cpu', 'max', '-smp', '2', '-m', '256',
        '-kernel', kernel, '-initrd', linuxGuest.initramfs, '-append', LINUX_CMDLINE,
        '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-no-reboot',
      ]);

      const ready = await vm.expectSerial(GUEST_READY, { timeoutMs: BOOT_TIMEOUT_MS });
      expect(ready[1]).toBe('2');
      await vm.expectSerial(GUEST_PROMPT, { timeoutMs: COMMAND_TIMEOUT_MS });

      vm.writeSerial('echo $((6*7))\n');
      await vm.expectSerial(/^42\r?\n/m, { timeoutMs: COMMAND_TIMEOUT_MS });

      // Every module /init loaded registered its driver.
      vm.writeSerial('echo drivers: $(ls /sys/bus/virtio/drivers)\n');
      const drivers = await vm.expectSerial(/^drivers: (.*?)\r?\n/m, { timeoutMs: COMMAND_TIMEOUT_MS });
      expect((drivers[1] ?? '').split(' ')).toEqual(
        expect.arrayContaining(['virtio_blk', 'virtio_net', 'virtio_rng', 'virtio_balloon', 'vmw_vsock_virtio_transport']),
      );

      vm.writeSerial('poweroff -f\n');
      await vm.expectSerial(/reboot: Power down/, { timeoutMs: COMMAND_TIMEOUT_MS });
      expect(await vm.waitExit(COMMAND_TIMEOUT_MS)).toEqual({ code: 0, signal: null });
      expect(vm.serial).not.toMatch(/Kernel panic/);
    });
  }

  // Opt-in: under TCG on a busy 2-core host, microvm's guest clock can stall at 0.000000 (no HPET or
  // PM timer to fall back on) and the boot hangs until the timeout. It checks QEMU's GED + the
  // guest's button handling, not Workervisor, so it must not make the default run flaky.
  const microvm = process.env['WORKERVISOR_QEMU_MICROVM'] === '1';
  if (!microvm) console.warn('[workervisor] skipping the QEMU microvm power-button reference test: set WORKERVISOR_QEMU_MICROVM=1 (it can hang under load on TCG)');
  it.skipIf(!microvm)('powers off when the ACPI GED power button of QEMU microvm is pressed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'workervisor-qemu-'));
    const monitor = join(dir, 'monitor.sock');
    try {
      // microvm calibrates the TSC against the PIT only, which fails under TCG on a busy host;
      // lpj= skips the delay-loop calibration and tsc=unstable the clocksource that needs it.
      vm = Microvm.spawnCommand(QEMU, [
        '-machine', 'microvm,acpi=on,rtc=on,pit=on', '-accel', 'tcg', '-cpu', 'max', '-smp', '2', '-m', '256',
        '-kernel', linuxGuest.vmlinuz, '-initrd', linuxGuest.initramfs, '-append', `${LINUX_CMDLINE} lpj=4000000 tsc=unstable`,
        '-display', 'none', '-monitor', `unix:${monitor},server,nowait`, '-serial', 'stdio', '-no-reboot',
      ]);
      await vm.expectSerial(GUEST_READY, { timeoutMs: BOOT_TIMEOUT_MS });
      await vm.expectSerial(GUEST_PROMPT, { timeoutMs: COMMAND_TIMEOUT_MS });
      expect(vm.serial).toMatch(/ACPI: button: Power Button \[PWRB\]/);

      // QEMU's equivalent of PUT /vm.power-button.
      await monitorCommand(monitor, 'system_powerdown');
      await vm.expectSerial(/init: power button pressed/, { timeoutMs: COMMAND_TIMEOUT_MS });
      await vm.expectSerial(/reboot: Power down/, { timeoutMs: COMMAND_TIMEOUT_MS });
      expect(await vm.waitExit(COMMAND_TIMEOUT_MS)).toEqual({ code: 0, signal: null });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
