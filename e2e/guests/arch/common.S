/* Shared by every guest image: the GDT, static identity page tables (4 GiB in 2 MiB pages, user
 * accessible, MMIO gap uncached), exception entry stubs and the stacks. Data is static so the
 * boot CPU spends no emulated ring-0 instructions building it. */
#include "platform.h"

	.section .data.gdt, "aw"
	.balign 16
	.globl gdt, gdt_end, gdtr
gdt:
	.quad 0                          /* 0x00 null */
	.quad 0x00CF9A000000FFFF         /* 0x08 code32, DPL 0 */
	.quad 0x00CF92000000FFFF         /* 0x10 data, DPL 0 */
	.quad 0x00AF9A000000FFFF         /* 0x18 code64, DPL 0 */
	.quad 0x00CFF2000000FFFF         /* 0x20 data, DPL 3 */
	.quad 0x00AFFA000000FFFF         /* 0x28 code64, DPL 3 */
	.quad 0, 0                       /* 0x30 64-bit TSS, filled by cpu.c */
gdt_end:
	.if gdt_end - gdt != GDT_SIZE
	.error "GDT_SIZE in platform.h does not match the GDT"
	.endif
	.balign 8
	.word 0
gdtr:
	.word gdt_end - gdt - 1
	.quad gdt

	.section .data.pagetables, "aw"
	.balign 4096
	.globl pml4
pml4:
	.quad pdpt + 0x7                 /* present, writable, user */
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x7, pd + 0x1007, pd + 0x2007, pd + 0x3007
	.fill 508, 8, 0
pd:
	.set addr, 0
	.rept 1536                       /* 0 - 3 GiB: RAM, 2 MiB pages, present|rw|user|PS */
	.quad addr + 0x87
	.set addr, addr + 0x200000
	.endr
	.rept 512                        /* 3 - 4 GiB: MMIO gap, + PWT|PCD */
	.quad addr + 0x9f
	.set addr, addr + 0x200000
	.endr

	.section .text
/* Exception stubs: push a zero error code where the CPU does not push one, then the vector. */
	.macro exc_stub vec
	.balign 16
exc_stub_\vec:
	.if \vec == 6
	jmp ud_check                     /* ring0_call() from ring 3? */
exc_stub_6_fail:
	.endif
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq $0
	.endif
	pushq $\vec
	jmp exc_common
	.endm

	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	exc_stub \v
	.endr

exc_common:
	movq 0(%rsp), %rdi               /* vector */
	movq 8(%rsp), %rsi               /* error code */
	movq 16(%rsp), %rdx              /* rip */
	andq $-16, %rsp
	call exception_handler           /* noreturn */
1:	cli
	hlt
	jmp 1b

/* ring0_call(arg) (include/cpu.h): a ud2 at a known address, rdi = arg. */
	.globl ring0_call, ring0_call_ud2
ring0_call:
ring0_call_ud2:
	ud2

/* #UD: frame = rip, cs, rflags, rsp, ss (no error code). The ud2 of ring0_call executed in ring 3
 * goes to ring0_call_dispatch(rdi, cs) on this (TSS rsp0) stack; anything else is a real #UD. */
ud_check:
	cmpq $ring0_call_ud2, 0(%rsp)
	jne exc_stub_6_fail
	testb $3, 8(%rsp)
	jz exc_stub_6_fail
	movq 8(%rsp), %rsi               /* caller's CS */
	andq $-16, %rsp
	call ring0_call_dispatch         /* noreturn */
1:	cli
	hlt
	jmp 1b

	.section .rodata
	.balign 8
	.globl exc_stub_table
exc_stub_table:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad exc_stub_\v
	.endr

	.section .stack, "aw", @nobits
	.balign 4096
	.globl boot_stack_top, ap_stacks, user_stack_top
	.space 16384
boot_stack_top:
ap_stacks:
	.space 4096 * GUEST_MAX_CPUS
	.space 16384
user_stack_top:
