// virtio-devices (PVH): drives a virtio-rng in virtio-mmio slot 0 and, if present, a
// virtio-console in slot 1 the way Linux's drivers do (virtio 1.2 sections 3.1.1, 4.2.3, 5.3.6,
// 5.4.6), polling the used rings with interrupts suppressed: two entropy requests, then the
// console's EMERG_WRITE, one transmit and one receive of a line the host sends.
#include "lib.h"
#include "virtio-mmio.h"
#include "pvh.h"

#define SLOT(i)             (0xD0000000u + 0x1000u * (i))

#define DESC_F_WRITE        2
#define QUEUE_SIZE          8
#define VIRTIO_ID_CONSOLE   3
#define VIRTIO_ID_RNG       4
#define CONSOLE_F_MULTIPORT (1u << 1)
#define CONSOLE_F_EMERG_WR  (1u << 2)
#define RNG_BYTES           32

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* One queue: rings at base (desc), base + 0x1000 (avail), base + 0x2000 (used). */
struct vq {
	uint32_t slot;
	uint32_t index;
	uint32_t base;
	uint16_t next;
};

static uint32_t reg(uint32_t slot, uint32_t off) { return mmio_read32(SLOT(slot) + off); }
static void set_reg(uint32_t slot, uint32_t off, uint32_t v) { mmio_write32(SLOT(slot) + off, v); }

static void put_byte_hex(uint8_t b)
{
	serial_putc("0123456789abcdef"[b >> 4]);
	serial_putc("0123456789abcdef"[b & 0xf]);
}

/* Status handshake up to FEATURES_OK, accepting VERSION_1 and `features` (low word). */
static void handshake(uint32_t slot, uint32_t features)
{
	set_reg(slot, REG_STATUS, 0);
	set_reg(slot, REG_STATUS, STATUS_ACK);
	set_reg(slot, REG_STATUS, STATUS_ACK | STATUS_DRIVER);
	set_reg(slot, REG_DRIVER_FEAT_SEL, 0);
	set_reg(slot, REG_DRIVER_FEATURES, features);
	set_reg(slot, REG_DRIVER_FEAT_SEL, 1);
	set_reg(slot, REG_DRIVER_FEATURES, 1); /* VERSION_1 */
	set_reg(slot, REG_STATUS, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK);
	if (!(reg(slot, REG_STATUS) & STATUS_FEATURES_OK))
		fail("FEATURES_OK not accepted");
}

static void setup_queue(struct vq *q)
{
	set_reg(q->slot, REG_QUEUE_SEL, q->index);
	if (reg(q->slot, REG_QUEUE_NUM_MAX) < QUEUE_SIZE)
		fail("queue is too small");
	memset((void *)(uintptr_t)q->base, 0, 0x3000);
	*(volatile uint16_t *)(uintptr_t)(q->base + 0x1000) = 1; /* VRING_AVAIL_F_NO_INTERRUPT: we poll */
	set_reg(q->slot, REG_QUEUE_NUM, QUEUE_SIZE);
	set_reg(q->slot, REG_QUEUE_DESC, q->base);
	set_reg(q->slot, REG_QUEUE_DESC + 4, 0);
	set_reg(q->slot, REG_QUEUE_DRIVER, q->base + 0x1000);
	set_reg(q->slot, REG_QUEUE_DRIVER + 4, 0);
	set_reg(q->slot, REG_QUEUE_DEVICE, q->base + 0x2000);
	set_reg(q->slot, REG_QUEUE_DEVICE + 4, 0);
	set_reg(q->slot, REG_QUEUE_READY, 1);
	q->next = 0;
}

/* Makes a one-descriptor chain available and kicks the queue. */
static void submit(struct vq *q, uint32_t buf, uint32_t len, uint16_t flags)
{
	volatile struct virtq_desc *desc = (volatile struct virtq_desc *)(uintptr_t)q->base;
	volatile uint16_t *avail = (volatile uint16_t *)(uintptr_t)(q->base + 0x1000);
	uint16_t head = q->next % QUEUE_SIZE;
	desc[head] = (struct virtq_desc){ buf, len, flags, 0 };
	avail[2 + head] = head;
	barrier();
	avail[1] = ++q->next;
	barrier();
	set_reg(q->slot, REG_QUEUE_NOTIFY, q->index);
}

