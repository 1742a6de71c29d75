// virtio-net (PVH): drives a virtio-net in virtio-mmio slot 0 (virtio 1.2 sections 3.1.1, 4.2.3,
// 5.1.6): reads the MAC from config space, posts 8 receive buffers, transmits an ARP request for
// the host end of the tap (10.213.7.1 from 10.213.7.2) and polls the receive queue until the host
// kernel's ARP reply arrives, re-posting other frames' buffers. Interrupts suppressed, polling.
// With cmdline wait-tx=1 it prints "NET waiting" once the receive buffers are posted and sends
// only after a byte arrives on COM1 (so a test can snapshot and restore it in between).
#include "lib.h"
#include "virtio-mmio.h"
#include "pvh.h"

#define SLOT0               0xD0000000u

#define DESC_F_WRITE        2
#define QUEUE_SIZE          8
#define VIRTIO_ID_NET       1
#define NET_F_MAC           (1u << 5)
#define NET_HDR             12
#define RX_BUF(i)           (0x400000u + 0x1000u * (i))
#define TX_BUF              0x380000u

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
	uint16_t avail;
	uint16_t used;
};

static uint32_t reg(uint32_t off) { return mmio_read32(SLOT0 + off); }
static void set_reg(uint32_t off, uint32_t v) { mmio_write32(SLOT0 + off, v); }

static void put_mac(const volatile uint8_t *m)
{
	for (int i = 0; i < 6; i++) {
		if (i)
			serial_putc(':');
		serial_putc("0123456789abcdef"[m[i] >> 4]);
		serial_putc("0123456789abcdef"[m[i] & 0xf]);
	}
}

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
}

/* Descriptor `id` holds (buf, len, flags); makes it available and kicks. */
static void post(struct vq *q, uint16_t id, uint32_t buf, uint32_t len, uint16_t flags)
{
	volatile struct virtq_desc *desc = (volatile struct virtq_desc *)(uintptr_t)q->base;
	volatile uint16_t *avail = (volatile uint16_t *)(uintptr_t)(q->base + 0x1000);
	desc[id] = (struct virtq_desc){ buf, len, flags, 0 };
	avail[2 + q->avail % QUEUE_SIZE] = id;
	barrier();
	avail[1] = ++q->avail;
	barrier();
	set_reg(REG_QUEUE_NOTIFY, q->index);
}

/* Waits for the next used element; returns its id and stores its length. */
static uint32_t next_used(struct vq *q, uint32_t *len, const char *what)
{
	volatile uint16_t *used_idx = (volatile uint16_t *)(uintptr_t)(q->base + 0x2002);
	uint64_t start = rdtsc();
	while (*used_idx == q->used) {
		if (rdtsc() - start > TIMEOUT_TSC_TICKS)
			fail(what);
		tsc_delay(10000);
	}
	volatile uint32_t *elem = (volatile uint32_t *)(uintptr_t)(q->base + 0x2004 + 8 * (q->used % QUEUE_SIZE));
	q->used++;
	*len = elem[1];
	return elem[0];
}

static const uint8_t guest_ip[4] = { 10, 213, 7, 2 };
static const uint8_t host_ip[4] = { 10, 213, 7, 1 };

void guest_main(const struct hvm_start_info *si)
{
	if (reg(REG_MAGIC) != 0x74726976 || reg(REG_VERSION) != 2 || reg(REG_DEVICE_ID) != VIRTIO_ID_NET)
		fail("slot 0 is not a virtio-mmio v2 network device");
	set_reg(REG_DEVICE_FEAT_SEL, 0);
	uint32_t offered = reg(REG_DEVICE_FEATURES);
	if (!(offered & NET_F_MAC))
		fail("no VIRTIO_NET_F_MAC");
	volatile uint8_t mac[6];
	for (int i = 0; i < 6; i++)
		mac[i] = *(volatile uint8_t *)(uintptr_t)(SLOT0 + REG_CONFIG + i);
	uint16_t status = *(volatile uint16_t *)(uintptr_t)(SLOT0 + REG_CONFIG + 6);
	puts("NET mac=");
	put_mac(mac);
	puts(" status=");
	put_dec(status);
	serial_putc('\n');

	set_reg(REG_STATUS, 0);
	set_reg(REG_STATUS, STATUS_ACK);
	set_reg(REG_STATUS, STATUS_ACK | STATUS_DRIVER);
	set_reg(REG_DRIVER_FEAT_SEL, 0);
	set_reg(REG_DRIVER_FEATURES, NET_F_MAC);
	set_reg(REG_DRIVER_FEAT_SEL, 1);
	set_reg(REG_DRIVER_FEATURES, 1); /* VERSION_1 */
	set_reg(REG_STATUS, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK);
	if (!(reg(REG_STATUS) & STATUS_FEATURES_OK))
		fail("FEATURES_OK not accepted");
	struct vq rx = { 0, 0x300000, 0, 0 }, tx = { 1, 0x310000, 0, 0 };
	setup_queue(&rx);
	setup_queue(&tx);
	set_reg(REG_STATUS, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
	for (uint16_t i = 0; i < QUEUE_SIZE; i++)
		post(&rx, i, RX_BUF(i), 2048, DESC_F_WRITE);

	if (cmdline_u64(pvh_cmdline(si), "wait-tx", 0)) {
		putln("NET waiting");
		while (!(inb(COM1_PORT + 5) & 0x01)) /* LSR data ready */
			tsc_delay(100000);
		(void)inb(COM1_PORT); /* RBR */
	}
	/* An ARP request (RFC 826) after a zeroed virtio_net_hdr_v1: who has 10.213.7.1? */
	volatile uint8_t *f = (volatile uint8_t *)(uintptr_t)TX_BUF;
	memset((void *)f, 0, NET_HDR + 42);
	volatile uint8_t *e = f + NET_HDR;
	for (int i = 0; i < 6; i++) {
		e[i] = 0xff;
		e[6 + i] = mac[i];
		e[22 + i] = mac[i];
	}
	e[12] = 0x08; e[13] = 0x06;             /* ethertype ARP */
	e[15] = 1; e[16] = 0x08; e[18] = 6; e[19] = 4; e[21] = 1; /* Ethernet, IPv4, request */
	for (int i = 0; i < 4; i++) {
		e[28 + i] = guest_ip[i];
		e[38 + i] = host_ip[i];
	}
	post(&tx, 0, TX_BUF, NET_HDR + 42, 0);
	uint32_t len;
	next_used(&tx, &len, "transmit not completed");
	putln("NET tx done");

	for (int frames = 0; frames < 64; frames++) {
		uint32_t id = next_used(&rx, &len, "no ARP reply received");
		if (id >= QUEUE_SIZE)
			fail("unexpected used element");
		volatile uint8_t *h = (volatile uint8_t *)(uintptr_t)RX_BUF(id);
		volatile uint8_t *r = h + NET_HDR;
		uint16_t num_buffers = (uint16_t)(h[10] | (h[11] << 8));
		if (len >= NET_HDR + 42 && r[12] == 0x08 && r[13] == 0x06 && r[21] == 2 && memcmp((const void *)(r + 28), host_ip, 4) == 0) {
			puts("NET arp-reply from ");
			put_mac(r + 22);
			puts(" num_buffers=");
			put_dec(num_buffers);
			puts(" len=");
			put_dec(len);
			serial_putc('\n');
			set_reg(REG_STATUS, 0);
			done("virtio-net");
		}
		post(&rx, (uint16_t)id, RX_BUF(id), 2048, DESC_F_WRITE); /* another frame (IPv6 RS, MLD): recycle */
	}
	fail("no ARP reply in 64 frames");
}
