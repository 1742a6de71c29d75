// The VM-wide KVM state of a snapshot: the KVM clock, the in-kernel irqchip (PIC master, PIC
// slave, IOAPIC) and the PIT, in Firecracker's restore order (vstate/vm.rs restore_state).
import type { VmFd } from '@workervisor/native';
import type { VmKvmState } from './format.js';

/** Byte offset of kvm_clock_data.flags (after the u64 clock). */
const CLOCK_FLAGS_OFFSET = 8;

export function saveVmState(vm: VmFd): VmKvmState {
  return {
    clock: vm.getStateBlob('clock'),
    'pic-master': vm.getStateBlob('pic-master'),
    'pic-slave': vm.getStateBlob('pic-slave'),
    ioapic: vm.getStateBlob('ioapic'),
    pit2: vm.getStateBlob('pit2'),
  };
}

/**
 * Restores a saveVmState() into a fresh VM. The clock is set with no flags: KVM takes the saved
 * value as is, so guest time goes on from the moment of the snapshot (Firecracker's choice)
 * rather than jumping by the time the snapshot sat on disk (KVM_CLOCK_REALTIME), and
 * KVM_CLOCK_TSC_STABLE, which KVM reports but does not accept, is cleared.
 */
export function restoreVmState(vm: VmFd, s: VmKvmState): void {
  vm.setStateBlob('pit2', s.pit2);
  const clock = s.clock.slice();
  new DataView(clock.buffer).setUint32(CLOCK_FLAGS_OFFSET, 0, true);
  vm.setStateBlob('clock', clock);
  vm.setStateBlob('pic-master', s['pic-master']);
  vm.setStateBlob('pic-slave', s['pic-slave']);
  vm.setStateBlob('ioapic', s.ioapic);
}
