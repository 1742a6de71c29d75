// hello (PVH): the smallest boot check. Prints a line, signals "booted" to Firecracker's boot
// timer and the debug port, then resets through the i8042.
#include "lib.h"
#include "pvh.h"

void guest_main(const struct hvm_start_info *si)
{
	(void)si;
	putln("Hello from workervisor guest");
	*(volatile uint8_t *)BOOT_TIMER_START = BOOT_TIMER_MAGIC;
	outb(DEBUG_PORT, 0x42);
	done("hello");
}
