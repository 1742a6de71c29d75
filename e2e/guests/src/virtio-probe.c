// virtio-probe (PVH): drives the virtio-blk device in virtio-mmio slot 0 the way a driver does
// (virtio 1.2 sections 3.1.1, 4.2.3, 5.2.6): identify, status handshake with VERSION_1 only,
// capacity from config space, one queue, then one 512-byte read of sector 0 as a three-
// descriptor chain, completed by polling the used ring (interrupts stay masked). Then reset.
#include "lib.h"
#include "virtio-mmio.h"
#include "pvh.h"

#define VIRTIO_MMIO_SLOT0   0xD0000000u

#define QUEUE_SIZE          8
/* Rings and buffers in RAM above the image (linked at 1 MiB). */
#define RING_DESC           0x300000u
#define RING_AVAIL          0x301000u
#define RING_USED           0x302000u
#define REQ_HEADER          0x303000u
#define REQ_DATA            0x304000u
#define REQ_STATUS          0x305000u

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static uint32_t reg(uint32_t off) { return mmio_read32(VIRTIO_MMIO_SLOT0 + off); }
static void set_reg(uint32_t off, uint32_t v) { mmio_write32(VIRTIO_MMIO_SLOT0 + off, v); }

static void put_byte_hex(uint8_t b)
{
	serial_putc("0123456789abcdef"[b >> 4]);
	serial_putc("0123456789abcdef"[b & 0xf]);
}

void guest_main(const struct hvm_start_info *si)
{
	(void)si;
	uint32_t magic = reg(REG_MAGIC), version = reg(REG_VERSION), device = reg(REG_DEVICE_ID);
	puts("VIRTIO magic=");
	put_hex(magic);
	puts(" version=");
	put_dec(version);
	puts(" device=");
	put_dec(device);
	serial_putc('\n');
	if (magic != 0x74726976 || version != 2 || device != 2)
		fail("slot 0 is not a virtio-mmio v2 block device");

	set_reg(REG_STATUS, 0);
	set_reg(REG_STATUS, STATUS_ACK);
	set_reg(REG_STATUS, STATUS_ACK | STATUS_DRIVER);
	set_reg(REG_DEVICE_FEAT_SEL, 1);
	if (!(reg(REG_DEVICE_FEATURES) & 1))
		fail("device does not offer VIRTIO_F_VERSION_1");
	set_reg(REG_DRIVER_FEAT_SEL, 0);
	set_reg(REG_DRIVER_FEATURES, 0);
	set_reg(REG_DRIVER_FEAT_SEL, 1);
	set_reg(REG_DRIVER_FEATURES, 1); /* VERSION_1 only: no EVENT_IDX, no indirect */
	set_reg(REG_STATUS, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK);
	if (!(reg(REG_STATUS) & STATUS_FEATURES_OK))
		fail("FEATURES_OK not accepted");

	uint64_t capacity = reg(REG_CONFIG) | ((uint64_t)reg(REG_CONFIG + 4) << 32);
	puts("BLK capacity=");
	put_dec(capacity);
	serial_putc('\n');

	set_reg(REG_QUEUE_SEL, 0);
	if (reg(REG_QUEUE_NUM_MAX) < QUEUE_SIZE)
		fail("queue 0 is too small");
	memset((void *)RING_DESC, 0, 0x6000);
	set_reg(REG_QUEUE_NUM, QUEUE_SIZE);
	set_reg(REG_QUEUE_DESC, RING_DESC);
	set_reg(REG_QUEUE_DESC + 4, 0);
	set_reg(REG_QUEUE_DRIVER, RING_AVAIL);
	set_reg(REG_QUEUE_DRIVER + 4, 0);
	set_reg(REG_QUEUE_DEVICE, RING_USED);
	set_reg(REG_QUEUE_DEVICE + 4, 0);
	set_reg(REG_QUEUE_READY, 1);
	set_reg(REG_STATUS, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);

	/* VIRTIO_BLK_T_IN of sector 0: header (device-readable), data and status (device-writable). */
	volatile uint32_t *header = (volatile uint32_t *)REQ_HEADER;
	header[0] = 0; /* type IN */
	header[1] = 0;
	header[2] = 0; /* sector, low then high */
	header[3] = 0;
	*(volatile uint8_t *)REQ_STATUS = 0xff;
	volatile struct virtq_desc *desc = (volatile struct virtq_desc *)RING_DESC;
	desc[0] = (struct virtq_desc){ REQ_HEADER, 16, 1 /* NEXT */, 1 };
	desc[1] = (struct virtq_desc){ REQ_DATA, 512, 1 | 2 /* NEXT|WRITE */, 2 };
	desc[2] = (struct virtq_desc){ REQ_STATUS, 1, 2 /* WRITE */, 0 };
	volatile uint16_t *avail = (volatile uint16_t *)RING_AVAIL;
	avail[0] = 1; /* VRING_AVAIL_F_NO_INTERRUPT: we poll */
	avail[2] = 0; /* ring[0] = head 0 */
	barrier();
	avail[1] = 1; /* idx */
	barrier();
	set_reg(REG_QUEUE_NOTIFY, 0);

	volatile uint16_t *used_idx = (volatile uint16_t *)(RING_USED + 2);
	uint64_t start = rdtsc();
	while (*used_idx != 1) {
		if (rdtsc() - start > TIMEOUT_TSC_TICKS)
			fail("request not completed");
		tsc_delay(10000);
	}
	volatile uint32_t *elem = (volatile uint32_t *)(RING_USED + 4);
	if (elem[0] != 0 || elem[1] != 513)
		fail("unexpected used element");
	if (*(volatile uint8_t *)REQ_STATUS != 0)
		fail("request status is not VIRTIO_BLK_S_OK");
	puts("BLK sector0=");
	for (int i = 0; i < 16; i++)
		put_byte_hex(((volatile uint8_t *)REQ_DATA)[i]);
	serial_putc('\n');

	set_reg(REG_STATUS, 0);
	if (reg(REG_STATUS) != 0)
		fail("reset did not clear the status");
	done("virtio-probe");
}
