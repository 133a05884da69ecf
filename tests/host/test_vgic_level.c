/*
 * Interrupt lines as the GIC sees them: the guest's timers are level inputs that fall when the
 * timer's condition ends, and list registers only take what a vCPU could be signalled.
 * The sequences are those of issues 12 (level-true timers) and 15 (list registers).
 */
#include <vmm/vgic.h>

#include "fixture.h"
#include "sim_hyp.h"
#include "test.h"

#define ISENABLER0 0x100u
#define ICENABLER0 0x180u
#define ISPENDR0 0x200u
#define ICPENDR0 0x280u
#define ISACTIVER0 0x300u

static void vppi(unsigned vcpu)
{
    struct exit_reply r;
    struct vm_exit e = { .kind = EXIT_VPPI, .vcpu = vcpu, .irq = FX_VTIMER };
    fx_exit(&e, &r);
}

/* The virtual timer of vCPU 0 fires now (enabled, unmasked, compare value reached). */
static void vtimer_firing(void)
{
    sim.now = 5000;
    sim.vcpu[0].cntv_ctl = 1;
    sim.vcpu[0].cntv_cval = 4000;
}

static void gic_on(void)
{
    fx_gicd_write(0, 0x000, 1);
    fx_gicd_write(0, 0x104, 1u << 1); /* UART */
}

static void vtimer_turned_off_while_disabled(uint64_t ctl_after)
{
    gic_on();
    vtimer_firing();
    vppi(0); /* reported while INTID 27 is disabled: held, masked in seL4 */
    CHECK_EQ(sim_injections_of(0, FX_VTIMER), 0);
    unsigned acks = sim.vcpu[0].vppi_acks;
    CHECK(fx_gicd_read(0, ISPENDR0) & (1u << FX_VTIMER));
    sim.vcpu[0].cntv_ctl = ctl_after; /* the guest turns the timer off: no exit */
    /* Reading the pending registers shows the line as it is now, and seL4 may report again. */
    CHECK_EQ(fx_gicd_read(0, ISPENDR0) & (1u << FX_VTIMER), 0);
    CHECK_EQ(fx_gicd_read(0, ICPENDR0) & (1u << FX_VTIMER), 0);
    CHECK_EQ(fx_gicd_read(0, ISACTIVER0) & (1u << FX_VTIMER), 0);
    CHECK_EQ(sim.vcpu[0].vppi_acks, acks + 1);
    fx_gicd_write(0, ISENABLER0, 1u << FX_VTIMER);
    CHECK_EQ(sim_injections_of(0, FX_VTIMER), 0);
}

TEST(vtimer_level_drops_when_disabled_by_enable_bit)
{
    CHECK(fx_boot(1));
    vtimer_turned_off_while_disabled(0);
}

TEST(vtimer_level_drops_when_masked_by_imask)
{
    CHECK(fx_boot(1));
    vtimer_turned_off_while_disabled(3);
}

/* Enabling the interrupt without reading it first also samples the line. */
TEST(vtimer_level_sampled_at_enable)
{
    CHECK(fx_boot(1));
    gic_on();
    vtimer_firing();
    vppi(0);
    unsigned acks = sim.vcpu[0].vppi_acks;
    sim.vcpu[0].cntv_ctl = 0;
    fx_gicd_write(0, ISENABLER0, 1u << FX_VTIMER);
    CHECK_EQ(sim_injections_of(0, FX_VTIMER), 0);
    CHECK_EQ(sim.vcpu[0].vppi_acks, acks + 1);
}

/* A timer still firing when enabled is delivered, and stays masked in seL4 until the EOI. */
TEST(vtimer_level_still_high_is_delivered)
{
    CHECK(fx_boot(1));
    gic_on();
    vtimer_firing();
    vppi(0);
    unsigned acks = sim.vcpu[0].vppi_acks;
    CHECK(fx_gicd_read(0, ISPENDR0) & (1u << FX_VTIMER));
    fx_gicd_write(0, ISENABLER0, 1u << FX_VTIMER);
    CHECK_EQ(sim_injections_of(0, FX_VTIMER), 1);
    CHECK_EQ(sim.vcpu[0].vppi_acks, acks);
    CHECK(fx_guest_handles(0, FX_VTIMER));
    CHECK_EQ(sim.vcpu[0].vppi_acks, acks + 1);
}

/* The line just reported is not sampled again before injection: no extra kernel calls on the
 * timer interrupt's path. */
TEST(vtimer_fresh_report_injected_without_sampling)
{
    CHECK(fx_boot(1));
    gic_on();
    fx_gicd_write(0, ISENABLER0, 1u << FX_VTIMER);
    sim.vcpu[0].cntv_ctl = 0; /* would read as low if sampled */
    vppi(0);
    CHECK_EQ(sim_injections_of(0, FX_VTIMER), 1);
}

