// pvh-info (PVH): prints hvm_start_info (magic, version, cmdline, modules, RSDP, memory map).
#include "acpi.h"
#include "lib.h"
#include "pvh.h"

void guest_main(const struct hvm_start_info *si)
{
	puts("PVH magic=");
	put_hex(si->magic);
	puts(" version=");
	put_dec(si->version);
	serial_putc('\n');

	puts("CMDLINE ");
	putln(pvh_cmdline(si));

	puts("MODULES ");
	put_dec(si->nr_modules);
	serial_putc('\n');
	if (si->nr_modules) {
		const struct hvm_modlist_entry *m = (const struct hvm_modlist_entry *)si->modlist_paddr;
		puts("MODULE ");
		put_hex(m->paddr);
		serial_putc(' ');
		put_hex(m->size);
		serial_putc('\n');
	}

	acpi_report_rsdp(si->rsdp_paddr);

	if (si->version < 1)
		fail("hvm_start_info version 0 has no memory map");
	puts("MEMMAP ");
	put_dec(si->memmap_entries);
	putln(" entries");
	const struct hvm_memmap_table_entry *e = (const struct hvm_memmap_table_entry *)si->memmap_paddr;
	for (unsigned i = 0; i < si->memmap_entries && i < 128; i++) {
		put_range("MEMMAP", e[i].addr, e[i].size, e[i].type);
	}
	done("pvh-info");
}
