// The Linux tier's guest (Debian's cloud kernel + busybox initramfs built by
// e2e/linux/build.sh) and the rule for when that tier runs.
import { existsSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { isNestedPvm, kvmStatus, type Readiness } from './kvm.js';
import { repoRoot } from './paths.js';
import { IMAGE_CMDLINE } from '@workervisor/sdk';

/** Output directory of e2e/linux/build.sh (it honours the same variable). */
export const linuxOutDir: string = (() => {
  const dir = process.env['WORKERVISOR_LINUX_OUT'];
  if (dir === undefined || dir === '') return join(repoRoot, 'e2e/linux/out');
  return isAbsolute(dir) ? dir : join(repoRoot, dir);
})();

/** The built guest: the same kernel as a bzImage and as a PVH ELF, and the initramfs. */
export const linuxGuest = {
  /** bzImage (Linux boot protocol 2.x, LZ4 payload). */
  vmlinuz: join(linuxOutDir, 'vmlinuz'),
  /** ELF with the XEN_ELFNOTE_PHYS32_ENTRY note (PVH boot). */
  vmlinux: join(linuxOutDir, 'vmlinux'),
  /** The same ELF with the PVH note renumbered: the loader takes its 64-bit entry (zero page). */
  vmlinuxElf64: join(linuxOutDir, 'vmlinux-elf64'),
  /** ext4 image (64 MiB) with busybox and the same /init: `root=/dev/vda` switches to it. */
  rootfs: join(linuxOutDir, 'rootfs.ext4'),
  /** gzip'd newc cpio; /init prints `GUEST-READY nproc=<N>` then runs a shell on ttyS0. */
  initramfs: join(linuxOutDir, 'initramfs.cpio.gz'),
} as const;

/**
 * Kernel command line for Debian's kernel on our hardware-reduced ACPI machine.
 * - `console=ttyS0`: COM1 (the DSDT's PNP0501) carries the console and the shell.
 * - `quiet`: in the nested KVM every console character costs ~2-6 ms (two port exits each), so
 *   a full-console boot takes minutes; tests read `dmesg` instead.
 * - `reboot=k`: reboot through the i8042 (0xFE to port 0x64), which ends the VMM.
 * - `panic=-1`: a panic reboots at once instead of hanging the test until its timeout.
 * - `pci=off`: there is no PCI host bridge; skip probing config space.
 * - `i8042.noaux i8042.nomux i8042.dumbkbd`: our i8042 has no mouse port, no
 *   multiplexer and no LEDs (Firecracker passes the same).
 * Power-off needs no flag: `poweroff` goes through the FADT sleep registers and `_S5_`.
 */
export const LINUX_CMDLINE = IMAGE_CMDLINE;

/** The marker /init prints once modules are loaded: online CPUs, then the root filesystem type. */
export const GUEST_READY = /GUEST-READY nproc=(\d+) root=(\S+)\r?\n/;

/** The line /init prints just before GUEST-READY: the guest's /proc/version. */
export const GUEST_KERNEL = /GUEST-KERNEL (Linux version [^\r\n]*)\r?\n/;

/** The prompt of the guest's shell (PS1 set by /init). */
export const GUEST_PROMPT = /\[guest\]# /;

/**
 * Whether the Linux tier can run: KVM usable, the guest built, and not nested PVM (where
 * stock Linux cannot boot) unless WORKERVISOR_FORCE_LINUX=1.
 */
export function linuxTierStatus(env: NodeJS.ProcessEnv = process.env): Readiness {
  const kvm = kvmStatus();
  if (!kvm.usable) return kvm;
  if (isNestedPvm() && env['WORKERVISOR_FORCE_LINUX'] !== '1') {
    return {
      usable: false,
      reason:
        '/dev/kvm is nested PVM (/sys/module/kvm_pvm), where a stock Linux kernel cannot boot; ' +
        '`npm test` and `npm run test:linux` run this tier inside the nested KVM (e2e/framework/nested.ts) instead',
    };
  }
  const missing = Object.values(linuxGuest).filter((file) => !existsSync(file));
  if (missing.length > 0) {
    const names = missing.map((file) => relative(repoRoot, file)).join(', ');
    return { usable: false, reason: `${names} missing: run \`bash e2e/linux/build.sh\`` };
  }
  return { usable: true };
}
