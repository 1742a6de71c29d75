// poweroff (PVH): RSDP -> XSDT -> FADT sleep control register, \_S5_ SLP_TYP from the DSDT, then
// S5 through that register. Falls back to the FADT's PM1a control block when the FADT has no
// sleep control register (non-hardware-reduced ACPI, e.g. QEMU).
#include "acpi.h"
#include "lib.h"
#include "pvh.h"

void guest_main(const struct hvm_start_info *si)
{
	uint64_t rsdp = acpi_report_rsdp(si->rsdp_paddr);
	const struct acpi_sdt_header *fadt = acpi_find_table(rsdp, "FACP");
	if (!fadt)
		fail("no FADT");
	struct acpi_sleep_reg reg = acpi_fadt_sleep_reg(fadt);
	if (reg.kind == SLEEP_NONE)
		fail("FADT has neither a sleep control register nor PM1a_CNT_BLK");
	if (reg.space > 1)
		fail("sleep register is neither memory nor I/O");
	puts(reg.kind == SLEEP_CONTROL_REG ? "FADT sleep-control=" : "FADT pm1a-control=");
	put_hex(reg.address);
	serial_putc('\n');

	const struct acpi_sdt_header *dsdt = acpi_fadt_dsdt(fadt);
	if (!dsdt)
		fail("no DSDT");
	int slp_typ = acpi_dsdt_s5_slp_typ(dsdt);
	if (slp_typ < 0)
		fail("no \\_S5_ package in the DSDT");
	puts("S5 slp-typ=");
	put_dec((unsigned)slp_typ);
	serial_putc('\n');
	putln("DONE poweroff");

	acpi_sleep_s5(reg, slp_typ);
}
