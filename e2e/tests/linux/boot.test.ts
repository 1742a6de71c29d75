// Debian's cloud kernel booted by Workervisor through each x86 entry — bzImage (Linux boot
// protocol), the ELF's PVH note, and the ELF's own 64-bit entry with a zero page — on 1, 2 and 4
// vCPUs; every CPU must come online (MADT + INIT/SIPI). DESIGN.md "The machine", tier 3.
import { expect } from 'vitest';
import {
  describeWhen,
  guestCheck,
  guestPowerOff,
  linuxGuest,
  linuxTest,
  linuxTierStatus,
  referenceTest,
  waitReady,
  type Scenario,
} from '../../framework/index.js';

/** Boots `kernel` on `cpus` vCPUs, checks the CPUs and a shell command, and powers off. */
function bootScenario(kernel: string, cpus: number, label: string): Scenario {
  return async ({ spawn, vmm }) => {
    const vm = spawn({ kernel, cpus });
    const ready = await waitReady(vm, `${vmm.name} ${label}`);
    expect(ready.nproc, 'online CPUs seen by the guest').toBe(cpus);
    expect(ready.root).toBe('rootfs');
    expect(await guestCheck(vm, 'cat /sys/devices/system/cpu/online')).toBe(cpus === 1 ? '0' : `0-${cpus - 1}`);
    expect(await guestCheck(vm, 'echo $((6*7))')).toBe('42');
    // Every virtio driver /init loaded registered (virtio_mmio bound to the bus).
    expect((await guestCheck(vm, 'ls /sys/bus/virtio/drivers')).split(/\s+/)).toEqual(expect.arrayContaining(['virtio_blk', 'virtio_net', 'virtio_rng']));
    expect(await guestPowerOff(vm)).toEqual({ code: 0, signal: null });
    expect(vm.serial).toMatch(/reboot: Power down/);
    expect(vm.serial).not.toMatch(/Kernel panic/);
  };
}

describeWhen(linuxTierStatus(), 'Debian cloud kernel: entry paths and SMP', () => {
  linuxTest('boots from the bzImage (vmlinuz) on 2 vCPUs', bootScenario(linuxGuest.vmlinuz, 2, 'bzImage 2 vCPUs'));
  linuxTest('boots from the PVH ELF (vmlinux) on 4 vCPUs', bootScenario(linuxGuest.vmlinux, 4, 'PVH 4 vCPUs'));
  // QEMU cannot boot an ELF without a PVH note: no reference for this one.
  linuxTest('boots from the ELF 64-bit entry (vmlinux without its PVH note) on 1 vCPU', bootScenario(linuxGuest.vmlinuxElf64, 1, 'ELF64 1 vCPU'), { reference: false });
  // Proves the reference itself works in this run; 1 vCPU, where QEMU-KVM inside the nested L1
  // has been steady (with 2-4 vCPUs it stalled in RCU or reset before init in some runs).
  referenceTest('boots from the bzImage on 1 vCPU', bootScenario(linuxGuest.vmlinuz, 1, 'bzImage 1 vCPU'));
});
