// Guest physical and port layout of the x86_64 machine (DESIGN.md "Guest memory", "x86_64 platform").
// Test guests in e2e/guests/ hard-code the same numbers in guests/include/platform.h: change both.

/** 1 MiB: where protected-mode kernels load (HIGH_MEMORY_START). */
export const HIGH_MEMORY_START = 0x10_0000;
/** The 32-bit MMIO gap [MMIO_GAP_START, 4 GiB): no RAM there. */
export const MMIO_GAP_START = 0xc000_0000;
export const MMIO_GAP_END = 0x1_0000_0000;
/** RAM above the gap starts here. */
export const HIGH_RAM_START = 0x1_0000_0000;

// Low memory (below 1 MiB) used by the loaders. Same spots as Firecracker where it has one.
/** Boot GDT (flat code/data descriptors) and empty IDT. */
export const BOOT_GDT_START = 0x500;
export const BOOT_IDT_START = 0x520;
/** PVH: hvm_start_info, its module list and its memory map. */
export const PVH_INFO_START = 0x6000;
export const PVH_MODLIST_START = 0x6040;
export const PVH_MEMMAP_START = 0x7000;
/** Linux boot protocol: the zero page (struct boot_params). */
export const ZERO_PAGE_START = 0x7000;
/** Initial stack pointer for the boot CPU. */
export const BOOT_STACK_POINTER = 0x8ff0;
/** Identity-mapped page tables for the 64-bit entry: PML4, PDPT, PD (1 GiB of 2 MiB pages x4). */
export const PML4_START = 0x9000;
export const PDPTE_START = 0xa000;
export const PDE_START = 0xb000;
/** Kernel command line (NUL terminated). */
export const CMDLINE_START = 0x2_0000;
export const CMDLINE_MAX_SIZE = 0x1_0000;
/** Start of the EBDA; RAM below it is usable, [EBDA_START, 1 MiB) is reserved in the e820 map. */
export const EBDA_START = 0x9_fc00;
/** ACPI tables: RSDP here (inside the legacy 0xE0000-0xFFFFF scan window), the rest after it. */
export const RSDP_START = 0xe_0000;
export const ACPI_TABLES_END = 0xf_0000;
/** AP start-up trampoline page for SIPI (vector = this >> 12); used by test guests. */
export const AP_TRAMPOLINE_START = 0x8000;

// MMIO gap contents.
/** Firecracker's boot timer: a guest write of 123 here logs the boot time. 4 KiB. */
export const BOOT_TIMER_START = 0xc000_0000;
export const BOOT_TIMER_SIZE = 0x1000;
/**
 * The ACPI Generic Event Device's event register (1 byte, read-to-clear; bit 3 = power button),
 * in the page after the boot timer. The DSDT's GED reads it through an OperationRegion.
 */
export const GED_START = 0xc000_1000;
export const GED_SIZE = 1;
/** virtio-mmio slots: slot i at VIRTIO_MMIO_START + i * VIRTIO_MMIO_SIZE, interrupt VIRTIO_IRQ_BASE + i. */
export const VIRTIO_MMIO_START = 0xd000_0000;
export const VIRTIO_MMIO_SIZE = 0x1000;
export const VIRTIO_MMIO_SLOTS = 16;
export const VIRTIO_IRQ_BASE = 5;
export const IOAPIC_START = 0xfec0_0000;
export const LAPIC_START = 0xfee0_0000;
/** KVM_SET_TSS_ADDR needs 3 pages and KVM_SET_IDENTITY_MAP_ADDR 1, inside the gap, below the IOAPIC. */
export const KVM_TSS_ADDRESS = 0xfffb_d000;
export const KVM_IDENTITY_MAP_ADDRESS = 0xfffb_c000;

// I/O ports and GSIs.
export const COM1_PORT = 0x3f8;
export const COM1_IRQ = 4;
export const I8042_DATA_PORT = 0x60;
export const I8042_COMMAND_PORT = 0x64;
export const I8042_IRQ = 1;
export const DEBUG_PORT = 0x80;
/** QEMU's pvpanic port (its ISA pvpanic default): the DSDT's QEMU0001 node points here. */
export const PVPANIC_PORT = 0x505;
/**
 * The GED interrupt: the last pin of KVM's 24-pin IOAPIC, edge-triggered. Not an ISA IRQ
 * (no legacy meaning, no MADT override) and clear of COM1 4, i8042 1, the PIT on 2 and the
 * virtio slots VIRTIO_IRQ_BASE..VIRTIO_IRQ_BASE + VIRTIO_MMIO_SLOTS - 1 (5..20).
 */
export const GED_IRQ = 23;
/**
 * ACPI sleep control/status and reset register, one byte (Cloud Hypervisor's AcpiShutdownDevice).
 * Write (SLP_TYP 5 << 2) | SLP_EN (1 << 5) = 0x34 -> S5 power off; write ACPI_RESET_VALUE -> reset.
 */
export const ACPI_SHUTDOWN_PORT = 0x600;
export const ACPI_S5_SLEEP_TYPE = 5;
export const ACPI_RESET_VALUE = 0x1;
/** Highest APIC id we hand out + 1; x2APIC is not used so ids stay below 255. */
export const MAX_VCPUS = 254;
