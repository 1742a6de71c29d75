// AP start-up and the check-in protocol shared by the smp and acpi-smp guests.
#include "smp.h"
#include "cpu.h"
#include "lapic.h"
#include "lib.h"

extern const char trampoline_start[], trampoline_end[];

static volatile uint32_t online;
static unsigned expected_cpus;
static const char *ok_text;
static const char *guest_name;

void smp_configure(unsigned expected, const char *ok_line, const char *name)
{
	expected_cpus = expected;
	ok_text = ok_line;
	guest_name = name;
}

void smp_install_trampoline(void)
{
	memcpy((void *)AP_TRAMPOLINE_START, trampoline_start, (size_t)(trampoline_end - trampoline_start));
}

void smp_start_aps(const uint32_t *ids, unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		if (!lapic_start_ap(ids[i], AP_TRAMPOLINE_START >> 12)) {
			spin_lock(&print_lock);
			puts("FAIL IPI to APIC id ");
			put_dec(ids[i]);
			putln(" stayed pending");
			reset_i8042();
		}
	}
}

void smp_check_in(void)
{
	uint32_t id = lapic_id();
	spin_lock(&print_lock);
	puts("CPU ");
	put_dec(id);
	putln(" online");
	if (atomic_fetch_add32(&online, 1) + 1 == expected_cpus) {
		puts(ok_text);
		puts(" cpus=");
		put_dec(expected_cpus);
		serial_putc('\n');
		done(guest_name);
	}
	spin_unlock(&print_lock);
}

void smp_wait_all(void)
{
	uint64_t start = rdtsc();
	/* Bounded twice over: by TSC ticks and by iterations (each ~10 emulated instructions). */
	for (uint64_t i = 0; i < 2000000000ull && rdtsc() - start < TIMEOUT_TSC_TICKS; i++) {
		if (online >= expected_cpus) /* the last CPU to check in resets the VM */
			for (;;)
				__asm__ volatile("cli; hlt");
		cpu_relax();
	}
	spin_lock(&print_lock);
	puts("FAIL smp timeout online=");
	put_dec(online);
	puts(" expected=");
	put_dec(expected_cpus);
	serial_putc('\n');
	reset_i8042();
}

/* What an AP does after checking in; a guest may define its own (counter: a ring-3 loop). */
void __attribute__((weak)) ap_work(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

void ap_main(void)
{
	cpu_init_ap();
	smp_check_in();
	ap_work();
}
