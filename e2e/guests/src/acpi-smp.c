// acpi-smp (PVH): RSDP (start info, cross-checked by the legacy scan) -> XSDT -> MADT; starts
// exactly the enabled local APICs with INIT-SIPI-SIPI and counts them in.
#include "acpi.h"
#include "lapic.h"
#include "lib.h"
#include "pvh.h"
#include "smp.h"

void guest_main(const struct hvm_start_info *si)
{
	static uint32_t ids[MAX_VCPUS + 1], aps[MAX_VCPUS + 1];

	uint64_t rsdp = acpi_report_rsdp(si->rsdp_paddr);
	uint64_t scanned = acpi_rsdp_scan();
	if (si->rsdp_paddr) {
		puts("RSDP-SCAN ");
		put_hex(scanned);
		serial_putc('\n');
		if (scanned != rsdp)
			fail("legacy RSDP scan disagrees with hvm_start_info.rsdp_paddr");
	}

	const struct acpi_sdt_header *madt = acpi_find_table(rsdp, "APIC");
	if (!madt)
		fail("no MADT");
	unsigned n = acpi_madt_cpus(madt, ids, MAX_VCPUS + 1);
	puts("MADT cpus=");
	put_dec(n);
	serial_putc('\n');
	if (n < 1 || n > GUEST_MAX_CPUS)
		fail("MADT cpu count out of range");

	uint32_t self = lapic_id();
	unsigned naps = 0, found_self = 0;
	for (unsigned i = 0; i < n; i++) {
		if (ids[i] == self)
			found_self = 1;
		else
			aps[naps++] = ids[i];
	}
	if (!found_self)
		fail("boot CPU APIC id not in the MADT");

	smp_configure(n, "ACPI-SMP OK", "acpi-smp");
	lapic_enable();
	smp_install_trampoline();
	smp_check_in();
	smp_start_aps(aps, naps);
	smp_wait_all();
}
