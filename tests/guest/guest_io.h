/* The bare-metal test guest's console (QEMU virt's PL011, polled), its "check NAME: ok" lines,
 * the counter, IRQ masking and its firmware calls: shared by the checks (main.c) and the latency
 * bench (irq_latency.c). */
#ifndef GUEST_IO_H
#define GUEST_IO_H

#include <stdbool.h>
#include <stdint.h>

#define UART 0x09000000ul
#define GICD 0x08000000ul
#define GICC 0x08010000ul

static inline volatile uint32_t *reg32(uint64_t a)
{
    return (volatile uint32_t *)a;
}

/* The virtual counter (after an ISB, so not read early) and its frequency. */
static inline uint64_t counter(void)
{
    uint64_t v;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
    return v;
}

static inline uint64_t counter_freq(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return v;
}

/* IRQs unmasked (`on`) or masked at this CPU. */
static inline void irqs(bool on)
{
    if (on)
        __asm__ volatile("msr daifclr, #2; isb" ::: "memory");
    else
        __asm__ volatile("msr daifset, #2; isb" ::: "memory");
}

void putc_(char c);
void puts_(const char *s);
void putu(uint64_t v);
void putx(uint64_t v);
/* "check NAME: ok", or "check NAME: FAIL detail value" (tests/e2e/baremetal.py reads them). */
void check(const char *name, bool ok, const char *detail, uint64_t value);
/* An SMC with x0..x3; returns x0 (PSCI's error codes are negative: cast to int64_t). */
uint64_t smc(uint64_t fid, uint64_t a1, uint64_t a2, uint64_t a3);

#endif
