// counter (PVH): magic at COUNTER_MAGIC_ADDR, "COUNTER-READY", then increments the u32 at
// COUNTER_VALUE_ADDR forever in ring 3. With cmdline exit-after=N the ring-3 loop stops at N and
// goes back to ring 0 through ring0_call (a ud2), which prints "COUNTER N ring 3", "DONE counter"
// and resets. With print-every=M it also goes to ring 0 each time the count is a multiple of M,
// prints "COUNT <n>" and drops back into the ring-3 loop, which goes on from the value in RAM
// (so a snapshot restored anywhere continues the sequence). Ring 3 does no port I/O (PVM raises
// #GP on it, see README.md).
#include "cpu.h"
#include "lib.h"
#include "pvh.h"

extern char user_stack_top[];

/* Set in ring 0 before the first entry to ring 3; ring 3 only reads them. */
static uint64_t limit;
static uint64_t every;

static void __attribute__((noreturn)) count(uint64_t unused);

/* Ring 0: the ring-3 loop reached its limit or a multiple of print-every. */
static void __attribute__((noreturn)) report(uint64_t v, unsigned caller_cpl)
{
	if (limit && v >= limit) {
		puts("COUNTER ");
		put_dec(v);
		puts(" ring ");
		put_dec(caller_cpl);
		serial_putc('\n');
		done("counter");
	}
	puts("COUNT ");
	put_dec(v);
	serial_putc('\n');
	enter_ring3(count, 0, user_stack_top, report);
}

/* Ring 3: no port I/O, no privileged instructions. */
static void __attribute__((noreturn)) count(uint64_t unused)
{
	volatile uint32_t *counter = (volatile uint32_t *)COUNTER_VALUE_ADDR;
	(void)unused;
	for (;;) {
		uint32_t v = *counter + 1;
		*counter = v;
		if ((limit && v >= limit) || (every && v % every == 0))
			ring0_call(v);
	}
}

void guest_main(const struct hvm_start_info *si)
{
	limit = cmdline_u64(pvh_cmdline(si), "exit-after", 0);
	every = cmdline_u64(pvh_cmdline(si), "print-every", 0);

	*(volatile uint32_t *)COUNTER_VALUE_ADDR = 0;
	*(volatile uint32_t *)COUNTER_MAGIC_ADDR = COUNTER_MAGIC;
	putln("COUNTER-READY");
	enter_ring3(count, 0, user_stack_top, report);
}
