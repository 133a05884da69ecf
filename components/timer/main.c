/* The timer PD program (see timer.c). */
#include <pd/pd.h>

#include "timer.h"

static struct timer_state timer;

void pd_init(void)
{
    timer_start(&timer, &timer_config);
}

void pd_notified(unsigned channel)
{
    timer_event(&timer, channel);
}
