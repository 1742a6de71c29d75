/* AP start-up trampoline (Intel SDM vol. 3, 9.4 MP initialization). Copied to AP_TRAMPOLINE_START
 * by smp.c; a SIPI with vector AP_TRAMPOLINE_START >> 12 starts the AP here in real mode at
 * CS:IP = 0x0800:0000. It switches to protected mode, then long mode on the boot CPU's page
 * tables and GDT, takes a stack (lock xadd on ap_next_stack) and calls ap_main().
 * The code is position dependent on AP_TRAMPOLINE_START: addresses are computed as
 * AP_TRAMPOLINE_START + (label - trampoline_start). */
#include "platform.h"
#include "long-mode.inc"

#define T(label) (AP_TRAMPOLINE_START + ((label) - trampoline_start))

	.section .rodata.trampoline, "a"
	.globl trampoline_start, trampoline_end
	.code16
trampoline_start:
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ds
	lgdtl T(tramp_gdtr)
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $SEL_CODE32, $T(tramp32)

	.code32
tramp32:
	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	enable_long_mode
	ljmp $SEL_CODE64, $ap_entry64

	.balign 8
	.word 0
tramp_gdtr:
	.word GDT_SIZE - 1
	.long gdt
trampoline_end:

	.section .text
	.code64
ap_entry64:
	movl $1, %eax
	lock xaddl %eax, ap_next_stack   /* index 0, 1, ... in arrival order */
	incl %eax
	shll $12, %eax                   /* 4 KiB per AP */
	leaq ap_stacks(%rax), %rsp
	call ap_main
1:	cli
	hlt
	jmp 1b

	.section .data
	.balign 4
	.globl ap_next_stack
ap_next_stack:
	.long 0
