/* Boot information handed over by the loader: PVH hvm_start_info (xen/include/public/arch-x86/
 * hvm/start_info.h) and the Linux zero page, struct boot_params (Documentation/arch/x86/zero-page.rst). */
#ifndef GUEST_BOOTINFO_H
#define GUEST_BOOTINFO_H

#include <stdint.h>

#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;     /* version >= 1 */
	uint32_t memmap_entries;   /* version >= 1 */
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

/* struct boot_params byte offsets. */
#define BP_ACPI_RSDP_ADDR     0x070  /* u64 */
#define BP_EXT_RAMDISK_IMAGE  0x0c0  /* u32, high half */
#define BP_EXT_RAMDISK_SIZE   0x0c4
#define BP_EXT_CMD_LINE_PTR   0x0c8
#define BP_E820_ENTRIES       0x1e8  /* u8 */
#define BP_HDR                0x1f1  /* struct setup_header */
#define BP_RAMDISK_IMAGE      0x218  /* u32 */
#define BP_RAMDISK_SIZE       0x21c  /* u32 */
#define BP_CMD_LINE_PTR       0x228  /* u32 */
#define BP_E820_TABLE         0x2d0  /* 128 x struct boot_e820_entry (20 bytes, packed) */
#define BP_E820_MAX           128

struct __attribute__((packed)) boot_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

#define BP_U8(bp, off)  (*(const volatile uint8_t *)((uintptr_t)(bp) + (off)))
#define BP_U32(bp, off) (*(const volatile uint32_t *)((uintptr_t)(bp) + (off)))
#define BP_U64(bp, off) (*(const volatile uint64_t *)((uintptr_t)(bp) + (off)))

#endif
