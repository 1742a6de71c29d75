// xAPIC registers used by the guests (Intel SDM vol. 3, 11.4 and 11.6 ICR).
#include "lapic.h"
#include "io.h"
#include "platform.h"

#define LAPIC_ID       0x020
#define LAPIC_SVR      0x0F0
#define LAPIC_ICR_LOW  0x300
#define LAPIC_ICR_HIGH 0x310

#define ICR_INIT          0x00000500
#define ICR_STARTUP       0x00000600
#define ICR_LEVEL_ASSERT  0x00004000
#define ICR_DELIVERY_BUSY 0x00001000
#define ICR_POLL_LIMIT    100000   /* each poll is an MMIO exit */

uint32_t lapic_id(void)
{
	return mmio_read32(LAPIC_START + LAPIC_ID) >> 24;
}

void lapic_enable(void)
{
	mmio_write32(LAPIC_START + LAPIC_SVR, 0x100 | 0xFF);
}

static bool send_ipi(uint32_t apic_id, uint32_t low)
{
	mmio_write32(LAPIC_START + LAPIC_ICR_HIGH, apic_id << 24);
	mmio_write32(LAPIC_START + LAPIC_ICR_LOW, low);
	for (int i = 0; i < ICR_POLL_LIMIT; i++)
		if (!(mmio_read32(LAPIC_START + LAPIC_ICR_LOW) & ICR_DELIVERY_BUSY))
			return true;
	return false;
}

bool lapic_start_ap(uint32_t apic_id, uint8_t vector)
{
	/* KVM needs no INIT/SIPI delays (Linux skips them on hypervisors too). */
	return send_ipi(apic_id, ICR_INIT | ICR_LEVEL_ASSERT) &&
	       send_ipi(apic_id, ICR_STARTUP | ICR_LEVEL_ASSERT | vector) &&
	       send_ipi(apic_id, ICR_STARTUP | ICR_LEVEL_ASSERT | vector);
}
