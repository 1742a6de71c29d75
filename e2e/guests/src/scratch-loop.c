// scratch-loop (PVH): n=N (default 10000) byte writes to COM1's scratch register (0x3ff, a 16550
// register with no side effect) between "SCRATCH-START" and "SCRATCH-END", one read back, then
// power off through ACPI S5 (so QEMU -M microvm, which has no i8042 reset, ends too):
// the guest-driven device-access benchmark, the same guest under our VMM and under QEMU. The loop
// is ring 0 (port I/O from ring 3 faults on PVM) and three instructions per write: out, dec, jnz.
#include "acpi.h"
#include "lib.h"
#include "pvh.h"

#define COM1_SCR (COM1_PORT + 7)
#define SCRATCH_VALUE 0x5a

void guest_main(const struct hvm_start_info *si)
{
	uint64_t n = cmdline_u64(pvh_cmdline(si), "n", 10000);

	outb(COM1_SCR, 0);
	putln("SCRATCH-START");
	if (n) {
		__asm__ volatile(
			"1:\n\t"
			"outb %%al, %%dx\n\t"
			"decq %%rcx\n\t"
			"jnz 1b"
			: "+c"(n)
			: "a"(SCRATCH_VALUE), "d"(COM1_SCR)
			: "memory", "cc");
	}
	putln("SCRATCH-END");
	// The device really took the writes: the scratch register holds the last value written.
	if (inb(COM1_SCR) != SCRATCH_VALUE)
		fail("scratch register lost the writes");
	putln("DONE scratch-loop");
	acpi_poweroff(si->rsdp_paddr);
}
