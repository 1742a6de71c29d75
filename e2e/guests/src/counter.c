// counter (PVH): magic at COUNTER_MAGIC_ADDR, "COUNTER-READY", then increments the u32 at
// COUNTER_VALUE_ADDR forever in ring 3. With cmdline exit-after=N the ring-3 loop stops at N and
// goes back to ring 0 through ring0_call (a ud2), which prints "COUNTER N ring 3", "DONE counter"
// and resets. With print-every=M it also goes to ring 0 each time the count is a multiple of M,
// prints "COUNT <n>" and drops back into the ring-3 loop, which goes on from the value in RAM
// (so a snapshot restored anywhere continues the sequence). With cpus=N (2..GUEST_MAX_CPUS) the
// APs start too and each counts its own u32 at COUNTER_AP_BASE + 4*id in ring 3, never leaving
// it; the COUNT lines then list them. Ring 3 does no port I/O (PVM raises #GP on it, README.md).
#include "cpu.h"
#include "lapic.h"
#include "lib.h"
#include "pvh.h"
#include "smp.h"

extern char user_stack_top[];

/* Set in ring 0 before the first entry to ring 3; ring 3 only reads them. */
static uint64_t limit;
static uint64_t every;
static unsigned cpus = 1;
/* APs that reached their ring-3 loop (each adds itself from ring 3). */
static volatile uint32_t aps_counting;
/* Ring-3 stacks of the APs (their loops need a few bytes; the BSP has user_stack_top). */
static char ap_user_stacks[GUEST_MAX_CPUS][256] __attribute__((aligned(16)));

static volatile uint32_t *ap_counter(unsigned id)
{
	return (volatile uint32_t *)(COUNTER_AP_BASE + 4 * (uint64_t)id);
}

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
	for (unsigned id = 1; id < cpus; id++) {
		puts(" ap");
		put_dec(id);
		serial_putc('=');
		put_dec(*ap_counter(id));
	}
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

/* Ring 3 on an AP: count forever, never back to ring 0 (they all share the BSP's TSS). */
static void __attribute__((noreturn)) ap_count(uint64_t id)
{
	volatile uint32_t *counter = ap_counter((unsigned)id);
	atomic_fetch_add32(&aps_counting, 1);
	for (;;)
		*counter = *counter + 1;
}

static void __attribute__((noreturn)) ap_unexpected(uint64_t v, unsigned caller_cpl)
{
	(void)v;
	(void)caller_cpl;
	fail("ring0_call from an AP");
}

void ap_work(void)
{
	uint32_t id = lapic_id();
	/* One at a time through enter_ring3's TSS setup: ltr of a descriptor another CPU just marked busy faults. */
	while (aps_counting != id - 1)
		cpu_relax();
	enter_ring3(ap_count, id, ap_user_stacks[id] + sizeof(ap_user_stacks[id]), ap_unexpected);
}

void guest_main(const struct hvm_start_info *si)
{
	const char *cmdline = pvh_cmdline(si);
	limit = cmdline_u64(cmdline, "exit-after", 0);
	every = cmdline_u64(cmdline, "print-every", 0);
	cpus = (unsigned)cmdline_u64(cmdline, "cpus", 1);
	if (cpus < 1 || cpus > GUEST_MAX_CPUS)
		fail("cpus= out of range");

	*(volatile uint32_t *)COUNTER_VALUE_ADDR = 0;
	for (unsigned id = 1; id < cpus; id++)
		*ap_counter(id) = 0;
	*(volatile uint32_t *)COUNTER_MAGIC_ADDR = COUNTER_MAGIC;
	if (cpus > 1) {
		static uint32_t ids[GUEST_MAX_CPUS];
		/* The check-in count never reaches cpus + 1: nothing ends the VM from there. */
		smp_configure(cpus + 1, "", "counter");
		lapic_enable();
		smp_install_trampoline();
		for (unsigned i = 1; i < cpus; i++)
			ids[i - 1] = i;
		smp_start_aps(ids, cpus - 1);
		uint64_t start = rdtsc();
		while (aps_counting < cpus - 1) {
			if (rdtsc() - start > TIMEOUT_TSC_TICKS)
				fail("APs did not start counting");
			cpu_relax();
		}
	}
	spin_lock(&print_lock);
	putln("COUNTER-READY");
	spin_unlock(&print_lock);
	enter_ring3(count, 0, user_stack_top, report);
}
