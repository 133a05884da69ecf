/* The timer PD (components/timer): one hardware timer, a deadline per client. */
#include <proto/timer.h>
#include <timer/timer.h>

#include "sim_pd.h"
#include "test.h"

#define IRQ_CH 0u

static struct timer_slot slots[3];
static const struct timer_client_config clients[3] = {
    { "a", (uintptr_t)&slots[0], 1 },
    { "b", (uintptr_t)&slots[1], 2 },
    { "c", (uintptr_t)&slots[2], 3 },
};
static const struct timer_config cfg = { IRQ_CH, 3, clients };
static struct timer_state t;

static void start(void)
{
    sim_pd_reset();
    for (unsigned i = 0; i < 3; i++)
        slots[i].deadline = 0;
    sim_pd.now = 100;
}

/* The hardware fires when its compare value is reached and it is enabled. */
static void fire(uint64_t now)
{
    sim_pd.now = now;
    timer_event(&t, IRQ_CH);
}

TEST(timer_pd_programs_the_earliest_deadline)
{
    start();
    CHECK(timer_start(&t, &cfg));
    CHECK_EQ(sim_pd.ptimer_ctl, 0);
    timer_slot_write(&slots[1], 900);
    timer_event(&t, 2);
    CHECK_EQ(sim_pd.ptimer_ctl, 1);
    CHECK_EQ(sim_pd.ptimer_cval, 900);
    timer_slot_write(&slots[0], 500);
    timer_event(&t, 1);
    CHECK_EQ(sim_pd.ptimer_cval, 500);
    fire(500);
    CHECK_EQ(sim_pd_take_notify(1), 1); /* a's deadline passed */
    CHECK_EQ(sim_pd_take_notify(2), 0);
    CHECK_EQ(sim_pd.irq_acks[IRQ_CH], 1);
    CHECK_EQ(sim_pd.ptimer_cval, 900); /* b's is next */
    fire(950);
    CHECK_EQ(sim_pd_take_notify(2), 1);
    CHECK_EQ(sim_pd.ptimer_ctl, 0); /* nothing left: off */
}

/* A deadline already notified is not notified again until the client writes another, so a
 * client that does not clear its slot causes no interrupt storm. */
TEST(timer_pd_notifies_a_deadline_once)
{
    start();
    CHECK(timer_start(&t, &cfg));
    timer_slot_write(&slots[0], 200);
    timer_event(&t, 1);
    fire(300);
    CHECK_EQ(sim_pd_take_notify(1), 1);
    timer_event(&t, 1); /* the client notifies again without a new deadline */
    fire(400);
    CHECK_EQ(sim_pd_take_notify(1), 0);
    CHECK_EQ(sim_pd.ptimer_ctl, 0);
    timer_slot_write(&slots[0], 450);
    timer_event(&t, 1);
    fire(460);
    CHECK_EQ(sim_pd_take_notify(1), 1);
}

/* A deadline in the past is notified at once, without the hardware. */
TEST(timer_pd_past_deadline_at_once)
{
    start();
    CHECK(timer_start(&t, &cfg));
    sim_pd.now = 1000;
    timer_slot_write(&slots[2], 10);
    timer_event(&t, 3);
    CHECK_EQ(sim_pd_take_notify(3), 1);
    CHECK_EQ(sim_pd.ptimer_ctl, 0);
}

/* A client taking its deadline back (0) cancels it; others stay. */
TEST(timer_pd_cancelled_deadline)
{
    start();
    CHECK(timer_start(&t, &cfg));
    timer_slot_write(&slots[0], 300);
    timer_slot_write(&slots[1], 700);
    timer_event(&t, 1);
    CHECK_EQ(sim_pd.ptimer_cval, 300);
    timer_slot_write(&slots[0], 0);
    timer_event(&t, 1);
    CHECK_EQ(sim_pd.ptimer_cval, 700);
    fire(800);
    CHECK_EQ(sim_pd_take_notify(1), 0);
    CHECK_EQ(sim_pd_take_notify(2), 1);
}

TEST(timer_pd_refuses_too_many_clients)
{
    static const struct timer_config big = { IRQ_CH, TIMER_MAX_CLIENTS + 1, clients };
    start();
    CHECK(!timer_start(&t, &big));
    timer_event(&t, 1); /* ignored, no crash */
    CHECK_EQ(sim_pd.ptimer_ctl, 0);
}
