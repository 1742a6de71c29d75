// ACPI table walking (ACPI 6.5: 5.2.5 RSDP, 5.2.8 XSDT, 5.2.9 FADT, 5.2.12 MADT, 7.4.2 \_Sx
// packages; AML encoding in 20.2).
#include "acpi.h"
#include "lib.h"

struct __attribute__((packed)) rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;          /* revision >= 2 */
	uint64_t xsdt_address;
	uint8_t extended_checksum;
	uint8_t reserved[3];
};

static uint8_t sum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *b++);
	return s;
}

bool acpi_rsdp_valid(uint64_t addr)
{
	const struct rsdp *r = (const struct rsdp *)addr;
	if (!addr || memcmp(r->signature, "RSD PTR ", 8) || sum(r, 20))
		return false;
	return r->revision < 2 || sum(r, r->length) == 0;
}

uint64_t acpi_rsdp_scan(void)
{
	uint64_t ebda = (uint64_t)(*(volatile uint16_t *)0x40E) << 4;
	if (ebda >= 0x80000 && ebda < 0xA0000)
		for (uint64_t a = ebda; a < ebda + 1024; a += 16)
			if (acpi_rsdp_valid(a))
				return a;
	for (uint64_t a = 0xE0000; a < 0x100000; a += 16)
		if (acpi_rsdp_valid(a))
			return a;
	return 0;
}

static const struct acpi_sdt_header *checked(uint64_t addr, const char sig[4])
{
	const struct acpi_sdt_header *h = (const struct acpi_sdt_header *)addr;
	if (!addr || memcmp(h->signature, sig, 4) || sum(h, h->length))
		return NULL;
	return h;
}

const struct acpi_sdt_header *acpi_find_table(uint64_t rsdp_addr, const char sig[4])
{
	const struct rsdp *r = (const struct rsdp *)rsdp_addr;
	const struct acpi_sdt_header *root;
	unsigned width;

	if (r->revision >= 2 && r->xsdt_address) {
		root = checked(r->xsdt_address, "XSDT");
		width = 8;
	} else {
		root = checked(r->rsdt_address, "RSDT");
		width = 4;
	}
	if (!root)
		return NULL;
	const uint8_t *entries = (const uint8_t *)(root + 1);
	unsigned n = (root->length - sizeof(*root)) / width;
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = 0;
		memcpy(&a, entries + i * width, width);
		const struct acpi_sdt_header *t = checked(a, sig);
		if (t)
			return t;
	}
	return NULL;
}

unsigned acpi_madt_cpus(const struct acpi_sdt_header *madt, uint32_t *ids, unsigned max)
{
	/* Header, then u32 local APIC address and u32 flags, then (type, length, ...) entries. */
	const uint8_t *p = (const uint8_t *)madt + sizeof(*madt) + 8;
	const uint8_t *end = (const uint8_t *)madt + madt->length;
	unsigned n = 0;
	while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
		/* Type 0 Processor Local APIC: uid, APIC id, u32 flags (bit 0 enabled). */
		if (p[0] == 0 && p[1] >= 8 && (p[4] & 1) && n < max)
			ids[n++] = p[3];
		p += p[1];
	}
	return n;
}

/* FADT offsets (ACPI 6.5 table 5.9). */
#define FADT_DSDT          40
#define FADT_PM1A_CNT_BLK  64
#define FADT_PM1_CNT_LEN   89
#define FADT_X_DSDT        140
#define FADT_SLEEP_CONTROL 244   /* GAS: space, bit width, bit offset, access size, u64 address */

struct acpi_sleep_reg acpi_fadt_sleep_reg(const struct acpi_sdt_header *fadt)
{
	const uint8_t *f = (const uint8_t *)fadt;
	struct acpi_sleep_reg r = { .kind = SLEEP_NONE };
	uint64_t addr;

	if (fadt->length >= FADT_SLEEP_CONTROL + 12) {
		memcpy(&addr, f + FADT_SLEEP_CONTROL + 4, 8);
		if (addr) {
			r.kind = SLEEP_CONTROL_REG;
			r.space = f[FADT_SLEEP_CONTROL];
			r.width = f[FADT_SLEEP_CONTROL + 1] ? f[FADT_SLEEP_CONTROL + 1] : 8;
			r.address = addr;
			return r;
		}
	}
	uint32_t pm1a;
	memcpy(&pm1a, f + FADT_PM1A_CNT_BLK, 4);
	if (pm1a) {
		r.kind = SLEEP_PM1A_CNT;
		r.space = 1;
		r.width = 16;
		r.address = pm1a;
	}
	return r;
}

