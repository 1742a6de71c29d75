/* The real-mode part of our bzImage: (SETUP_SECTS + 1) sectors with the setup header at 0x1f1
 * (Documentation/arch/x86/boot.rst, protocol 2.15). Our VMM only reads the header and enters the
 * protected-mode part at its 64-bit entry (+0x200). A BIOS loader (QEMU -kernel) instead runs the
 * code at 0x200 in real mode: it fills the e820 table with INT 15h/E820 and enters startup_32
 * (code32_start) in protected mode with esi = &boot_params, as the kernel's own setup code does. */
#include "platform.h"

#define SETUP_SECTS 3
#define SMAP 0x534d4150

	.section .setup, "ax"
	.code16
	.globl setup_start
setup_start:
	.org 0x1f1
	.byte SETUP_SECTS                /* 0x1f1 setup_sects */
	.word 0                          /* 0x1f2 root_flags */
	.long bz_syssize                 /* 0x1f4 syssize: protected-mode size / 16 (linker script) */
	.word 0                          /* 0x1f8 ram_size */
	.word 0xffff                     /* 0x1fa vid_mode: normal */
	.word 0                          /* 0x1fc root_dev */
	.word 0xAA55                     /* 0x1fe boot_flag */
	.byte 0xeb, setup_code - setup_start - 0x202  /* 0x200 jump to the setup code */
	.ascii "HdrS"                    /* 0x202 header */
	.word 0x020f                     /* 0x206 version 2.15 */
	.long 0                          /* 0x208 realmode_swtch */
	.word 0x1000                     /* 0x20c start_sys_seg (obsolete) */
	.word 0                          /* 0x20e kernel_version */
	.byte 0                          /* 0x210 type_of_loader (loader writes) */
	.byte 0x01                       /* 0x211 loadflags: LOADED_HIGH */
	.word 0x8000                     /* 0x212 setup_move_size */
	.long HIGH_MEMORY_START          /* 0x214 code32_start */
	.long 0                          /* 0x218 ramdisk_image (loader writes) */
	.long 0                          /* 0x21c ramdisk_size (loader writes) */
	.long 0                          /* 0x220 bootsect_kludge */
	.word 0                          /* 0x224 heap_end_ptr */
	.byte 0                          /* 0x226 ext_loader_ver */
	.byte 0                          /* 0x227 ext_loader_type */
	.long 0                          /* 0x228 cmd_line_ptr (loader writes) */
	.long 0x7fffffff                 /* 0x22c initrd_addr_max */
	.long HIGH_MEMORY_START          /* 0x230 kernel_alignment */
	.byte 0                          /* 0x234 relocatable_kernel: no, load at pref_address */
	.byte 20                         /* 0x235 min_alignment: 1 MiB */
	.word 0x0001                     /* 0x236 xloadflags: XLF_KERNEL_64 (entry at +0x200) */
	.long 2047                       /* 0x238 cmdline_size */
	.long 0                          /* 0x23c hardware_subarch: PC */
	.quad 0                          /* 0x240 hardware_subarch_data */
	.long 0                          /* 0x248 payload_offset */
	.long 0                          /* 0x24c payload_length */
	.quad 0                          /* 0x250 setup_data */
	.quad HIGH_MEMORY_START          /* 0x258 pref_address */
	.long bz_init_size               /* 0x260 init_size: bytes needed from the load address */
	.long 0                          /* 0x264 handover_offset: no EFI handover */
	.long 0                          /* 0x268 kernel_info_offset */
	.globl setup_header_end
setup_header_end:                        /* bzimage.ld checks this is 0x26c */

/* Entered at CS = setup segment + 0x20, IP = 0 with DS = ES = SS = setup segment. Like the
 * kernel's setup code, build a fresh boot_params (at setup segment:BP_OFFSET, free below QEMU's
 * stack at the top of the segment) from this header: the e820 table would overwrite this code. */
#define BP_OFFSET 0x1000
setup_code:
	cli
	cld
	movw %ds, %ax
	movw %ax, %es
	movzwl %ax, %ebp
	shll $4, %ebp
	addl $BP_OFFSET, %ebp            /* ebp = linear address of the new boot_params */
	movw $BP_OFFSET, %di             /* zero it */
	movw $2048, %cx
	xorw %ax, %ax
	rep stosw
	movw $0x1f1, %si                 /* copy the setup header (with the loader's edits) */
	movw $BP_OFFSET + 0x1f1, %di
	movw $0x26c - 0x1f1, %cx
	rep movsb
	xorl %ebx, %ebx                  /* E820 continuation */
	movw $BP_OFFSET + 0x2d0, %di     /* es:di = boot_params.e820_table */
	xorw %si, %si                    /* entries */
1:	movl $0xe820, %eax
	movl $20, %ecx
	movl $SMAP, %edx
	int $0x15
	jc 2f
	cmpl $SMAP, %eax
	jne 2f
	incw %si
	addw $20, %di
	testl %ebx, %ebx
	jz 2f
	cmpw $128, %si
	jb 1b
2:	movw %si, %ax
	movb %al, BP_OFFSET + 0x1e8      /* boot_params.e820_entries */
	lgdtl setup_gdtr
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	movw $SEL_DATA, %ax              /* startup_32 wants flat data segments (boot.rst 32-bit protocol) */
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl %ebp, %esi
	ljmpl $SEL_CODE32, $startup_32

	.balign 8
	.word 0
setup_gdtr:
	.word GDT_SIZE - 1
	.long gdt

	.org (SETUP_SECTS + 1) * 512
