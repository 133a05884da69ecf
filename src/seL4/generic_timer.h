/* The Arm generic timer as a PD at EL0 reaches it: the physical counter and the EL1 physical timer
 * (this kernel configuration exports both to user level, and through CNTHCTL_EL2.EL1PCEN to
 * guests). Shared by the two seams. */
#ifndef SEL4_GENERIC_TIMER_H
#define SEL4_GENERIC_TIMER_H

#include <stdint.h>

static inline uint64_t generic_counter_now(void)
{
    uint64_t v;
    __asm__ volatile("isb; mrs %0, cntpct_el0" : "=r"(v));
    return v;
}

static inline uint64_t generic_counter_freq(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return v;
}

static inline void generic_ptimer_read(uint64_t *ctl, uint64_t *cval)
{
    __asm__ volatile("isb; mrs %0, cntp_ctl_el0" : "=r"(*ctl));
    __asm__ volatile("mrs %0, cntp_cval_el0" : "=r"(*cval));
}

/* CTL bit 0 enables, bit 1 masks. Disabled first so the old compare value cannot fire against
 * the new control bits. */
static inline void generic_ptimer_write(uint64_t ctl, uint64_t cval)
{
    __asm__ volatile("msr cntp_ctl_el0, xzr; isb; msr cntp_cval_el0, %0" ::"r"(cval));
    __asm__ volatile("msr cntp_ctl_el0, %0; isb" ::"r"(ctl & 3));
}

#endif