const struct acpi_sdt_header *acpi_fadt_dsdt(const struct acpi_sdt_header *fadt)
{
	const uint8_t *f = (const uint8_t *)fadt;
	uint64_t x = 0;
	uint32_t d;
	if (fadt->length >= FADT_X_DSDT + 8)
		memcpy(&x, f + FADT_X_DSDT, 8);
	memcpy(&d, f + FADT_DSDT, 4);
	return checked(x ? x : d, "DSDT");
}

/* One AML integer data object (20.2.3): ZeroOp, OneOp, OnesOp, BytePrefix, WordPrefix. */
static int aml_small_int(const uint8_t *p, const uint8_t *end)
{
	if (p >= end)
		return -1;
	switch (p[0]) {
	case 0x00: return 0;
	case 0x01: return 1;
	case 0xFF: return 0xFF;
	case 0x0A: return p + 1 < end ? p[1] : -1;
	case 0x0B: return p + 2 < end ? (p[1] | p[2] << 8) : -1;
	default: return -1;
	}
}

int acpi_dsdt_s5_slp_typ(const struct acpi_sdt_header *dsdt)
{
	const uint8_t *p = (const uint8_t *)(dsdt + 1);
	const uint8_t *end = (const uint8_t *)dsdt + dsdt->length;
	for (; p + 4 < end; p++) {
		/* NameOp ('\' optional) "_S5_" PackageOp PkgLength NumElements element0 ... */
		if (p[0] != '_' || p[1] != 'S' || p[2] != '5' || p[3] != '_')
			continue; /* no memcmp call per byte: this loop runs emulated in ring 0 */
		if (!(p[-1] == 0x08 || (p[-1] == 0x5C && p[-2] == 0x08)))
			continue;
		const uint8_t *q = p + 4;
		if (q >= end || *q != 0x12)
			continue;
		q++;
		q += 1 + (*q >> 6);  /* PkgLength: bits 7:6 of the lead byte = count of extra bytes */
		q++;                 /* NumElements */
		return aml_small_int(q, end);
	}
	return -1;
}

uint64_t acpi_report_rsdp(uint64_t given)
{
	uint64_t rsdp = given;
	puts("RSDP ");
	put_hex(given);
	serial_putc('\n');
	if (!rsdp) {
		/* Loaders that pass no address (QEMU's PVH ROM, BIOS boots): fall back like Linux. */
		rsdp = acpi_rsdp_scan();
		puts("RSDP-SCAN ");
		put_hex(rsdp);
		serial_putc('\n');
	}
	if (!rsdp || memcmp((const void *)rsdp, "RSD PTR ", 8))
		fail("no RSD PTR signature at the RSDP address");
	if (!acpi_rsdp_valid(rsdp))
		fail("RSDP checksum");
	putln("RSDP OK");
	return rsdp;
}

void acpi_sleep_s5(struct acpi_sleep_reg reg, int slp_typ)
{
	if (reg.kind == SLEEP_CONTROL_REG) {
		/* ACPI 6.5 4.8.3.7: SLP_TYPx bits 4:2, SLP_EN bit 5. */
		uint8_t v = (uint8_t)(((slp_typ & 7) << 2) | (1 << 5));
		if (reg.space == 1)
			outb((uint16_t)reg.address, v);
		else
			*(volatile uint8_t *)reg.address = v;
	} else {
		/* PM1 control: SLP_TYPx bits 12:10, SLP_EN bit 13. */
		outw((uint16_t)reg.address, (uint16_t)(((slp_typ & 7) << 10) | (1 << 13)));
	}
	tsc_delay(4000000000ull);
	fail("still running after the S5 write");
}

void acpi_poweroff(uint64_t rsdp)
{
	const struct acpi_sdt_header *fadt = acpi_find_table(rsdp, "FACP");
	const struct acpi_sdt_header *dsdt = fadt ? acpi_fadt_dsdt(fadt) : 0;
	struct acpi_sleep_reg reg = fadt ? acpi_fadt_sleep_reg(fadt) : (struct acpi_sleep_reg){ .kind = SLEEP_NONE };
	int slp_typ = dsdt ? acpi_dsdt_s5_slp_typ(dsdt) : -1;
	if (reg.kind == SLEEP_NONE || reg.space > 1 || slp_typ < 0)
		fail("no ACPI S5 path (FADT sleep register, \\_S5_)");
	acpi_sleep_s5(reg, slp_typ);
}
