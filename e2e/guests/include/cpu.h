/* Per-CPU setup: our GDT (arch/common.S), an IDT that reports exceptions as FAIL, a TSS, and the
 * drop to ring 3. */
#ifndef GUEST_CPU_H
#define GUEST_CPU_H

#include "io.h"

/* Load our GDT and segment registers, and the IDT (built once, by the boot CPU). */
void cpu_init_bsp(void);
void cpu_init_ap(void);

/* Set up the TSS (ring-0 stack for exceptions from ring 3) and continue in ring 3 with IOPL=3
 * at fn(arg) on the given stack. Needs the identity paging of arch/common.S (user bit set). */
void __attribute__((noreturn)) enter_ring3(void (*fn)(uint64_t), uint64_t arg, void *stack_top);

/* Written by the entry code: what the loader passed in ebx / rsi. */
extern uint64_t boot_info_paddr;

#endif
