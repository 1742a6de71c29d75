// smp (PVH): starts cpus=N CPUs (APIC ids 1..N-1) with INIT-SIPI-SIPI through the xAPIC ICR;
// every CPU prints "CPU <id> online", the last one "SMP OK cpus=N" and "DONE smp".
#include "lapic.h"
#include "lib.h"
#include "pvh.h"
#include "smp.h"

void guest_main(const struct hvm_start_info *si)
{
	uint64_t n = cmdline_u64(pvh_cmdline(si), "cpus", 1);
	static uint32_t ids[GUEST_MAX_CPUS];

	if (n < 1 || n > GUEST_MAX_CPUS)
		fail("cpus= out of range");
	smp_configure((unsigned)n, "SMP OK", "smp");
	lapic_enable();
	smp_install_trampoline();
	smp_check_in(); /* the BSP's own line */
	for (unsigned i = 1; i < n; i++)
		ids[i - 1] = i;
	smp_start_aps(ids, (unsigned)n - 1);
	smp_wait_all();
}
