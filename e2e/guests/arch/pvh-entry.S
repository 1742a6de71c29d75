/* PVH entry (xen/include/public/arch-x86/hvm/start_info.h): the loader finds the 32-bit physical
 * entry in the XEN_ELFNOTE_PHYS32_ENTRY note and enters it in 32-bit protected mode, paging off,
 * with ebx = &hvm_start_info. We switch to long mode on our own page tables and call
 * pvh_main(start_info) in C. About 25 ring-0 instructions. */
#include "platform.h"
#include "long-mode.inc"

#define XEN_ELFNOTE_PHYS32_ENTRY 18

	.section .note.Xen, "a"
	.balign 4
	.long 4                          /* namesz: "Xen\0" */
	.long 8                          /* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.balign 4
	.quad pvh_start                  /* 64-bit desc, as Linux and QEMU's reader expect in ELF64 */

	.section .text.entry, "ax"
	.code32
	.globl pvh_start
pvh_start:
	cli
	cld
	movl %ebx, %esi                  /* keep &hvm_start_info */
	lgdt gdtr
	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl $boot_stack_top, %esp
	enable_long_mode
	ljmp $SEL_CODE64, $1f

	.code64
1:	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl $boot_stack_top, %esp
	movl %esi, %edi
	movq %rdi, boot_info_paddr
	call pvh_main
2:	cli
	hlt
	jmp 2b
