/* ACPI table walking (ACPI 6.5 chapter 5): RSDP, XSDT (or RSDT), MADT, FADT, DSDT \_S5_. */
#ifndef GUEST_ACPI_H
#define GUEST_ACPI_H

#include <stdint.h>
#include <stdbool.h>

struct __attribute__((packed)) acpi_sdt_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
};

/* Checks the "RSD PTR " signature and checksums; false if addr is 0 or they do not match. */
bool acpi_rsdp_valid(uint64_t addr);
/* Prints "RSDP <given>"; if given is 0, scans and prints "RSDP-SCAN <found>"; checks the
 * signature and checksums and prints "RSDP OK" (or FAIL + reset). Returns the RSDP address. */
uint64_t acpi_report_rsdp(uint64_t given);
/* Legacy scan: first KiB of the EBDA, then 0xE0000-0xFFFFF on 16-byte boundaries; 0 if none. */
uint64_t acpi_rsdp_scan(void);
/* Find a table by signature through the XSDT (RSDT if the RSDP has no XSDT); NULL if absent
 * or its checksum is wrong. */
const struct acpi_sdt_header *acpi_find_table(uint64_t rsdp, const char sig[4]);

/* MADT: APIC ids of the enabled Processor Local APIC entries (type 0, flags bit 0). */
unsigned acpi_madt_cpus(const struct acpi_sdt_header *madt, uint32_t *ids, unsigned max);

/* FADT: the sleep control register (ACPI 5+ hardware-reduced), or PM1a control block. */
struct acpi_sleep_reg {
	enum { SLEEP_NONE, SLEEP_CONTROL_REG, SLEEP_PM1A_CNT } kind;
	uint8_t space;    /* GAS address space: 0 memory, 1 I/O */
	uint8_t width;    /* access width in bits */
	uint64_t address;
};
struct acpi_sleep_reg acpi_fadt_sleep_reg(const struct acpi_sdt_header *fadt);
const struct acpi_sdt_header *acpi_fadt_dsdt(const struct acpi_sdt_header *fadt);
/* SLP_TYPa from the first element of the \_S5_ package in the DSDT; -1 if not found. */
int acpi_dsdt_s5_slp_typ(const struct acpi_sdt_header *dsdt);
/* S5 through the FADT's sleep control register (or PM1a control), silently; fail()s if the VM runs on. */
/* Writes SLP_TYP (slp_typ) + SLP_EN to the FADT sleep register `reg`; fails if still running after. */
void __attribute__((noreturn)) acpi_sleep_s5(struct acpi_sleep_reg reg, int slp_typ);
void __attribute__((noreturn)) acpi_poweroff(uint64_t rsdp);

#endif
