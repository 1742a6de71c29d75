/* Starting application processors through arch/trampoline.S and counting them in. */
#ifndef GUEST_SMP_H
#define GUEST_SMP_H

#include <stdint.h>

/* Every AP runs ap_main() (smp.c) on its own stack: lidt, smp_check_in(), then ap_work(), which
 * halts unless the guest defines its own (a weak symbol). */
void ap_main(void);
void ap_work(void);

/* Copy the real-mode trampoline to AP_TRAMPOLINE_START. */
void smp_install_trampoline(void);
/* INIT-SIPI-SIPI to each id; prints FAIL and resets if an IPI stays pending. */
void smp_start_aps(const uint32_t *ids, unsigned count);

/* Check-in protocol shared by smp and acpi-smp: prints "CPU <id> online" under the print lock;
 * the CPU that brings the count to expected prints ok_line + " cpus=N", "DONE <name>" and resets. */
void smp_check_in(void);
/* The BSP waits (bounded) for all CPUs; prints FAIL on timeout. */
void __attribute__((noreturn)) smp_wait_all(void);
void smp_configure(unsigned expected, const char *ok_line, const char *name);

#endif
