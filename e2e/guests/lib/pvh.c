// C side of the PVH entry (arch/pvh-entry.S): CPU tables, then the guest.
#include "pvh.h"
#include "cpu.h"
#include "lib.h"

void __attribute__((noreturn)) pvh_main(uint64_t start_info)
{
	const struct hvm_start_info *si = (const struct hvm_start_info *)start_info;
	cpu_init_bsp();
	if (si->magic != HVM_START_MAGIC)
		fail("hvm_start_info magic");
	guest_main(si);
}

const char *pvh_cmdline(const struct hvm_start_info *si)
{
	return si->cmdline_paddr ? (const char *)si->cmdline_paddr : "";
}