/* The same for the EL1 physical timer, passed through on the wake-up channel. */
static void ptimer_turned_off_while_disabled(uint64_t ctl_after)
{
    gic_on();
    sim.now = 5000;
    hyp_ptimer_write(1, 4000); /* the guest's timer, firing */
    vm_notified(&fx.vm, FX_WAKEUP_CH);
    CHECK_EQ(sim_injections_of(0, FX_PTIMER), 0);
    unsigned acks = sim.irq_acks[FX_WAKEUP_CH];
    CHECK(fx_gicd_read(0, ISPENDR0) & (1u << FX_PTIMER));
    CHECK_EQ(sim.irq_acks[FX_WAKEUP_CH], acks); /* still masked: the line is high */
    hyp_ptimer_write(ctl_after, 4000);
    CHECK_EQ(fx_gicd_read(0, ISPENDR0) & (1u << FX_PTIMER), 0);
    CHECK_EQ(sim.irq_acks[FX_WAKEUP_CH], acks + 1);
    fx_gicd_write(0, ISENABLER0, 1u << FX_PTIMER);
    CHECK_EQ(sim_injections_of(0, FX_PTIMER), 0);
}

TEST(ptimer_level_drops_when_disabled_by_enable_bit)
{
    CHECK(fx_boot(1));
    ptimer_turned_off_while_disabled(0);
}

TEST(ptimer_level_drops_when_masked_by_imask)
{
    CHECK(fx_boot(1));
    ptimer_turned_off_while_disabled(3);
}

/* Issue 15 (a): the virtual timer at the lowest priority, enabled, fires; the guest disarms it
 * and raises its priority; then three rounds of the timer must each be delivered. */
TEST(lowest_priority_timer_recovers_after_priority_raised)
{
    CHECK(fx_boot(1));
    gic_on();
    fx_gicd_access(0, 0x400 + FX_VTIMER, 1, 1, 0xf8);
    fx_gicd_write(0, ISENABLER0, 1u << FX_VTIMER);
    vtimer_firing();
    vppi(0);
    CHECK_EQ(sim_injections_of(0, FX_VTIMER), 0); /* never signalled: not in a list register */
    CHECK(fx_gicd_read(0, ISPENDR0) & (1u << FX_VTIMER));
    sim.vcpu[0].cntv_ctl = 0;
    fx_gicd_access(0, 0x400 + FX_VTIMER, 1, 1, 0x80);
    fx_gicd_write(0, ICPENDR0, 1u << FX_VTIMER);
    fx_gicd_write(0, 0x380, 1u << FX_VTIMER);
    CHECK_EQ(sim_injections_of(0, FX_VTIMER), 0);
    CHECK_EQ(fx_gicd_read(0, ISPENDR0) & (1u << FX_VTIMER), 0);
    for (unsigned round = 1; round <= 3; round++) {
        vtimer_firing();
        vppi(0);
        CHECK_EQ(sim_injections_of(0, FX_VTIMER), round);
        CHECK(fx_guest_handles(0, FX_VTIMER));
        sim.vcpu[0].cntv_ctl = 0;
    }
}

/* Issue 15 (b): four pending SPIs at the lowest priority take no list register; the timer gets
 * in. */
TEST(lowest_priority_spis_take_no_list_register)
{
    CHECK(fx_boot(1));
    gic_on();
    for (unsigned irq = 40; irq < 44; irq++)
        fx_gicd_access(0, 0x400 + irq, 1, 1, 0xf8);
    fx_gicd_write(0, 0x104, 0xfu << 8);
    fx_gicd_write(0, 0x204, 0xfu << 8);
    CHECK_EQ(sim.num_inj, 0);
    CHECK_EQ(fx_gicd_read(0, 0x204) & (0xfu << 8), 0xfu << 8); /* pending in the distributor */
    fx_gicd_write(0, ISENABLER0, 1u << FX_VTIMER);
    vtimer_firing();
    vppi(0);
    CHECK_EQ(sim_injections_of(0, FX_VTIMER), 1);
    /* Raised to a priority that can be signalled, they are delivered. */
    CHECK(fx_guest_handles(0, FX_VTIMER));
    for (unsigned irq = 40; irq < 44; irq++)
        fx_gicd_access(0, 0x400 + irq, 1, 1, 0x90);
    CHECK_EQ(sim_injections_of(0, 40) + sim_injections_of(0, 41) + sim_injections_of(0, 42) +
                 sim_injections_of(0, 43),
             3);
}

/* Issue 15 (b) with interrupts the vCPU masks (the VMM cannot see its priority mask): entries it
 * never takes hold three list registers at most; the last stays free for a higher priority,
 * such as the timer's. */
TEST(masked_entries_leave_a_register_for_higher_priority)
{
    CHECK(fx_boot(1));
    gic_on();
    for (unsigned irq = 40; irq < 44; irq++)
        fx_gicd_access(0, 0x400 + irq, 1, 1, 0xc0);
    fx_gicd_write(0, 0x104, 0xfu << 8);
    fx_gicd_write(0, 0x204, 0xfu << 8);
    CHECK_EQ(sim.num_inj, 3);
    fx_gicd_access(0, 0x400 + FX_VTIMER, 1, 1, 0xc0);
    fx_gicd_write(0, ISENABLER0, 1u << FX_VTIMER);
    vtimer_firing();
    vppi(0);
    CHECK_EQ(sim_injections_of(0, FX_VTIMER), 0); /* same priority: it could not preempt them */
    fx_gicd_access(0, 0x400 + FX_VTIMER, 1, 1, 0x80);
    CHECK_EQ(sim_injections_of(0, FX_VTIMER), 1);
}

