// hello (PVH): the smallest boot check. Prints a line, then resets through the i8042.
#include "lib.h"
#include "pvh.h"

void guest_main(const struct hvm_start_info *si)
{
	(void)si;
	putln("Hello from workervisor guest");
	done("hello");
}
