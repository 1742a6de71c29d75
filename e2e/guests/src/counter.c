// counter (PVH): magic at COUNTER_MAGIC_ADDR, "COUNTER-READY", then increments the u32 at
// COUNTER_VALUE_ADDR forever in ring 3. With cmdline exit-after=N the ring-3 loop stops at N and
// goes back to ring 0 through ring0_call (`int $0x80`), which prints "COUNTER N ring 3",
// "DONE counter" and resets: ring 3 does no port I/O (PVM raises #GP on it, see README.md).
#include "cpu.h"
#include "lib.h"
#include "pvh.h"

extern char user_stack_top[];

/* Ring 0: the ring-3 loop reached its limit. */
static void __attribute__((noreturn)) report(uint64_t v, unsigned caller_cpl)
{
	puts("COUNTER ");
	put_dec(v);
	puts(" ring ");
	put_dec(caller_cpl);
	serial_putc('\n');
	done("counter");
}

/* Ring 3: no port I/O, no privileged instructions. */
static void __attribute__((noreturn)) count(uint64_t limit)
{
	volatile uint32_t *counter = (volatile uint32_t *)COUNTER_VALUE_ADDR;
	for (;;) {
		uint32_t v = *counter + 1;
		*counter = v;
		if (limit && v >= limit)
			ring0_call(v);
	}
}

void guest_main(const struct hvm_start_info *si)
{
	uint64_t limit = cmdline_u64(pvh_cmdline(si), "exit-after", 0);

	*(volatile uint32_t *)COUNTER_VALUE_ADDR = 0;
	*(volatile uint32_t *)COUNTER_MAGIC_ADDR = COUNTER_MAGIC;
	putln("COUNTER-READY");
	enter_ring3((void (*)(uint64_t))count, limit, user_stack_top, report);
}