/* Issue 15 (c): with entries stuck in the list registers, a WFI on a timer sleeps until the
 * timer instead of returning at once. */
TEST(stuck_entries_do_not_make_wfi_spin)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    gic_on();
    for (unsigned irq = 40; irq < 43; irq++)
        fx_gicd_access(0, 0x400 + irq, 1, 1, 0xc0);
    fx_gicd_write(0, 0x104, 0x7u << 8);
    fx_gicd_write(0, 0x204, 0x7u << 8);
    CHECK_EQ(sim.num_inj, 3);
    sim.now = 1000;
    sim.vcpu[0].cntv_ctl = 1;
    sim.vcpu[0].cntv_cval = 9000;
    sim.vcpu[0].regs.pc = 0x40001000;
    fx_wfx(0, 0, &r);
    CHECK(!r.resume);
    CHECK(fx.vm.sleeping[0]);
    CHECK_EQ(sim.wakeup_deadline, 9000);
}

/* A timer whose event the vGIC already holds (here at the lowest priority) ends the WFI only
 * after a poll interval (1 ms), not at once. */
TEST(wfi_polls_timer_already_raised)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    gic_on();
    fx_gicd_access(0, 0x400 + FX_VTIMER, 1, 1, 0xf8);
    fx_gicd_write(0, ISENABLER0, 1u << FX_VTIMER);
    vtimer_firing();
    vppi(0);
    sim.vcpu[0].regs.pc = 0x40001000;
    fx_wfx(0, 0, &r);
    CHECK(!r.resume);
    CHECK(fx.vm.sleeping[0]);
    CHECK_EQ(sim.wakeup_deadline, sim.now + SIM_COUNTER_FREQ / 1000);
}

/* The same rules on GICv3, where the guest reaches its timers' lines through its
 * redistributor's SGI frame. */
#define GICR_SGI 0x10000u

static uint32_t gicr_read(unsigned off)
{
    return (uint32_t)fx_gicr_access(0, off, 4, 0, 0);
}

static void gicr_write(unsigned off, uint32_t v)
{
    fx_gicr_access(0, off, 4, 1, v);
}

TEST(vtimer_level_drops_gicv3)
{
    CHECK(fx_boot_v3(1));
    fx_gicd_write(0, 0x000, 0x12);            /* ARE, group 1 */
    gicr_write(GICR_SGI + 0x080, 0xffffffff); /* group 1 */
    vtimer_firing();
    vppi(0);
    CHECK_EQ(sim_injections_of(0, FX_VTIMER), 0);
    unsigned acks = sim.vcpu[0].vppi_acks;
    CHECK(gicr_read(GICR_SGI + ISPENDR0) & (1u << FX_VTIMER));
    sim.vcpu[0].cntv_ctl = 0;
    CHECK_EQ(gicr_read(GICR_SGI + ISPENDR0) & (1u << FX_VTIMER), 0);
    CHECK_EQ(sim.vcpu[0].vppi_acks, acks + 1);
    gicr_write(GICR_SGI + ISENABLER0, 1u << FX_VTIMER);
    CHECK_EQ(sim_injections_of(0, FX_VTIMER), 0);
}

TEST(lowest_priority_and_reserve_gicv3)
{
    CHECK(fx_boot_v3(1));
    fx_gicd_write(0, 0x000, 0x12);
    gicr_write(GICR_SGI + 0x080, 0xffffffff);
    fx_gicr_access(0, GICR_SGI + 0x400 + FX_VTIMER, 1, 1, 0xf8);
    gicr_write(GICR_SGI + ISENABLER0, 1u << FX_VTIMER);
    vtimer_firing();
    vppi(0);
    CHECK_EQ(sim_injections_of(0, FX_VTIMER), 0); /* never signalled: not in a list register */
    /* Four SGIs to itself at 0xc0 (ICC_SGI1R_EL1): three go in, the last register waits. */
    for (unsigned sgi = 0; sgi < 4; sgi++)
        fx_gicr_access(0, GICR_SGI + 0x400 + sgi, 1, 1, 0xc0);
    gicr_write(GICR_SGI + ISENABLER0, 0xf);
    for (unsigned sgi = 0; sgi < 4; sgi++)
        fx_msr_sgi1r(0, (uint64_t)sgi << 24 | 1);
    CHECK_EQ(sim.num_inj, 3);
    /* The timer raised to 0x80 takes the last one. */
    fx_gicr_access(0, GICR_SGI + 0x400 + FX_VTIMER, 1, 1, 0x80);
    CHECK_EQ(sim_injections_of(0, FX_VTIMER), 1);
}
