/* Per-CPU setup: our GDT (arch/common.S), an IDT that reports exceptions as FAIL, a TSS, the
 * drop to ring 3 and the way back to ring 0 (ring0_call). */
#ifndef GUEST_CPU_H
#define GUEST_CPU_H

#include "io.h"

/* Load our GDT and segment registers, and the IDT (built once, by the boot CPU). */
void cpu_init_bsp(void);
void cpu_init_ap(void);

/* Ring 3 -> ring 0, one way: ring0_call(arg) runs the on_call function given to enter_ring3() as
 * on_call(arg, CPL of the caller), in ring 0 on the boot stack.
 *
 * Ring 3 does no port I/O (PVM raises #GP on IN/OUT from ring 3 even with IOPL=3, so ring 3 runs
 * with IOPL=0 everywhere) and comes back to ring 0 through ring0_call() to print. ring0_call() is
 * a `ud2` at the global label ring0_call_ud2 (arch/common.S); the #UD stub recognises that RIP
 * with a ring-3 CS and dispatches, any other #UD is reported as usual. Not `int $0x80` (PVM
 * raises #UD on it from ring 3), not `syscall` (on PVM it jumps to LSTAR but stays in ring 3),
 * not int3: an exception is the one ring-3 -> ring-0 transition that works everywhere. */
typedef void __attribute__((noreturn)) (*ring0_call_fn)(uint64_t arg, unsigned caller_cpl);
void __attribute__((noreturn)) ring0_call(uint64_t arg);

/* Set up the TSS (ring-0 stack for exceptions and ring0_call from ring 3), remember on_call for
 * ring0_call(), then continue in ring 3 (IOPL=0, IF=0) at fn(arg) on the given stack. Needs the
 * identity paging of arch/common.S (user bit set). */
void __attribute__((noreturn)) enter_ring3(void (*fn)(uint64_t), uint64_t arg, void *stack_top,
					   ring0_call_fn on_call);

/* Written by the entry code: what the loader passed in ebx / rsi. */
extern uint64_t boot_info_paddr;

#endif
