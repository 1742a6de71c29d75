// linux64 / bzimage (Linux boot protocol, 64-bit entry): prints what the zero page says (e820,
// command line, initrd, RSDP) and checks the RSDP signature. Built twice with GUEST_NAME.
#include "acpi.h"
#include "bootinfo.h"
#include "cpu.h"
#include "lib.h"

void __attribute__((noreturn)) linux_main(uint64_t bp)
{
	cpu_init_bsp();

	unsigned n = BP_U8(bp, BP_E820_ENTRIES);
	puts("E820 ");
	put_dec(n);
	putln(" entries");
	if (n > BP_E820_MAX)
		fail("e820_entries above 128");
	const struct boot_e820_entry *e = (const struct boot_e820_entry *)(bp + BP_E820_TABLE);
	for (unsigned i = 0; i < n; i++) {
		put_range("E820", e[i].addr, e[i].size, e[i].type);
	}

	uint64_t cmdline = BP_U32(bp, BP_CMD_LINE_PTR) | (uint64_t)BP_U32(bp, BP_EXT_CMD_LINE_PTR) << 32;
	puts("CMDLINE ");
	putln(cmdline ? (const char *)cmdline : "");

	uint64_t initrd = BP_U32(bp, BP_RAMDISK_IMAGE) | (uint64_t)BP_U32(bp, BP_EXT_RAMDISK_IMAGE) << 32;
	uint64_t initrd_size = BP_U32(bp, BP_RAMDISK_SIZE) | (uint64_t)BP_U32(bp, BP_EXT_RAMDISK_SIZE) << 32;
	puts("INITRD ");
	put_hex(initrd);
	serial_putc(' ');
	put_hex(initrd_size);
	serial_putc('\n');

	acpi_report_rsdp(BP_U64(bp, BP_ACPI_RSDP_ADDR));
	done(GUEST_NAME);
}
