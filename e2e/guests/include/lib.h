/* The shared guest library: serial output, strings, command line, locks, timeouts. */
#ifndef GUEST_LIB_H
#define GUEST_LIB_H

#include "io.h"
#include "platform.h"

/* serial.c: polled COM1 output (LSR bit 5 THRE, then THR). Works from ring 3 when IOPL=3. */
void serial_putc(char c);
void puts(const char *s);             /* no newline added */
void putln(const char *s);            /* s + "\n" */
void put_range(const char *prefix, uint64_t addr, uint64_t size, uint32_t type); /* "<prefix> <addr> <size> <type>\n" */
void put_hex(uint64_t v);             /* "0x" + lowercase hex, no leading zeros ("0x0") */
void put_dec(uint64_t v);

/* string.c */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* cmdline.c: "key=value" words separated by spaces. */
const char *cmdline_find(const char *cmdline, const char *key);  /* points at the value, or NULL */
uint64_t cmdline_u64(const char *cmdline, const char *key, uint64_t fallback); /* decimal or 0x hex */

/* A test-and-set spinlock on xchg (no cmpxchg16b). */
typedef struct { volatile uint32_t locked; } spinlock_t;
void spin_lock(spinlock_t *l);
void spin_unlock(spinlock_t *l);
extern spinlock_t print_lock;

/* Timeouts count TSC ticks; the TSC rate is unknown, so this is ~5-20 s on 1-4 GHz hosts. */
#define TIMEOUT_TSC_TICKS 20000000000ull
/* A short pause (TSC ticks, bounded by iterations too so a stuck TSC cannot hang). */
void tsc_delay(uint64_t ticks);

/* reset.c: end the VM. */
void __attribute__((noreturn)) reset_i8042(void);            /* write 0xFE to port 0x64 */
void __attribute__((noreturn)) poweroff_fixed_port(void);    /* layout constant: 0x34 -> port 0x600 */
void __attribute__((noreturn)) fail(const char *reason);     /* "FAIL <reason>\n", then reset */
void __attribute__((noreturn)) done(const char *name);       /* "DONE <name>\n", then reset */

#endif
