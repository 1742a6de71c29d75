// triple-fault (PVH): crashes the CPU on purpose. With an empty IDT, int3 cannot be delivered,
// nor can the #GP or the #DF that follow: a triple fault, which KVM reports as KVM_EXIT_SHUTDOWN
// and real hardware answers with a reset.
#include "lib.h"
#include "pvh.h"

void guest_main(const struct hvm_start_info *si)
{
	(void)si;
	static const struct __attribute__((packed)) { uint16_t limit; uint64_t base; } empty_idt = { 0, 0 };
	putln("TRIPLE-FAULT now");
	__asm__ volatile("lidt %0\n\tint3" : : "m"(empty_idt));
	putln("FAIL still running after the triple fault");
	done("triple-fault");
}
