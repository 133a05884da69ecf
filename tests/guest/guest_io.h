/* The bare-metal test guest's console (QEMU virt's PL011, polled), its "check NAME: ok" lines
 * and its firmware calls: shared by the checks (main.c) and the latency bench (irq_latency.c). */
#ifndef GUEST_IO_H
#define GUEST_IO_H

#include <stdbool.h>
#include <stdint.h>

#define UART 0x09000000ul

static inline volatile uint32_t *reg32(uint64_t a)
{
    return (volatile uint32_t *)a;
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
