// Multiple APIC Description Table: the local APIC of every vCPU, the IOAPIC and the ISA
// interrupt overrides. ACPI 6.5 section 5.2.12. Debian's kernel has CONFIG_X86_MPPARSE off,
// so this table is the only way it learns about the other CPUs.
import { le } from '@workervisor/base';
import { IOAPIC_START, LAPIC_START, MAX_VCPUS } from '../layout.js';
import { AcpiError } from './error.js';
import { buildSdt, SDT_HEADER_SIZE } from './sdt.js';

/** MADT revision 5 (ACPI 6.2+ layout, as Cloud Hypervisor writes it). */
export const MADT_REVISION = 5;

/**
 * PCAT_COMPAT (section 5.2.12 table 5.20): the machine also has dual 8259 PICs, which an
 * OS must mask before using the APICs. Set: KVM_CREATE_IRQCHIP does create the 8259 pair
 * (and the in-kernel PIT drives its IRQ0), so a guest that is not hardware-reduced-aware,
 * like our test guests, must mask it. Linux ignores the PICs in hardware-reduced mode
 * anyway (acpi_reduced_hw_init installs null_legacy_pic).
 */
export const MADT_FLAG_PCAT_COMPAT = 1 << 0;

// Interrupt Controller Structure types, section 5.2.12 table 5.21.
export const MADT_TYPE_LOCAL_APIC = 0;
export const MADT_TYPE_IO_APIC = 1;
export const MADT_TYPE_INTERRUPT_SOURCE_OVERRIDE = 2;
export const MADT_TYPE_LOCAL_APIC_NMI = 4;

const LOCAL_APIC_SIZE = 8; // section 5.2.12.2
const IO_APIC_SIZE = 12; // section 5.2.12.3
const INTERRUPT_SOURCE_OVERRIDE_SIZE = 10; // section 5.2.12.5
const LOCAL_APIC_NMI_SIZE = 6; // section 5.2.12.7
/** Local APIC Flags bit 0: the processor is usable. */
const LOCAL_APIC_ENABLED = 1 << 0;
/** ACPI Processor UID 0xFF in a Local APIC NMI entry means "all processors". */
const ALL_PROCESSORS = 0xff;
/** MPS INTI flags 0: polarity and trigger "conform to the bus" (ISA: edge, active high). */
const MPS_INTI_CONFORMS = 0;

/**
 * The IOAPIC's id: 0, as Cloud Hypervisor, Firecracker and QEMU use, because that is what
 * the in-kernel IOAPIC's ID register reads after KVM_CREATE_IRQCHIP. x86-64 Linux does not
 * require it to differ from the local APIC ids.
 */
export const IOAPIC_ID = 0;

/**
 * ISA IRQ -> GSI overrides. KVM's default routing wires the PIT (ISA IRQ 0) to IOAPIC pin 2,
 * as on real chipsets, so IRQ0 -> GSI 2 is required; every other ISA IRQ maps 1:1.
 */
export const INTERRUPT_SOURCE_OVERRIDES: ReadonlyArray<{ readonly irq: number; readonly gsi: number }> = [{ irq: 0, gsi: 2 }];

/** The local APIC pin that receives NMIs: LINT1, which the vCPU setup programs for NMI delivery. */
export const NMI_LINT = 1;

/** Size in bytes of the MADT for `vcpus` processors. */
export function madtSize(vcpus: number): number {
  return (
    SDT_HEADER_SIZE +
    8 +
    vcpus * LOCAL_APIC_SIZE +
    IO_APIC_SIZE +
    INTERRUPT_SOURCE_OVERRIDES.length * INTERRUPT_SOURCE_OVERRIDE_SIZE +
    LOCAL_APIC_NMI_SIZE
  );
}

/**
 * The MADT for `vcpus` (1..MAX_VCPUS) processors. vCPU i has ACPI Processor UID i and APIC
 * id i (the CPUID patching hands out the same ids); all are enabled at boot.
 */
export function buildMadt(vcpus: number): Uint8Array {
  if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > MAX_VCPUS) {
    throw new AcpiError('invalid-config', `vCPU count ${vcpus} is not in 1..${MAX_VCPUS}`);
  }
  const body = new Uint8Array(madtSize(vcpus) - SDT_HEADER_SIZE);
  le.putU32(body, 0, LAPIC_START); // Local Interrupt Controller Address
  le.putU32(body, 4, MADT_FLAG_PCAT_COMPAT);
  let off = 8;
  for (let cpu = 0; cpu < vcpus; cpu++) {
    body[off] = MADT_TYPE_LOCAL_APIC;
    body[off + 1] = LOCAL_APIC_SIZE;
    body[off + 2] = cpu; // ACPI Processor UID
    body[off + 3] = cpu; // APIC ID
    le.putU32(body, off + 4, LOCAL_APIC_ENABLED);
    off += LOCAL_APIC_SIZE;
  }
  body[off] = MADT_TYPE_IO_APIC;
  body[off + 1] = IO_APIC_SIZE;
  body[off + 2] = IOAPIC_ID;
  body[off + 3] = 0; // reserved
  le.putU32(body, off + 4, IOAPIC_START);
  le.putU32(body, off + 8, 0); // Global System Interrupt Base: pin n is GSI n
  off += IO_APIC_SIZE;
  for (const { irq, gsi } of INTERRUPT_SOURCE_OVERRIDES) {
    body[off] = MADT_TYPE_INTERRUPT_SOURCE_OVERRIDE;
    body[off + 1] = INTERRUPT_SOURCE_OVERRIDE_SIZE;
    body[off + 2] = 0; // Bus: ISA
    body[off + 3] = irq;
    le.putU32(body, off + 4, gsi);
    le.putU16(body, off + 8, MPS_INTI_CONFORMS);
    off += INTERRUPT_SOURCE_OVERRIDE_SIZE;
  }
  body[off] = MADT_TYPE_LOCAL_APIC_NMI;
  body[off + 1] = LOCAL_APIC_NMI_SIZE;
  body[off + 2] = ALL_PROCESSORS;
  le.putU16(body, off + 3, MPS_INTI_CONFORMS);
  body[off + 5] = NMI_LINT;
  return buildSdt({ signature: 'APIC', revision: MADT_REVISION }, body);
}
