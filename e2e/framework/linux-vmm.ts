// The two VMMs a Linux-tier test can boot its guest with: Workervisor, and QEMU with KVM as the
// reference (`-M microvm`: virtio-mmio devices in an ACPI DSDT, as ours are, so the guest uses the
// same drivers). A scenario is written once against `LinuxVmm` and runs on either.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { kvmStatus, type Readiness } from './kvm.js';
import { LINUX_CMDLINE, linuxGuest } from './linux.js';
import { Microvm } from './microvm.js';
import { QEMU_BINARY } from './nested.js';

/** One Linux guest boot, in VMM-neutral terms. */
export interface LinuxBoot {
  /** Kernel image; default the bzImage. */
  kernel?: string;
  /** vCPUs; default 1. */
  cpus?: number;
  /** Guest RAM in MiB; default 256. */
  memoryMiB?: number;
  /** The kernel command line instead of LINUX_CMDLINE (cmdlineExtra is still appended). */
  cmdline?: string;
  /** Appended to LINUX_CMDLINE (e.g. `root=/dev/vda`). */
  cmdlineExtra?: string;
  /** virtio-blk disks in order: the first is /dev/vda. */
  disks?: ReadonlyArray<{ path: string; readonly?: boolean }>;
  /** What a guest reboot does: end the VMM (default) or boot again. */
  reboot?: 'exit' | 'restart';
  /** COM1 on this Unix socket instead of stdin/stdout. */
  serialSocket?: string;
  /** Workervisor only: the API socket. */
  apiSocket?: string;
  /** A virtio-rng fed by the host's /dev/urandom (getrandom). */
  rng?: boolean;
  /** A virtio-console (/dev/hvc0) on this Unix socket, as well as COM1. */
  consoleSocket?: string;
  /**
   * A virtio-vsock with guest CID `cid`. Workervisor: Firecracker's hybrid model on `socket`
   * (`CONNECT <port>`, guest connections to `<socket>_<port>`). QEMU: vhost-vsock, which is not
   * hybrid (the host uses AF_VSOCK and `socket` is unused), so scenarios with it are not references.
   */
  vsock?: { cid: number; socket: string };
  /** A virtio-net device (the guest's eth0) on this existing host tap, with this guest MAC. */
  net?: { tap: string; mac: string };
  /**
   * A virtio-balloon inflated to `sizeMiB` at boot (Workervisor; QEMU's starts empty and is sized
   * over QMP, so scenarios resizing it are not references), statistics every `statsIntervalS`.
   */
  balloon?: { sizeMiB: number; deflateOnOom?: boolean; statsIntervalS?: number };
}

export interface LinuxVmm {
  readonly name: 'workervisor' | 'qemu-kvm';
  /** Exit code when the guest kernel panics. */
  readonly panicExitCode: number;
  /** Whether this VMM can run `boot` at all (QEMU has no 64-bit ELF entry, no Workervisor API). */
  supports(boot: LinuxBoot): boolean;
  spawn(boot: LinuxBoot): Microvm;
}

function cmdline(boot: LinuxBoot): string {
  const base = boot.cmdline ?? LINUX_CMDLINE;
  return boot.cmdlineExtra === undefined ? base : `${base} ${boot.cmdlineExtra}`;
}

export const workervisorVmm: LinuxVmm = {
  name: 'workervisor',
  panicExitCode: 3,
  supports: () => true,
  spawn(boot) {
    // -v: INFO lines (devices wired, why the guest reset or powered off) go with a failure's stderr.
    const extraArgs: string[] = ['-v', '--reboot', boot.reboot ?? 'exit'];
    for (const disk of boot.disks ?? []) extraArgs.push('--disk', `path=${disk.path}${disk.readonly === true ? ',readonly=on' : ''}`);
    if (boot.rng === true) extraArgs.push('--rng', 'src=/dev/urandom');
    if (boot.consoleSocket !== undefined) extraArgs.push('--console', `socket=${boot.consoleSocket}`);
    if (boot.vsock !== undefined) extraArgs.push('--vsock', `cid=${boot.vsock.cid},socket=${boot.vsock.socket}`);
    if (boot.net !== undefined) extraArgs.push('--net', `tap=${boot.net.tap},mac=${boot.net.mac}`);
    if (boot.balloon !== undefined) {
      const b = boot.balloon;
      extraArgs.push('--balloon', `size=${b.sizeMiB}M,deflate_on_oom=${b.deflateOnOom === true ? 'on' : 'off'}${b.statsIntervalS === undefined ? '' : `,stats_polling_interval_s=${b.statsIntervalS}`}`);
    }
    return Microvm.spawn({
      kernel: boot.kernel ?? linuxGuest.vmlinuz,
      initramfs: linuxGuest.initramfs,
      cmdline: cmdline(boot),
      cpus: boot.cpus ?? 1,
      memory: `${boot.memoryMiB ?? 256}M`,
      ...(boot.serialSocket === undefined ? {} : { serial: `socket=${boot.serialSocket}` }),
      ...(boot.apiSocket === undefined ? {} : { apiSocket: boot.apiSocket }),
      extraArgs,
    });
  },
};

