// Local APIC LINT0/LINT1 setup on the KVM_GET_LAPIC register page, as Firecracker's set_lint:
// LINT0 takes the PIC's ExtINT, LINT1 delivers NMI. Spec: Intel SDM vol. 3A 11.5.1 (LVT).
import { le } from '@workervisor/base';
import { X86Error } from './errors.js';

/** sizeof(struct kvm_lapic_state): the 4 KiB APIC page's first 1 KiB. */
export const LAPIC_STATE_SIZE = 1024;
/** Register offsets in the APIC page. */
export const APIC_LVT_LINT0 = 0x350;
export const APIC_LVT_LINT1 = 0x360;
/** LVT delivery mode, bits 10:8. */
export const APIC_DELIVERY_MODE_MASK = 0x700;
export const APIC_MODE_NMI = 0x4;
export const APIC_MODE_EXTINT = 0x7;

function setDeliveryMode(regs: Uint8Array, offset: number, mode: number): void {
  const v = le.u32(regs, offset);
  le.putU32(regs, offset, ((v & ~APIC_DELIVERY_MODE_MASK) | (mode << 8)) >>> 0);
}

/**
 * Returns a copy of a KVM_GET_LAPIC register page with LVT LINT0 in ExtINT and LINT1 in NMI
 * delivery mode, other LVT bits (mask, trigger, vector) unchanged. Throws X86Error('invalid-state')
 * unless the page is 1024 bytes.
 */
export function withLintDeliveryModes(lapic: Uint8Array): Uint8Array {
  if (lapic.length !== LAPIC_STATE_SIZE) {
    throw new X86Error('invalid-state', `LAPIC state is ${lapic.length} bytes, not ${LAPIC_STATE_SIZE}`);
  }
  const out = lapic.slice();
  setDeliveryMode(out, APIC_LVT_LINT0, APIC_MODE_EXTINT);
  setDeliveryMode(out, APIC_LVT_LINT1, APIC_MODE_NMI);
  return out;
}
