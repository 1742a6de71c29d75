// virtio-vsock (PVH): drives a virtio-vsock in virtio-mmio slot 0 the way Linux's transport does
// (virtio 1.2 sections 3.1.1, 4.2.3, 5.10.6), polling the used rings with interrupts suppressed:
// reads guest_cid, connects to host port 1234 (REQUEST, RESPONSE, RW both ways, SHUTDOWN, RST),
// then accepts a host-initiated connection on port 52 and reads a line from it.
#include "lib.h"
#include "virtio-mmio.h"
#include "pvh.h"

#define SLOT0               0xD0000000u

#define DESC_F_NEXT         1
#define DESC_F_WRITE        2
#define QUEUE_SIZE          8
#define VIRTIO_ID_VSOCK     19

#define OP_REQUEST  1
#define OP_RESPONSE 2
#define OP_RST      3
#define OP_SHUTDOWN 4
#define OP_RW       5
#define HOST_CID    2
#define RX_BUF      0x400000u
#define RX_LEN      (44 + 256)
#define TX_HDR      0x410000u
#define TX_DATA     0x411000u

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct __attribute__((packed)) vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

/* One queue: rings at base (desc), base + 0x1000 (avail), base + 0x2000 (used). */
struct vq {
	uint32_t index;
	uint32_t base;
	uint16_t next;
};

static uint64_t guest_cid;
static uint32_t rx_bytes; /* our fwd_cnt on the current connection: payload bytes consumed */

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

/* Makes a chain of one or two descriptors available and kicks the queue. */
static void submit(struct vq *q, uint32_t buf, uint32_t len, uint32_t buf2, uint32_t len2, uint16_t flags)
{
	volatile struct virtq_desc *desc = (volatile struct virtq_desc *)(uintptr_t)q->base;
	volatile uint16_t *avail = (volatile uint16_t *)(uintptr_t)(q->base + 0x1000);
	uint16_t head = (uint16_t)((2 * q->next) % QUEUE_SIZE);
	uint16_t second = (uint16_t)((head + 1) % QUEUE_SIZE);
	desc[head] = (struct virtq_desc){ buf, len, (uint16_t)(flags | (len2 ? DESC_F_NEXT : 0)), second };
	if (len2)
		desc[second] = (struct virtq_desc){ buf2, len2, flags, 0 };
	avail[2 + q->next % QUEUE_SIZE] = head;
	barrier();
	avail[1] = ++q->next;
	barrier();
	set_reg(REG_QUEUE_NOTIFY, q->index);
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

static struct vq rxq = { 0, 0x300000, 0 }, txq = { 1, 0x310000, 0 }, evq = { 2, 0x320000, 0 };

static void send(uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t flags, const char *data)
{
	uint32_t len = data ? (uint32_t)strlen(data) : 0;
	volatile struct vsock_hdr *h = (volatile struct vsock_hdr *)(uintptr_t)TX_HDR;
	h->src_cid = guest_cid;
	h->dst_cid = HOST_CID;
	h->src_port = src_port;
	h->dst_port = dst_port;
	h->len = len;
	h->type = 1;
	h->op = op;
	h->flags = flags;
	h->buf_alloc = 4096;
	h->fwd_cnt = rx_bytes;
	if (len)
		memcpy((void *)(uintptr_t)TX_DATA, data, len);
	submit(&txq, TX_HDR, 44, TX_DATA, len, 0);
	wait_used(&txq, "tx packet not completed");
}

/* Posts one rx buffer and waits for the packet the device puts in it. */
static volatile struct vsock_hdr *receive(const char *what)
{
	memset((void *)(uintptr_t)RX_BUF, 0, RX_LEN);
	submit(&rxq, RX_BUF, RX_LEN, 0, 0, DESC_F_WRITE);
	uint32_t used = wait_used(&rxq, what);
	volatile struct vsock_hdr *h = (volatile struct vsock_hdr *)(uintptr_t)RX_BUF;
	if (used < 44 || used != 44 + h->len)
		fail("rx packet length does not match its header");
	if (h->src_cid != HOST_CID || h->dst_cid != guest_cid || h->type != 1)
		fail("rx packet has the wrong CIDs or type");
	if (h->op == OP_RW)
		rx_bytes += h->len;
	return h;
}

static void expect_op(volatile struct vsock_hdr *h, uint16_t op, const char *reason)
{
	if (h->op != op) {
		puts("VSOCK got op ");
		put_dec(h->op);
		serial_putc('\n');
		fail(reason);
	}
}

static void print_payload(const char *prefix, volatile struct vsock_hdr *h)
{
	puts(prefix);
	volatile char *p = (volatile char *)(uintptr_t)(RX_BUF + 44);
	for (uint32_t i = 0; i < h->len && p[i] != '\n'; i++)
		serial_putc(p[i]);
	serial_putc('\n');
}

void guest_main(const struct hvm_start_info *si)
{
	(void)si;
	if (reg(REG_MAGIC) != 0x74726976 || reg(REG_VERSION) != 2 || reg(REG_DEVICE_ID) != VIRTIO_ID_VSOCK)
		fail("slot 0 is not a virtio-mmio v2 vsock device");
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
	guest_cid = (uint64_t)reg(REG_CONFIG) | ((uint64_t)reg(REG_CONFIG + 4) << 32);
	puts("VSOCK cid=");
	put_dec(guest_cid);
	serial_putc('\n');
	setup_queue(&rxq);
	setup_queue(&txq);
	setup_queue(&evq);
	set_reg(REG_STATUS, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);

	/* Guest-initiated: guest port 5000 -> host port 1234 (the host's <socket>_1234). */
	send(5000, 1234, OP_REQUEST, 0, 0);
	volatile struct vsock_hdr *h = receive("no answer to REQUEST");
	expect_op(h, OP_RESPONSE, "REQUEST to host port 1234 was not answered with RESPONSE");
	if (h->src_port != 1234 || h->dst_port != 5000)
		fail("RESPONSE has the wrong ports");
	putln("VSOCK connected to host port 1234");
	send(5000, 1234, OP_RW, 0, "hello from the guest\n");
	h = receive("no data from the host listener");
	expect_op(h, OP_RW, "expected data from the host listener");
	print_payload("VSOCK rx=", h);
	send(5000, 1234, OP_SHUTDOWN, 3, 0);
	h = receive("no RST after SHUTDOWN");
	expect_op(h, OP_RST, "SHUTDOWN of both directions was not answered with RST");
	putln("VSOCK closed");

	/* Host-initiated: the host's CONNECT 52 arrives as a REQUEST to our port 52. */
	putln("VSOCK listening on 52");
	h = receive("no REQUEST from the host");
	expect_op(h, OP_REQUEST, "expected a REQUEST from the host");
	if (h->dst_port != 52)
		fail("REQUEST for the wrong port");
	uint32_t host_port = h->src_port;
	rx_bytes = 0; /* fwd_cnt counts per connection (5.10.6.3) */
	puts("VSOCK request from host port ");
	put_dec(host_port);
	serial_putc('\n');
	send(52, host_port, OP_RESPONSE, 0, 0);
	h = receive("no data from the host client");
	expect_op(h, OP_RW, "expected data from the host client");
	print_payload("VSOCK rx=", h);
	send(52, host_port, OP_RW, 0, "bye from the guest\n");
	send(52, host_port, OP_RST, 0, 0);
	set_reg(REG_STATUS, 0);
	done("virtio-vsock");
}
