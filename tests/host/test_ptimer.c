/* The EL1 physical timer, shared by the guest (which programs it directly) and the VMM's WFI
 * wake-ups. Here the test plays the guest by writing sim.ptimer_* as the hardware would see. */
#include "fixture.h"
#include "sim_hyp.h"
#include "test.h"

#define GICD_CTLR 0x000
#define GICD_ISENABLER0 0x100

/* The guest on `vcpu` enables group 0 and the physical timer's interrupt. */
static void enable_ptimer_irq(unsigned vcpu)
{
    fx_gicd_write(vcpu, GICD_CTLR, 1);
    fx_gicd_write(vcpu, GICD_ISENABLER0, 1u << FX_PTIMER);
}

static void guest_programs_ptimer(uint64_t ctl, uint64_t cval)
{
    sim.ptimer_ctl = ctl;
    sim.ptimer_cval = cval;
}

/* The hardware interrupt reaches the VMM whenever the line is up (and seL4 has it unmasked). */
static void timer_irq(void)
{
    vm_notified(&fx.vm, FX_WAKEUP_CH);
}

TEST(ptimer_interrupt_passed_through_until_eoi)
{
    CHECK(fx_boot(1));
    enable_ptimer_irq(0);
    guest_programs_ptimer(1, 5000);
    sim.now = 5000;
    timer_irq();
    CHECK_EQ(sim_injections_of(0, FX_PTIMER), 1);
    CHECK_EQ(sim.irq_acks[FX_WAKEUP_CH], 0); /* masked until the guest is done with it */
    guest_programs_ptimer(1, 9000);          /* the handler sets the next deadline */
    CHECK(fx_guest_handles(0, FX_PTIMER));
    CHECK_EQ(sim.irq_acks[FX_WAKEUP_CH], 1);
    CHECK(!sim_ptimer_firing());
}

TEST(ptimer_line_still_up_after_eoi_fires_again)
{
    CHECK(fx_boot(1));
    enable_ptimer_irq(0);
    guest_programs_ptimer(1, 100);
    sim.now = 200;
    timer_irq();
    CHECK(fx_guest_handles(0, FX_PTIMER)); /* EOI without touching the timer */
    CHECK(sim_ptimer_firing());
    timer_irq();
    CHECK_EQ(sim_injections_of(0, FX_PTIMER), 2);
}

TEST(ptimer_wfi_borrows_the_timer_and_gives_the_guest_values_back)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    enable_ptimer_irq(0);
    guest_programs_ptimer(1, 9000);
    sim.vcpu[0].cntv_ctl = 1;
    sim.vcpu[0].cntv_cval = 5000;
    sim.vcpu[0].regs.pc = 0x40001000;
    sim.now = 1000;
    fx_wfx(0, 0, &r);
    CHECK(!r.resume);
    CHECK(fx.vm.sleeping[0]);
    CHECK_EQ(sim.wakeup_deadline, 5000); /* the VMM's deadline, the earlier one */
    sim.now = 5000;
    timer_irq();
    CHECK(!fx.vm.sleeping[0]);
    CHECK_EQ(sim.vcpu[0].start_pc, 0x40001004);
    CHECK_EQ(sim.ptimer_ctl, 1);
    CHECK_EQ(sim.ptimer_cval, 9000);
    CHECK_EQ(sim_injections_of(0, FX_PTIMER), 0);
}

TEST(ptimer_guest_deadline_ends_wfi_then_interrupts)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    enable_ptimer_irq(0);
    guest_programs_ptimer(1, 3000);
    sim.vcpu[0].cntv_ctl = 1;
    sim.vcpu[0].cntv_cval = 8000;
    sim.vcpu[0].regs.pc = 0x40001000;
    fx_wfx(0, 0, &r);
    CHECK(fx.vm.sleeping[0]);
    /* The wake-up is the guest's own deadline: its timer stays as it set it, not borrowed. */
    CHECK(!fx.vm.ptimer.borrowed);
    CHECK_EQ(sim.ptimer_ctl, 1);
    CHECK_EQ(sim.ptimer_cval, 3000);
    sim.now = 3000;
    timer_irq(); /* the guest's interrupt, which wakes the vCPU */
    CHECK(!fx.vm.sleeping[0]);
    CHECK_EQ(sim.vcpu[0].start_pc, 0x40001004);
    CHECK_EQ(sim_injections_of(0, FX_PTIMER), 1);
    CHECK_EQ(sim.irq_acks[FX_WAKEUP_CH], 0); /* masked until the guest's EOI */
    CHECK(fx_guest_handles(0, FX_PTIMER));
    CHECK_EQ(sim.irq_acks[FX_WAKEUP_CH], 1);
}

TEST(ptimer_borrowed_for_the_owners_own_deadline_reports_its_interrupt_once)
{
    struct exit_reply r;
    CHECK(fx_boot(2));
    enable_ptimer_irq(0);
    fx_gicd_write(1, GICD_ISENABLER0, 1u << FX_VTIMER);
    guest_programs_ptimer(1, 3000);
    sim.vcpu[1].cntv_ctl = 1;
    sim.vcpu[1].cntv_cval = 6000;
    sim.vcpu[0].regs.pc = 0x40001000;
    fx_wfx(0, 0, &r);
    CHECK(!fx.vm.ptimer.borrowed); /* so far the owner's own deadline alone */
    fx_wfx(1, 0, &r);
    CHECK(fx.vm.sleeping[0] && fx.vm.sleeping[1]);
    /* Two sleepers: the VMM borrows the timer for the earlier deadline, the owner's own. */
    CHECK(fx.vm.ptimer.borrowed);
    CHECK_EQ(sim.wakeup_deadline, 3000);
    sim.now = 3000;
    timer_irq(); /* wakes the owner, whose timer (given back) fires: its interrupt, at once */
    CHECK(!fx.vm.sleeping[0]);
    CHECK_EQ(sim.vcpu[0].start_pc, 0x40001004);
    CHECK_EQ(sim.ptimer_cval, 3000);
    CHECK_EQ(sim_injections_of(0, FX_PTIMER), 1);
    CHECK_EQ(sim.irq_acks[FX_WAKEUP_CH], 0); /* masked until the guest's EOI */
    CHECK(fx_guest_handles(0, FX_PTIMER));
    CHECK_EQ(sim.irq_acks[FX_WAKEUP_CH], 1);
    CHECK_EQ(sim_injections_of(0, FX_PTIMER), 1);
}