/** QEMU's argv for `boot` under KVM. */
export function qemuKvmArgs(boot: LinuxBoot): string[] {
  const args = [
    '-M', 'microvm,acpi=on', '-enable-kvm', '-cpu', 'host',
    '-smp', String(boot.cpus ?? 1), '-m', String(boot.memoryMiB ?? 256),
    '-nodefaults', '-no-user-config', '-display', 'none',
    '-kernel', boot.kernel ?? linuxGuest.vmlinuz, '-initrd', linuxGuest.initramfs, '-append', cmdline(boot),
    // QEMU's ISA pvpanic is the device ours copies; a panic ends QEMU with exit code 1.
    '-device', 'pvpanic', '-action', 'panic=exit-failure',
  ];
  if (boot.serialSocket === undefined) args.push('-serial', 'stdio');
  else args.push('-chardev', `socket,id=com1,path=${boot.serialSocket},server=on,wait=off`, '-serial', 'chardev:com1');
  if ((boot.reboot ?? 'exit') === 'exit') args.push('-no-reboot');
  (boot.disks ?? []).forEach((disk, i) => {
    args.push('-drive', `id=vd${i},file=${disk.path},format=raw,if=none${disk.readonly === true ? ',readonly=on' : ''}`);
    args.push('-device', `virtio-blk-device,drive=vd${i}`);
  });
  if (boot.rng === true) args.push('-object', 'rng-random,id=rng0,filename=/dev/urandom', '-device', 'virtio-rng-device,rng=rng0');
  // QEMU's console is a port of a virtio-serial device (MULTIPORT); port 0 is the guest's hvc0.
  if (boot.consoleSocket !== undefined) {
    args.push('-device', 'virtio-serial-device', '-chardev', `socket,id=hvc0,path=${boot.consoleSocket},server=on,wait=off`, '-device', 'virtconsole,chardev=hvc0');
  }
  // vhost-vsock (the host kernel's /dev/vhost-vsock): the guest side is the same driver, the host side plain AF_VSOCK.
  if (boot.vsock !== undefined) args.push('-device', `vhost-vsock-device,guest-cid=${boot.vsock.cid}`);
  // vhost off: QEMU's own virtio-net on the tap, as ours is (no in-kernel data path).
  if (boot.net !== undefined) {
    args.push('-netdev', `tap,id=n0,ifname=${boot.net.tap},script=no,downscript=no,vhost=off`, '-device', `virtio-net-device,netdev=n0,mac=${boot.net.mac}`);
  }
  if (boot.balloon !== undefined) args.push('-device', `virtio-balloon-device,deflate-on-oom=${boot.balloon.deflateOnOom === true ? 'on' : 'off'}`);
  return args;
}

export const qemuKvmVmm: LinuxVmm = {
  name: 'qemu-kvm',
  panicExitCode: 1,
  supports: (boot) => boot.apiSocket === undefined && boot.kernel !== linuxGuest.vmlinuxElf64,
  spawn: (boot) => Microvm.spawnCommand(QEMU_BINARY, qemuKvmArgs(boot)),
};

/** Whether QEMU with KVM can serve as the reference here. */
export function qemuKvmStatus(): Readiness {
  const kvm = kvmStatus();
  if (!kvm.usable) return kvm;
  const probe = spawnSync(QEMU_BINARY, ['--version'], { stdio: 'ignore' });
  if (probe.error !== undefined || probe.status !== 0) return { usable: false, reason: `${QEMU_BINARY} is not installed (apt-get install qemu-system-x86)` };
  if (!existsSync(linuxGuest.vmlinuz)) return { usable: false, reason: 'the Linux guest is not built' };
  return { usable: true };
}
