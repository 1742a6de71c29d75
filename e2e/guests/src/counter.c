// counter (PVH): magic at COUNTER_MAGIC_ADDR, "COUNTER-READY", then increments the u32 at
// COUNTER_VALUE_ADDR forever (or up to cmdline exit-after=N, then "DONE counter" and reset).
// The loop runs in ring 3 (IOPL=3) unless built with USE_RING3=0.
#include "cpu.h"
#include "lib.h"
#include "pvh.h"

#ifndef USE_RING3
#define USE_RING3 1
#endif

extern char user_stack_top[];

static void __attribute__((noreturn)) count(uint64_t limit)
{
	volatile uint32_t *counter = (volatile uint32_t *)COUNTER_VALUE_ADDR;
	for (;;) {
		uint32_t v = *counter + 1;
		*counter = v;
		if (limit && v >= limit) {
			puts("COUNTER ");
			put_dec(v);
			puts(" ring ");
			put_dec(cpl());
			serial_putc('\n');
			done("counter");
		}
	}
}

void guest_main(const struct hvm_start_info *si)
{
	uint64_t limit = cmdline_u64(pvh_cmdline(si), "exit-after", 0);

	*(volatile uint32_t *)COUNTER_VALUE_ADDR = 0;
	*(volatile uint32_t *)COUNTER_MAGIC_ADDR = COUNTER_MAGIC;
	putln("COUNTER-READY");
#if USE_RING3
	enter_ring3((void (*)(uint64_t))count, limit, user_stack_top);
#else
	count(limit);
#endif
}
