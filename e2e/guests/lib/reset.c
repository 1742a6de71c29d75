// Ending the VM: CPU reset through the i8042 (0xFE to port 0x64) or S5 through the ACPI
// shutdown port. If the VM keeps running, say so on the console and stop the CPU.
#include "lib.h"

#define AFTER_RESET_TICKS 4000000000ull

static void __attribute__((noreturn)) stop(void)
{
	for (;;) {
		if (cpl() == 0)
			__asm__ volatile("cli; hlt");
		else
			cpu_relax();
	}
}

void reset_i8042(void)
{
	outb(I8042_COMMAND_PORT, I8042_RESET_VALUE);
	tsc_delay(AFTER_RESET_TICKS);
	putln("FAIL i8042 reset did not end the VM");
	stop();
}

void poweroff_fixed_port(void)
{
	outb(ACPI_SHUTDOWN_PORT, (ACPI_S5_SLEEP_TYPE << 2) | (1 << 5));
	tsc_delay(AFTER_RESET_TICKS);
	putln("FAIL ACPI S5 did not end the VM");
	stop();
}

void fail(const char *reason)
{
	puts("FAIL ");
	putln(reason);
	reset_i8042();
}

void done(const char *name)
{
	puts("DONE ");
	putln(name);
	reset_i8042();
}