/* Waits for used.idx to reach q->next; returns the used length of the last element. */
static uint32_t wait_used(struct vq *q, const char *what)
{
	volatile uint16_t *used_idx = (volatile uint16_t *)(uintptr_t)(q->base + 0x2002);
	uint64_t start = rdtsc();
	while (*used_idx != q->next) {
		if (rdtsc() - start > TIMEOUT_TSC_TICKS)
			fail(what);
		tsc_delay(10000);
	}
	volatile uint32_t *elem = (volatile uint32_t *)(uintptr_t)(q->base + 0x2004 + 8 * ((q->next - 1) % QUEUE_SIZE));
	return elem[1];
}

static void check_slot(uint32_t slot, uint32_t device, const char *reason)
{
	if (reg(slot, REG_MAGIC) != 0x74726976 || reg(slot, REG_VERSION) != 2 || reg(slot, REG_DEVICE_ID) != device)
		fail(reason);
}

static void rng(void)
{
	check_slot(0, VIRTIO_ID_RNG, "slot 0 is not a virtio-mmio v2 entropy device");
	handshake(0, 0);
	struct vq q = { 0, 0, 0x300000, 0 };
	setup_queue(&q);
	set_reg(0, REG_STATUS, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
	volatile uint8_t *a = (volatile uint8_t *)0x310000, *b = (volatile uint8_t *)0x311000;
	memset((void *)a, 0, RNG_BYTES);
	memset((void *)b, 0, RNG_BYTES);
	for (int i = 0; i < 2; i++) {
		submit(&q, i == 0 ? 0x310000 : 0x311000, RNG_BYTES, DESC_F_WRITE);
		uint32_t len = wait_used(&q, "entropy request not completed");
		if (len == 0 || len > RNG_BYTES)
			fail("unexpected entropy length");
		puts("RNG len=");
		put_dec(len);
		puts(" bytes=");
		for (uint32_t j = 0; j < len && j < 16; j++)
			put_byte_hex((i == 0 ? a : b)[j]);
		serial_putc('\n');
	}
	if (memcmp((const void *)a, (const void *)b, 8) == 0)
		fail("two entropy requests returned the same bytes");
	set_reg(0, REG_STATUS, 0);
}

static void console(void)
{
	if (reg(1, REG_MAGIC) != 0x74726976 || reg(1, REG_DEVICE_ID) != VIRTIO_ID_CONSOLE) {
		putln("CONSOLE absent");
		return;
	}
	check_slot(1, VIRTIO_ID_CONSOLE, "slot 1 is not a virtio-mmio v2 console");
	set_reg(1, REG_DEVICE_FEAT_SEL, 0);
	uint32_t offered = reg(1, REG_DEVICE_FEATURES);
	puts("CONSOLE features=");
	put_hex(offered);
	serial_putc('\n');
	if (offered & CONSOLE_F_MULTIPORT)
		fail("the console offers MULTIPORT");
	handshake(1, offered & CONSOLE_F_EMERG_WR);
	struct vq rx = { 1, 0, 0x320000, 0 }, tx = { 1, 1, 0x330000, 0 };
	setup_queue(&rx);
	setup_queue(&tx);
	set_reg(1, REG_STATUS, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);

	for (const char *p = "EMERG\n"; *p; p++)
		set_reg(1, REG_CONFIG + 8, (uint8_t)*p); /* emerg_wr (5.3.4) */
	volatile char *in = (volatile char *)0x340000;
	memset((void *)in, 0, 64);
	submit(&rx, 0x340000, 64, DESC_F_WRITE);
	const char *msg = "hello from hvc0\n";
	memcpy((void *)0x350000, msg, strlen(msg));
	submit(&tx, 0x350000, strlen(msg), 0);
	wait_used(&tx, "console transmit not completed");
	putln("CONSOLE tx done");
	/* The host sends one line; it may come in pieces, each in its own receive buffer. */
	uint32_t got = wait_used(&rx, "no console input");
	puts("CONSOLE rx=");
	for (uint32_t i = 0; i < got && in[i] != '\n'; i++)
		serial_putc(in[i]);
	serial_putc('\n');
	set_reg(1, REG_STATUS, 0);
}

void guest_main(const struct hvm_start_info *si)
{
	(void)si;
	rng();
	console();
	done("virtio-devices");
}
