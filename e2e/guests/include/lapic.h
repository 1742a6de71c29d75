/* xAPIC at 0xFEE00000 (Intel SDM vol. 3, chapter 11): id, spurious vector, ICR. */
#ifndef GUEST_LAPIC_H
#define GUEST_LAPIC_H

#include <stdint.h>
#include <stdbool.h>

uint32_t lapic_id(void);              /* register 0x20, bits 31:24 */
void lapic_enable(void);              /* SVR: software enable, spurious vector 0xFF */
/* INIT, SIPI, SIPI to one APIC id, start-up vector = page number of the trampoline. */
bool lapic_start_ap(uint32_t apic_id, uint8_t vector);

#endif
