// pio-bench (PVH): n=N (default 10000) byte writes to port PIO_BENCH_PORT between
// "PIO-BENCH-START" and "PIO-BENCH-END", from ring 3 with IOPL=3 unless built with USE_RING3=0.
#include "cpu.h"
#include "lib.h"
#include "pvh.h"

#ifndef USE_RING3
#define USE_RING3 1
#endif

extern char user_stack_top[];

static void __attribute__((noreturn)) bench(uint64_t n)
{
	putln("PIO-BENCH-START");
	for (uint64_t i = 0; i < n; i++)
		outb(PIO_BENCH_PORT, (uint8_t)i);
	putln("PIO-BENCH-END");
	done("pio-bench");
}

void guest_main(const struct hvm_start_info *si)
{
	uint64_t n = cmdline_u64(pvh_cmdline(si), "n", 10000);
#if USE_RING3
	enter_ring3((void (*)(uint64_t))bench, n, user_stack_top);
#else
	bench(n);
#endif
}
