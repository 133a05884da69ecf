/* The wake-up timer service (proto/timer.h): one hardware timer, a deadline per client. */
#ifndef TIMER_TIMER_H
#define TIMER_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct timer_state {
    const struct timer_config *cfg;
    bool ok;
    uint64_t notified[TIMER_MAX_CLIENTS]; /* the deadline each client was last notified for */
    uint64_t armed;                       /* what the hardware is programmed for (0: off) */
    uint64_t fired;                       /* statistics */
};

bool timer_start(struct timer_state *t, const struct timer_config *cfg);
void timer_event(struct timer_state *t, unsigned channel);

#endif
