/*
 * The timer PD: owns the EL1 physical timer's interrupt and ends the WFI sleeps of every VMM of
 * a system of several VMs (proto/timer.h). It reads each client's deadline from the client's
 * slot, programs the hardware for the earliest one not yet notified, and notifies each client
 * whose deadline the counter has reached. A client's slot is only read, and any value is valid.
 */
#include <pd/pd.h>
#include <proto/timer.h>

#include "timer.h"

#define CTL_ENABLE 1u

static uint64_t slot_of(const struct timer_state *t, unsigned i)
{
    return timer_slot_read((const struct timer_slot *)t->cfg->clients[i].slot);
}

/* Notify every client whose deadline has passed, then program the earliest one left. */
static void service(struct timer_state *t)
{
    uint64_t next = 0;
    for (unsigned pass = 0; pass < 2; pass++) {
        uint64_t now = pd_counter_now();
        next = 0;
        for (unsigned i = 0; i < t->cfg->num_clients; i++) {
            uint64_t d = slot_of(t, i);
            if (!d || d == t->notified[i])
                continue;
            if (d <= now) {
                t->notified[i] = d;
                pd_notify(t->cfg->clients[i].channel);
                continue;
            }
            if (!next || d < next)
                next = d;
        }
        /* A deadline that passes while being programmed is caught by the second pass. */
        if (next && t->armed != next) {
            pd_ptimer_write(CTL_ENABLE, next);
            t->armed = next;
        }
        if (!next || next > pd_counter_now())
            break;
    }
    if (!next && t->armed) {
        pd_ptimer_write(0, 0);
        t->armed = 0;
    }
}

bool timer_start(struct timer_state *t, const struct timer_config *cfg)
{
    t->cfg = cfg;
    t->armed = 0;
    t->fired = 0;
    for (unsigned i = 0; i < TIMER_MAX_CLIENTS; i++)
        t->notified[i] = 0;
    pd_ptimer_write(0, 0);
    t->ok = cfg->num_clients <= TIMER_MAX_CLIENTS;
    if (!t->ok) {
        pd_puts("timer: error: more clients configured than this build serves\n");
        return false;
    }
    service(t);
    return true;
}

void timer_event(struct timer_state *t, unsigned channel)
{
    if (!t->ok)
        return;
    if (channel == t->cfg->irq_channel) {
        t->fired++;
        t->armed = 0; /* it fired: programmed again below, or left off */
        pd_ptimer_write(0, 0);
        service(t);
        pd_irq_ack(channel);
        return;
    }
    service(t);
}
