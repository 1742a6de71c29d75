/* Machine layout seen by the test guests. Mirrors packages/vmm-core/src/arch/x86_64/layout.ts:
 * change both together. Also included from assembly, so plain #defines only. */
#ifndef GUEST_PLATFORM_H
#define GUEST_PLATFORM_H

#define HIGH_MEMORY_START     0x100000    /* where every guest image is linked (1 MiB) */
#define MMIO_GAP_START        0xC0000000
#define BOOT_TIMER_START      0xC0000000  /* Firecracker's boot timer: write 123 here */
#define BOOT_TIMER_MAGIC      123
#define IOAPIC_START          0xFEC00000
#define LAPIC_START           0xFEE00000
#define RSDP_START            0xE0000     /* VMM puts the RSDP here */
#define AP_TRAMPOLINE_START   0x8000      /* SIPI vector = 0x08 */
#define EBDA_START            0x9FC00
#define CMDLINE_START         0x20000

#define COM1_PORT             0x3F8
#define I8042_COMMAND_PORT    0x64
#define I8042_RESET_VALUE     0xFE
#define DEBUG_PORT            0x80
#define ACPI_SHUTDOWN_PORT    0x600       /* sleep control/status + reset register, 1 byte */
#define ACPI_S5_SLEEP_TYPE    5
#define ACPI_RESET_VALUE      0x1
#define MAX_VCPUS             254

/* Guest-only conventions (not in layout.ts). */
#define COUNTER_MAGIC_ADDR    0x200000    /* counter guest: u32 magic here, u32 counter at +4 */
#define COUNTER_VALUE_ADDR    0x200004
#define COUNTER_MAGIC         0xC0FFEE01
#define COUNTER_AP_BASE       0x200010    /* counter guest with cpus=N: AP k's u32 counter at +4*k */
#define PIO_BENCH_PORT        0x81
#define GUEST_MAX_CPUS        64          /* per-CPU stacks reserved in the image */

/* GDT selectors (arch/common.S). */
#define SEL_CODE32            0x08
#define SEL_DATA              0x10
#define SEL_CODE64            0x18
#define SEL_USER_DATA         0x20
#define SEL_USER_CODE64       0x28
#define SEL_TSS               0x30
#define GDT_SIZE              0x40        /* 6 descriptors + the 16-byte TSS descriptor */

#endif
