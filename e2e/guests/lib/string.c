// Freestanding string helpers and the cmdline parser. gcc may emit memcpy/memset calls itself.
#include "lib.h"

void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	void *d = dst;
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

const char *cmdline_find(const char *cmdline, const char *key)
{
	size_t klen = strlen(key);
	const char *p = cmdline;
	if (!p)
		return NULL;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!memcmp(p, key, klen) && p[klen] == '=')
			return p + klen + 1;
		while (*p && *p != ' ')
			p++;
	}
	return NULL;
}

uint64_t cmdline_u64(const char *cmdline, const char *key, uint64_t fallback)
{
	const char *p = cmdline_find(cmdline, key);
	uint64_t v = 0;
	unsigned base = 10, digits = 0;
	if (!p)
		return fallback;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (;; p++, digits++) {
		unsigned d;
		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			break;
		v = v * base + d;
	}
	return digits ? v : fallback;
}

spinlock_t print_lock;

void spin_lock(spinlock_t *l)
{
	while (atomic_xchg32(&l->locked, 1))
		while (l->locked)
			cpu_relax();
}

void spin_unlock(spinlock_t *l)
{
	barrier();
	l->locked = 0;
}

void tsc_delay(uint64_t ticks)
{
	uint64_t start = rdtsc();
	for (uint64_t i = 0; i < ticks && rdtsc() - start < ticks; i++)
		cpu_relax();
}
