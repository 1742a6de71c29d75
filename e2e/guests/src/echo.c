// echo (PVH): proves COM1 input. Prints "ECHO-READY", then reads lines from the UART's receive
// buffer (polling LSR bit 0, data ready) and prints each back as "ECHO <line>"; the line "quit"
// ends it with "DONE echo" and a reset. Ring-0 polling: every LSR read is a VM exit, so the poll
// loop pauses between reads to keep the exit rate (and the emulated ring-0 work) modest.
#include "lib.h"
#include "pvh.h"

#define UART_RBR 0
#define UART_LSR 5
#define LSR_DR 0x01
#define LINE_MAX 128

static char read_char(void)
{
	while (!(inb(COM1_PORT + UART_LSR) & LSR_DR))
		for (int i = 0; i < 200; i++)
			__asm__ volatile("pause");
	return (char)inb(COM1_PORT + UART_RBR);
}

static int streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

void guest_main(const struct hvm_start_info *si)
{
	(void)si;
	char line[LINE_MAX];
	putln("ECHO-READY");
	for (;;) {
		int n = 0;
		for (;;) {
			char c = read_char();
			if (c == '\r' || c == '\n') break;
			if (n < LINE_MAX - 1) line[n++] = c;
		}
		line[n] = 0;
		if (n == 0) continue;
		if (streq(line, "quit")) done("echo");
		puts("ECHO ");
		putln(line);
	}
}