TEST(ptimer_masked_or_disabled_interrupt_is_no_deadline)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    guest_programs_ptimer(1, 3000); /* INTID 30 not enabled in the vGIC */
    fx_wfx(0, 0, &r);
    CHECK(fx.vm.sleeping[0]);
    CHECK(!fx.vm.ptimer.borrowed); /* no deadline: the guest's values stay in the hardware */
    CHECK_EQ(sim.ptimer_cval, 3000);
    CHECK_EQ(sim.ptimer_ctl, 1);
}

TEST(ptimer_stale_interrupt_is_acknowledged)
{
    CHECK(fx_boot(1));
    enable_ptimer_irq(0);
    guest_programs_ptimer(1, 9000);
    sim.now = 100;
    timer_irq();
    CHECK_EQ(sim.irq_acks[FX_WAKEUP_CH], 1);
    CHECK_EQ(sim_injections_of(0, FX_PTIMER), 0);
}

TEST(ptimer_smp_unclaimed_vmm_uses_it_freely)
{
    struct exit_reply r;
    CHECK(fx_boot(2));
    CHECK_EQ(fx.vm.ptimer.owner, -1);
    sim.vcpu[1].cntv_ctl = 1;
    sim.vcpu[1].cntv_cval = 4000;
    fx_wfx(1, 0, &r); /* vCPU 0 runs on */
    CHECK(fx.vm.sleeping[1]);
    CHECK_EQ(sim.wakeup_deadline, 4000);
}

TEST(ptimer_smp_claim_gives_the_timer_back_and_wakes_sleepers)
{
    struct exit_reply r;
    CHECK(fx_boot(2));
    guest_programs_ptimer(0, 1234);
    sim.vcpu[1].cntv_ctl = 1;
    sim.vcpu[1].cntv_cval = 4000;
    fx_wfx(1, 0, &r);
    CHECK(fx.vm.sleeping[1]);
    enable_ptimer_irq(0); /* vCPU 0, running, claims the timer */
    CHECK_EQ(fx.vm.ptimer.owner, 0);
    CHECK(sim_console_has("vCPU 0 owns the EL1 physical timer"));
    CHECK_EQ(sim.ptimer_ctl, 0);
    CHECK_EQ(sim.ptimer_cval, 1234);
    CHECK(!fx.vm.sleeping[1]); /* nothing would wake it on time now */
    /* While vCPU 0 runs, vCPU 1's WFI on a deadline completes at once ... */
    fx_wfx(1, 0, &r);
    CHECK(r.resume);
    CHECK(sim_console_has("returns at once while vCPU 0 runs"));
    /* ... but a WFI waiting only for interrupts still sleeps. */
    sim.vcpu[1].cntv_ctl = 0;
    fx_wfx(1, 0, &r);
    CHECK(!r.resume);
    CHECK(fx.vm.sleeping[1]);
}

TEST(ptimer_smp_owner_asleep_lends_the_timer)
{
    struct exit_reply r;
    CHECK(fx_boot(2));
    enable_ptimer_irq(0);
    fx_gicd_write(0, GICD_ISENABLER0, 0xffff);
    guest_programs_ptimer(1, 20000);
    sim.vcpu[0].cntv_ctl = sim.vcpu[1].cntv_ctl = 1;
    sim.vcpu[0].cntv_cval = 7000;
    sim.vcpu[1].cntv_cval = 4000;
    fx_wfx(0, 0, &r);
    fx_wfx(1, 0, &r);
    CHECK(fx.vm.sleeping[0] && fx.vm.sleeping[1]);
    CHECK_EQ(sim.wakeup_deadline, 4000);
    sim.now = 4000;
    timer_irq();
    CHECK(!fx.vm.sleeping[1] && fx.vm.sleeping[0]);
    CHECK_EQ(sim.wakeup_deadline, 7000);      /* still the VMM's: the owner sleeps */
    fx_gicd_write(1, 0xf00, 0x01u << 16 | 3); /* SGI 3 to vCPU 0 wakes the owner */
    CHECK(!fx.vm.sleeping[0]);
    CHECK_EQ(sim.ptimer_ctl, 1);
    CHECK_EQ(sim.ptimer_cval, 20000);
}

TEST(ptimer_second_claimer_is_warned)
{
    CHECK(fx_boot(2));
    enable_ptimer_irq(0);
    enable_ptimer_irq(1);
    CHECK_EQ(fx.vm.ptimer.owner, 0);
    CHECK(sim_console_has("vCPU 1 enabled the EL1 physical timer interrupt"));
}

TEST(ptimer_reset_turns_it_off)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    enable_ptimer_irq(0);
    guest_programs_ptimer(1, 100);
    sim.now = 200;
    timer_irq();
    fx_smc(0, 0x84000009u, 0, 0, 0, &r); /* SYSTEM_RESET */
    CHECK_EQ(sim.ptimer_ctl, 0);
    CHECK(sim.irq_acks[FX_WAKEUP_CH] >= 1); /* the held line is unmasked again */
}
