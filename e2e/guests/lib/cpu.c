// GDT/IDT/TSS setup, the drop to ring 3 and the way back (Intel SDM vol. 3, 7.7 64-bit TSS,
// 6.14 64-bit IDT).
#include "cpu.h"
#include "lib.h"

struct __attribute__((packed)) desc_ptr {
	uint16_t limit;
	uint64_t base;
};

struct __attribute__((packed)) tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
};

struct idt_gate {
	uint16_t offset_low;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t offset_mid;
	uint32_t offset_high;
	uint32_t reserved;
};

extern uint64_t gdt[];
extern const struct desc_ptr gdtr;
extern const uint64_t exc_stub_table[32];
extern char boot_stack_top[];

uint64_t boot_info_paddr;

static struct idt_gate idt[32];
static struct desc_ptr idtr;
static struct tss64 tss;
static ring0_call_fn ring0_call_target;

static void load_gdt(void)
{
	/* Reload CS with a far return, then the data segments. */
	__asm__ volatile(
		"lgdt %0\n\t"
		"pushq %1\n\t"
		"leaq 1f(%%rip), %%rax\n\t"
		"pushq %%rax\n\t"
		"lretq\n"
		"1:\n\t"
		"movl %2, %%eax\n\t"
		"movl %%eax, %%ds\n\t"
		"movl %%eax, %%es\n\t"
		"movl %%eax, %%ss\n\t"
		"movl %%eax, %%fs\n\t"
		"movl %%eax, %%gs\n\t"
		: : "m"(gdtr), "i"(SEL_CODE64), "i"(SEL_DATA) : "rax", "memory");
}

void cpu_init_bsp(void)
{
	load_gdt();
	for (int v = 0; v < 32; v++) {
		uint64_t h = exc_stub_table[v];
		idt[v] = (struct idt_gate){
			.offset_low = (uint16_t)h,
			.selector = SEL_CODE64,
			.type_attr = 0x8e, /* present, DPL 0, 64-bit interrupt gate */
			.offset_mid = (uint16_t)(h >> 16),
			.offset_high = (uint32_t)(h >> 32),
		};
	}
	idtr.limit = sizeof(idt) - 1;
	idtr.base = (uint64_t)idt;
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

void cpu_init_ap(void)
{
	/* The trampoline already loaded our GDT and segments. */
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

void __attribute__((noreturn)) exception_handler(uint64_t vector, uint64_t error, uint64_t rip)
{
	puts("FAIL exception ");
	put_dec(vector);
	puts(" error ");
	put_hex(error);
	puts(" rip ");
	put_hex(rip);
	serial_putc('\n');
	reset_i8042();
}

/* Ring 0, on the TSS rsp0 stack: the #UD stub (arch/common.S) saw the ud2 of ring0_call() executed
 * in ring 3. caller_cs is the CS the CPU saved. */
void __attribute__((noreturn)) ring0_call_dispatch(uint64_t arg, uint64_t caller_cs)
{
	if (!ring0_call_target)
		fail("ring0_call without enter_ring3");
	ring0_call_target(arg, (unsigned)(caller_cs & 3));
}

void enter_ring3(void (*fn)(uint64_t), uint64_t arg, void *stack_top, ring0_call_fn on_call)
{
	uint64_t base = (uint64_t)&tss;
	uint64_t limit = sizeof(tss) - 1;

	ring0_call_target = on_call;
	tss.rsp[0] = (uint64_t)boot_stack_top;
	tss.iomap_base = sizeof(tss); /* no I/O bitmap, and IOPL=0 below: no port I/O from ring 3 */
	gdt[SEL_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
			   ((limit >> 16 & 0xf) << 48) | ((base >> 24 & 0xff) << 56);
	gdt[SEL_TSS / 8 + 1] = base >> 32;
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS));

	__asm__ volatile(
		"pushq %[ss]\n\t"
		"pushq %[rsp]\n\t"
		"pushq $0x0002\n\t"          /* IOPL=0, IF=0 */
		"pushq %[cs]\n\t"
		"pushq %[rip]\n\t"
		"iretq"
		: : [ss] "i"(SEL_USER_DATA | 3), [rsp] "r"((char *)stack_top - 8), [cs] "i"(SEL_USER_CODE64 | 3),
		    [rip] "r"(fn), "D"(arg) : "memory");
	__builtin_unreachable();
}
