/* Linux boot protocol entries (Documentation/arch/x86/boot.rst), placed at the start of the
 * protected-mode image like the kernel's head_64.S:
 *   +0x000 startup_32: 32-bit protected mode, paging off, esi = &boot_params. Used by our own
 *          real-mode setup code (arch/bzimage-setup.S) when a BIOS loader such as QEMU -kernel
 *          runs it; switches to long mode on our page tables.
 *   +0x200 startup_64: the 64-bit entry the VMM uses (linux64 e_entry; bzImage code32_start +
 *          0x200): long mode, identity paging from the loader, rsi = &boot_params. We keep the
 *          loader's page tables, so only what the loader identity-maps is touched. */
#include "platform.h"
#include "long-mode.inc"

	.section .text.entry, "ax"
	.code32
	.globl startup_32
startup_32:
	cli
	cld
	lgdt gdtr
	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl $boot_stack_top, %esp
	enable_long_mode
	ljmp $SEL_CODE64, $from32

	.code64
from32:
	movl %esi, %esi                  /* upper halves are undefined after the mode switch */
	jmp startup_64

	.org 0x200
	.globl startup_64
startup_64:
	cli
	cld
	movl $boot_stack_top, %esp       /* leave the loader's stack (BOOT_STACK_POINTER) at once */
	movq %rsi, %rdi
	movq %rdi, boot_info_paddr
	call linux_main
1:	cli
	hlt
	jmp 1b
