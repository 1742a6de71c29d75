// Polled 16550A transmit on COM1 (PC16550D datasheet section 8: LSR bit 5 = THR empty).
#include "lib.h"

#define UART_THR 0
#define UART_LSR 5
#define LSR_THRE 0x20
/* Bounded so a broken UART model cannot hang the guest: every poll is a VM exit. */
#define THRE_POLL_LIMIT 100000

void serial_putc(char c)
{
	for (int i = 0; i < THRE_POLL_LIMIT; i++)
		if (inb(COM1_PORT + UART_LSR) & LSR_THRE)
			break;
	outb(COM1_PORT + UART_THR, (uint8_t)c);
}

void puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

void putln(const char *s)
{
	puts(s);
	serial_putc('\n');
}

void put_hex(uint64_t v)
{
	char buf[19];
	int i = sizeof(buf);
	buf[--i] = 0;
	do {
		buf[--i] = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	} while (v);
	buf[--i] = 'x';
	buf[--i] = '0';
	puts(&buf[i]);
}

void put_dec(uint64_t v)
{
	char buf[21];
	int i = sizeof(buf);
	buf[--i] = 0;
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	puts(&buf[i]);
}

void put_range(const char *prefix, uint64_t addr, uint64_t size, uint32_t type)
{
	puts(prefix);
	serial_putc(' ');
	put_hex(addr);
	serial_putc(' ');
	put_hex(size);
	serial_putc(' ');
	put_dec(type);
	serial_putc('\n');
}
