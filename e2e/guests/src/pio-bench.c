// pio-bench (PVH): n=N (default 10000) byte writes to port PIO_BENCH_PORT between
// "PIO-BENCH-START" and "PIO-BENCH-END". The loop runs in ring 0 (PVM raises #GP on port I/O from
// ring 3 even with IOPL=3, see README.md) and is three instructions per write, since PVM emulates
// every ring-0 instruction: out, dec, jnz.
#include "lib.h"
#include "pvh.h"

void guest_main(const struct hvm_start_info *si)
{
	uint64_t n = cmdline_u64(pvh_cmdline(si), "n", 10000);

	putln("PIO-BENCH-START");
	if (n) {
		__asm__ volatile(
			"1:\n\t"
			"outb %%al, %%dx\n\t"
			"decq %%rcx\n\t"
			"jnz 1b"
			: "+c"(n)
			: "a"(0), "d"(PIO_BENCH_PORT)
			: "memory", "cc");
	}
	putln("PIO-BENCH-END");
	done("pio-bench");
}
