// Reference check of the Linux-tier guest itself: boots e2e/linux/out under QEMU's TCG
// (no KVM needed, so it runs on nested PVM too) through the same two entry paths and the
// same serial dialogue as boot.test.ts. If this passes and boot.test.ts fails, the bug
// is in workervisor, not in the guest. Skipped without qemu-system-x86_64.
import { spawnSync } from 'node:child_process';
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
});
