// Can this machine run guests? /dev/kvm checks and nested-PVM detection (DESIGN.md
// "The machine, and how tests cope").
import { closeSync, constants, existsSync, openSync } from 'node:fs';

/** Whether a test tier can run here; `reason` says why not, for the skip message. */
export interface Readiness {
  usable: boolean;
  reason?: string;
}

const KVM_DEVICE = '/dev/kvm';

/** Whether /dev/kvm exists and this process can open it read/write. */
export function kvmStatus(): Readiness {
  if (!existsSync(KVM_DEVICE)) {
    return { usable: false, reason: `${KVM_DEVICE} does not exist (no KVM on this machine)` };
  }
  try {
    closeSync(openSync(KVM_DEVICE, constants.O_RDWR));
    return { usable: true };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    const hint = code === 'EACCES' ? ' (add this user to the kvm group)' : '';
    return { usable: false, reason: `cannot open ${KVM_DEVICE} read/write: ${code}${hint}` };
  }
}

/**
 * Whether /dev/kvm is nested PVM (the `kvm_pvm` module): ring 0 is emulated there, and a
 * stock Linux kernel cannot boot.
 */
export function isNestedPvm(): boolean {
  return existsSync('/sys/module/kvm_pvm');
}
