/*
 * The wake-up timer service (components/timer) for a system of several VMs: the EL1 physical
 * timer's interrupt can go to one protection domain only, so the timer PD owns it and ends every
 * VMM's WFI sleeps.
 *
 * Each client has a page of its own, mapped read-write in the client and read-only in the timer
 * PD, holding one struct timer_slot, and a channel to the timer PD. The client writes the physical
 * counter value it wants to be woken at (0: none) with a single 64-bit store, then notifies the
 * timer PD. The timer PD notifies the client once the counter has reached that value; a deadline
 * already notified is not notified again until the client writes another. Any value is valid: a
 * deadline in the past is notified at once.
 */
#ifndef PROTO_TIMER_H
#define PROTO_TIMER_H

#include <stdint.h>

struct timer_slot {
    uint64_t deadline;
};

static inline void timer_slot_write(struct timer_slot *s, uint64_t deadline)
{
    __atomic_store_n(&s->deadline, deadline, __ATOMIC_RELEASE);
}

static inline uint64_t timer_slot_read(const struct timer_slot *s)
{
    return __atomic_load_n(&s->deadline, __ATOMIC_ACQUIRE);
}

#endif
