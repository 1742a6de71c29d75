// virtio-balloon (PVH): drives the balloon in virtio-mmio slot 0 as Linux's driver does (virtio 1.2
// section 5.5.6), polling with interrupts suppressed: touches 16 MiB of its RAM, waits for the host
// to set num_pages to those 4096 pages (vm.resize), inflates them in 256-PFN buffers and reports
// `actual`, then waits for a target of 0 and deflates them. The host checks its memfd shrank.
#include "lib.h"
#include "virtio-mmio.h"
#include "pvh.h"

#define SLOT0               0xD0000000u
#define QUEUE_SIZE          8
#define VIRTIO_ID_BALLOON   5
#define POOL                0x1000000u /* 16 MiB */
#define POOL_PAGES          4096u      /* 16 MiB of 4 KiB pages */
#define PFNS_PER_BUFFER     256u       /* Linux's VIRTIO_BALLOON_ARRAY_PFNS_MAX */
#define PFN_BUFFERS         0x360000u

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* One queue: rings at base (desc), base + 0x1000 (avail), base + 0x2000 (used). */
struct vq {
	uint32_t index;
	uint32_t base;
	uint16_t next;
};

static uint32_t reg(uint32_t off) { return mmio_read32(SLOT0 + off); }
static void set_reg(uint32_t off, uint32_t v) { mmio_write32(SLOT0 + off, v); }

static void setup_queue(struct vq *q)
{
	set_reg(REG_QUEUE_SEL, q->index);
	if (reg(REG_QUEUE_NUM_MAX) < QUEUE_SIZE)
		fail("queue is too small");
	memset((void *)(uintptr_t)q->base, 0, 0x3000);
	*(volatile uint16_t *)(uintptr_t)(q->base + 0x1000) = 1; /* VRING_AVAIL_F_NO_INTERRUPT: we poll */
	set_reg(REG_QUEUE_NUM, QUEUE_SIZE);
	set_reg(REG_QUEUE_DESC, q->base);
	set_reg(REG_QUEUE_DESC + 4, 0);
	set_reg(REG_QUEUE_DRIVER, q->base + 0x1000);
	set_reg(REG_QUEUE_DRIVER + 4, 0);
	set_reg(REG_QUEUE_DEVICE, q->base + 0x2000);
	set_reg(REG_QUEUE_DEVICE + 4, 0);
	set_reg(REG_QUEUE_READY, 1);
	q->next = 0;
}

/* Puts one device-readable buffer on the queue, kicks it and waits until it is used. */
static void send(struct vq *q, uint32_t buf, uint32_t len)
{
	volatile struct virtq_desc *desc = (volatile struct virtq_desc *)(uintptr_t)q->base;
	volatile uint16_t *avail = (volatile uint16_t *)(uintptr_t)(q->base + 0x1000);
	volatile uint16_t *used_idx = (volatile uint16_t *)(uintptr_t)(q->base + 0x2002);
	uint16_t head = q->next % QUEUE_SIZE;
	desc[head] = (struct virtq_desc){ buf, len, 0, 0 };
	avail[2 + head] = head;
	barrier();
	avail[1] = ++q->next;
	barrier();
	set_reg(REG_QUEUE_NOTIFY, q->index);
	uint64_t start = rdtsc();
	while (*used_idx != q->next) {
		if (rdtsc() - start > TIMEOUT_TSC_TICKS)
			fail("balloon buffer not used");
		tsc_delay(10000);
	}
}

/* Waits (up to three timeouts: the host answers over its API) for num_pages to be `pages`. */
static void wait_target(uint32_t pages)
{
	uint64_t start = rdtsc();
	while (reg(REG_CONFIG) != pages) {
		if (rdtsc() - start > 3 * TIMEOUT_TSC_TICKS)
			fail("the balloon target did not change");
		tsc_delay(1000000);
	}
}

/* Hands the pool's pages over on queue `q` (inflate or deflate), 256 PFNs per buffer. */
static void move_pool(struct vq *q)
{
	volatile uint32_t *pfns = (volatile uint32_t *)(uintptr_t)PFN_BUFFERS;
	for (uint32_t first = 0; first < POOL_PAGES; first += PFNS_PER_BUFFER) {
		for (uint32_t i = 0; i < PFNS_PER_BUFFER; i++)
			pfns[i] = POOL / 4096 + first + i;
		send(q, PFN_BUFFERS, 4 * PFNS_PER_BUFFER);
	}
}

void guest_main(const struct hvm_start_info *si)
{
	(void)si;
	if (reg(REG_MAGIC) != 0x74726976 || reg(REG_VERSION) != 2 || reg(REG_DEVICE_ID) != VIRTIO_ID_BALLOON)
		fail("slot 0 is not a virtio-mmio v2 balloon");
	set_reg(REG_STATUS, 0);
	set_reg(REG_STATUS, STATUS_ACK);
	set_reg(REG_STATUS, STATUS_ACK | STATUS_DRIVER);
	set_reg(REG_DRIVER_FEAT_SEL, 0);
	set_reg(REG_DRIVER_FEATURES, 0);
	set_reg(REG_DRIVER_FEAT_SEL, 1);
	set_reg(REG_DRIVER_FEATURES, 1); /* VERSION_1 */
	set_reg(REG_STATUS, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK);
	if (!(reg(REG_STATUS) & STATUS_FEATURES_OK))
		fail("FEATURES_OK not accepted");
	struct vq inflate = { 0, 0x300000, 0 }, deflate = { 1, 0x330000, 0 };
	setup_queue(&inflate);
	setup_queue(&deflate);
	set_reg(REG_STATUS, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
	puts("BALLOON ready target=");
	put_dec(reg(REG_CONFIG));
	serial_putc('\n');

	/* One store per page is enough for the host to back the whole page. */
	for (uint32_t p = 0; p < POOL_PAGES; p++)
		*(volatile uint8_t *)(uintptr_t)(POOL + 4096 * p) = 0xab;
	putln("BALLOON touched");

	wait_target(POOL_PAGES);
	move_pool(&inflate);
	set_reg(REG_CONFIG + 4, POOL_PAGES); /* actual */
	putln("BALLOON inflated");

	wait_target(0);
	move_pool(&deflate);
	set_reg(REG_CONFIG + 4, 0);
	/* The inflated pages went back to the host: what the guest gets now are fresh zero pages. */
	if (*(volatile uint8_t *)(uintptr_t)POOL != 0)
		fail("an inflated page kept its contents");
	putln("BALLOON deflated");
	done("virtio-balloon");
}
