/* Directed yields (src/core/yield.c): which vCPU is held, for how long, and what restarts it. */
#include "fixture.h"
#include "sim_hyp.h"
#include "test.h"

/* 50 us of QEMU virt's 62.5 MHz counter: the longest a yield holds a vCPU. */
#define BOUND 3125u
#define PSCI_VERSION 0x84000000u
#define GICD_SGIR 0xf00u

static uint32_t held_for(unsigned v)
{
    return fx.vm.sleeping[v] ? fx.vm.held_for[v] : 0;
}

/* A VM of `vcpus` vCPUs, all on (started through CPU_ON as a guest would), the distributor and
 * every SGI enabled for each. */
static void boot_all_on(unsigned vcpus)
{
    struct exit_reply r;
    CHECK(fx_boot(vcpus));
    for (unsigned v = 1; v < vcpus; v++)
        CHECK_EQ(fx_smc(0, 0xc4000003u, v, 0x40001000u + v * 0x100, 0, &r), 0);
    fx_gicd_write(0, 0x000, 1);
    for (unsigned v = 0; v < vcpus; v++) {
        fx_gicd_write(v, 0x100, 0xffff);
        CHECK(vm_vcpu_runnable(&fx.vm, v));
    }
    sim.now = 100000;
}

/* A guest's PSCI_VERSION call over HVC from `vcpu`: an exit that changes nothing. */
static void hvc_exit(unsigned vcpu, struct exit_reply *r)
{
    struct vm_exit e = { .kind = EXIT_HVC, .vcpu = vcpu, .pc = 0x40005000u };
    e.x[0] = PSCI_VERSION;
    fx_exit(&e, r);
}

TEST(yield_wfe_in_a_one_vcpu_vm_returns_at_once)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    sim.vcpu[0].regs.pc = 0x40003000;
    fx_wfx(0, 1, &r);
    CHECK(r.resume);
    CHECK(!fx.vm.sleeping[0]);
    CHECK_EQ(sim.vcpu[0].regs.pc, 0x40003004);
    CHECK_EQ(fx.vm.yields.wfe_at_once, 1);
    CHECK_EQ(fx.vm.yields.wfe_held, 0);
}

TEST(yield_wfe_is_held_while_another_vcpu_can_run)
{
    struct exit_reply r;
    boot_all_on(3);
    sim.vcpu[1].regs.pc = 0x40003000;
    unsigned stops = sim.vcpu[1].stops;
    fx_wfx(1, 1, &r);
    CHECK(!r.resume);
    CHECK(fx.vm.sleeping[1]);
    CHECK_EQ(sim.vcpu[1].stops, stops + 1);
    CHECK(!sim.vcpu[1].running);
    /* Released by the exit of either other vCPU, or by the bound at the latest. */
    CHECK_EQ(held_for(1), 0x5);
    CHECK_EQ(fx.vm.wake_deadline[1], 100000 + BOUND);
    CHECK_EQ(sim.wakeup_deadline, 100000 + BOUND);
    CHECK_EQ(fx.vm.yields.wfe_held, 1);
    CHECK(!vm_vcpu_runnable(&fx.vm, 1));
}

TEST(yield_wfe_held_until_another_vcpu_exits)
{
    struct exit_reply r;
    boot_all_on(2);
    sim.vcpu[0].regs.pc = 0x40003000;
    fx_wfx(0, 1, &r);
    CHECK(fx.vm.sleeping[0]);
    unsigned starts = sim.vcpu[0].starts;
    sim.now += 10;
    hvc_exit(1, &r);
    /* The other vCPU ran (it exited): the WFE completes, and that exit is answered as usual. */
    CHECK(r.resume && r.set_hvc_regs);
    CHECK_EQ(r.x0, 0x10001);
    CHECK(!fx.vm.sleeping[0]);
    CHECK(sim.vcpu[0].running);
    CHECK_EQ(sim.vcpu[0].starts, starts + 1);
    CHECK_EQ(sim.vcpu[0].start_pc, 0x40003004);
    CHECK_EQ(fx.vm.yields.ended_by_exit, 1);
    CHECK_EQ(fx.vm.held_watch, 0);
    /* Nothing else waits: the wake-up timer is off again. */
    CHECK_EQ(sim.wakeup_deadline, 0);
}

TEST(yield_wfe_held_at_most_the_bound)
{
    struct exit_reply r;
    boot_all_on(2);
    sim.vcpu[0].regs.pc = 0x40003000;
    fx_wfx(0, 1, &r);
    CHECK(fx.vm.sleeping[0]);
    sim.now += BOUND - 1;
    vm_notified(&fx.vm, FX_WAKEUP_CH); /* early: still held */
    CHECK(fx.vm.sleeping[0]);
    sim.now += 1;
    vm_notified(&fx.vm, FX_WAKEUP_CH);
    CHECK(!fx.vm.sleeping[0]);
    CHECK_EQ(sim.vcpu[0].start_pc, 0x40003004);
    CHECK_EQ(fx.vm.yields.ended_by_exit, 0);
    /* A later exit of the other vCPU restarts nothing a second time. */
    unsigned starts = sim.vcpu[0].starts;
    hvc_exit(1, &r);
    CHECK_EQ(sim.vcpu[0].starts, starts);
}

TEST(yield_wfe_held_until_an_interrupt_for_it)
{
    struct exit_reply r;
    boot_all_on(2);
    fx_gicd_write(0, 0x104, 1u << 1); /* the UART's SPI, routed to vCPU 0 */
    sim.vcpu[0].regs.pc = 0x40003000;
    fx_wfx(0, 1, &r);
    CHECK(fx.vm.sleeping[0]);
    vm_notified(&fx.vm, FX_UART_CH);
    CHECK_EQ(sim_injections_of(0, FX_UART_IRQ), 1);
    CHECK(!fx.vm.sleeping[0]);
    CHECK_EQ(sim.vcpu[0].start_pc, 0x40003004);
    /* An SGI from the other vCPU, which has to exit to send it, ends a hold too. */
    fx_wfx(0, 1, &r);
    CHECK(fx.vm.sleeping[0]);
    fx_gicd_write(1, GICD_SGIR, 1u << 16 | 5);
    CHECK(!fx.vm.sleeping[0]);
}

/* Whatever its list registers held at the trap did not end the WFE (masked, or not signalled):
 * it does not count as an event, or a spinlock taken with interrupts off would never yield. */
TEST(yield_wfe_entry_held_at_trap_is_no_event)
{
    struct exit_reply r;
    boot_all_on(2);
    fx_gicd_write(0, GICD_SGIR, 2u << 24 | 3); /* a self SGI, now in a list register */
    CHECK_EQ(sim_injections_of(0, 3), 1);
    CHECK(vgic_vcpu_has_pending(&fx.vm.gic, 0));
    fx_wfx(0, 1, &r);
    CHECK(!r.resume);
    CHECK(fx.vm.sleeping[0]);
}

TEST(yield_wfe_returns_at_once_when_nobody_else_can_run)
{
    struct exit_reply r;
    boot_all_on(3);
    fx_wfx(1, 0, &r); /* asleep in WFI */
    CHECK(fx.vm.sleeping[1]);
    fx_smc(2, 0x84000002u, 0, 0, 0, &r); /* CPU_OFF */
    CHECK(!r.resume);
    CHECK_EQ(fx.vm.power[2], VCPU_OFF);
    sim.vcpu[0].regs.pc = 0x40003000;
    fx_wfx(0, 1, &r);
    CHECK(r.resume);
    CHECK_EQ(sim.vcpu[0].regs.pc, 0x40003004);
    CHECK_EQ(fx.vm.yields.wfe_at_once, 1);
    /* Held vCPUs cannot run either. */
    boot_all_on(2);
    fx_wfx(0, 1, &r);
    CHECK(!r.resume);
    CHECK(!vm_vcpu_runnable(&fx.vm, 0));
    /* Two vCPUs waiting for each other take turns: the second WFE is an exit of its vCPU, which
     * lets the first go, which can then run while the second is held. */
    fx_wfx(1, 1, &r);
    CHECK(!fx.vm.sleeping[0]);
    CHECK(!r.resume);
    CHECK(fx.vm.sleeping[1]);
    CHECK_EQ(fx.vm.yields.wfe_held, 2);
}

TEST(yield_wfe_without_wakeup_timer_returns_at_once)
{
    struct exit_reply r;
    fx_config(2);
    fx.cfg.wakeup_channel = -1;
    CHECK(vm_init(&fx.vm, &fx.cfg, fx.ram) && vm_boot(&fx.vm));
    CHECK_EQ(fx_smc(0, 0xc4000003u, 1, 0x40001000u, 0, &r), 0);
    fx_wfx(0, 1, &r);
    CHECK(r.resume);
    CHECK(!fx.vm.sleeping[0]);
}

/* In a VM whose vCPU owns the EL1 physical timer, the VMM cannot bound a hold while that owner
 * runs: the WFE returns at once rather than risk an unbounded wait. */
TEST(yield_wfe_returns_at_once_while_the_timer_owner_runs)
{
    struct exit_reply r;
    boot_all_on(2);
    fx_gicd_write(1, 0x100, 1u << FX_PTIMER); /* vCPU 1 claims the physical timer */
    CHECK_EQ(fx.vm.ptimer.owner, 1);
    fx_wfx(0, 1, &r);
    CHECK(r.resume);
    CHECK(!fx.vm.sleeping[0]);
    /* The owner itself can be held: the timer is the VMM's while it does not run. */
    fx_wfx(1, 1, &r);
    CHECK(!r.resume);
    CHECK(fx.vm.sleeping[1]);
    CHECK(fx.vm.ptimer.borrowed);
    hvc_exit(0, &r);
    CHECK(!fx.vm.sleeping[1]);
    CHECK(!fx.vm.ptimer.borrowed);
}

TEST(yield_sgi_sender_held_until_the_target_exits)
{
    struct exit_reply r;
    boot_all_on(3);
    sim.vcpu[1].regs.pc = 0x40004000;
    fx_wfx(1, 0, &r); /* the target sleeps in WFI */
    CHECK(fx.vm.sleeping[1]);
    sim.vcpu[0].regs.pc = 0x40002000;
    sim.vcpu[0].regs.x[1] = 1u << 17 | 1; /* SGI 1 to vCPU 1 */
    fx_mmio(0, FX_GICD + GICD_SGIR, 4, 1, 1, 0, 0, &r);
    /* The target woke and runs; the sender waits, its PC already past the store. */
    CHECK(!fx.vm.sleeping[1]);
    CHECK_EQ(sim.vcpu[1].start_pc, 0x40004004);
    CHECK(!r.resume);
    CHECK(fx.vm.sleeping[0]);
    CHECK(!sim.vcpu[0].running);
    CHECK_EQ(held_for(0), 1u << 1);
    CHECK_EQ(sim.vcpu[0].regs.pc, 0x40002004);
    CHECK_EQ(fx.vm.wake_pc[0], VM_PC_IN_PLACE);
    CHECK_EQ(fx.vm.wake_deadline[0], 100000 + BOUND);
    CHECK_EQ(fx.vm.yields.sgi_held, 1);
    /* vCPU 2's exits do not release it: it waits for the target. */
    hvc_exit(2, &r);
    CHECK(fx.vm.sleeping[0]);
    /* The target takes the SGI: its EOI is its exit. The sender runs on, and the target, having
     * had its turn, waits where it is until the sender has run (exited) again. */
    unsigned resumes = sim.vcpu[1].resumes, starts = sim.vcpu[1].starts;
    unsigned starts0 = sim.vcpu[0].starts;
    CHECK(fx_guest_handles(1, 1));
    CHECK(!fx.vm.sleeping[0]);
    /* The sender resumes where its handled access left it: past the store. */
    CHECK(sim.vcpu[0].running);
    CHECK_EQ(sim.vcpu[0].resumes, 1);
    CHECK_EQ(sim.vcpu[0].starts, starts0);
    CHECK_EQ(sim.vcpu[0].regs.pc, 0x40002004);
    CHECK_EQ(fx.vm.yields.ended_by_exit, 1);
    CHECK(fx.vm.sleeping[1]);
    CHECK(!sim.vcpu[1].running);
    CHECK_EQ(held_for(1), 1u << 0);
    CHECK_EQ(fx.vm.wake_pc[1], VM_PC_IN_PLACE);
    CHECK_EQ(fx.vm.yields.turns_back, 1);
    hvc_exit(0, &r);
    CHECK(!fx.vm.sleeping[1]);
    /* Restarted as its reply would have, registers untouched, not at a PC of the VMM's. */
    CHECK_EQ(sim.vcpu[1].resumes, resumes + 1);
    CHECK_EQ(sim.vcpu[1].starts, starts);
    CHECK_EQ(fx.vm.yields.ended_by_exit, 2);
}

/* A target whose first exit after the SGI is an HVC gets its results: it is not held. */
TEST(yield_sgi_target_answering_hvc_is_not_held)
{
    struct exit_reply r;
    boot_all_on(2);
    sim.vcpu[0].regs.x[1] = 1u << 17 | 1;
    fx_mmio(0, FX_GICD + GICD_SGIR, 4, 1, 1, 0, 0, &r);
    CHECK(fx.vm.sleeping[0]);
    hvc_exit(1, &r);
    CHECK(!fx.vm.sleeping[0]);
    CHECK(r.resume && r.set_hvc_regs);
    CHECK(!fx.vm.sleeping[1]);
    CHECK_EQ(fx.vm.yields.turns_back, 0);
    CHECK_EQ(fx.vm.turn_owed, 0);
}

/* The answer comes back while the sender is held: the sender, now with an interrupt to take,
 * runs again at once, and the target is held in its turn. */
TEST(yield_sgi_ping_pong_alternates)
{
    struct exit_reply r;
    boot_all_on(2);
    sim.vcpu[1].regs.pc = 0x40004000;
    fx_wfx(1, 0, &r);
    sim.vcpu[0].regs.x[1] = 1u << 17 | 1;
    fx_mmio(0, FX_GICD + GICD_SGIR, 4, 1, 1, 0, 0, &r);
    CHECK(fx.vm.sleeping[0] && !fx.vm.sleeping[1]);
    sim.vcpu[1].regs.x[1] = 1u << 16 | 2; /* SGI 2 to vCPU 0 */
    fx_mmio(1, FX_GICD + GICD_SGIR, 4, 1, 1, 0, 0, &r);
    CHECK(!fx.vm.sleeping[0]);
    CHECK_EQ(sim_injections_of(0, 2), 1);
    CHECK(!r.resume);
    CHECK(fx.vm.sleeping[1]);
    CHECK_EQ(held_for(1), 1u << 0);
    CHECK_EQ(fx.vm.yields.sgi_held, 2);
    CHECK_EQ(fx.vm.yields.turns_back, 0); /* held as a sender, not a second time */
    CHECK_EQ(sim.vcpu[1].regs.pc, 0x40004004u + 4);
}

TEST(yield_sgi_sender_runs_on_when_no_target_can_take_it)
{
    struct exit_reply r;
    boot_all_on(3);
    /* SGI 9 disabled at vCPU 1: nothing goes into its list registers. */
    fx_gicd_write(1, 0x180, 1u << 9);
    sim.vcpu[0].regs.x[1] = 1u << 17 | 9;
    fx_mmio(0, FX_GICD + GICD_SGIR, 4, 1, 1, 0, 0, &r);
    CHECK(r.resume);
    CHECK(!fx.vm.sleeping[0]);
    /* To itself only. */
    sim.vcpu[0].regs.x[1] = 2u << 24 | 4;
    fx_mmio(0, FX_GICD + GICD_SGIR, 4, 1, 1, 0, 0, &r);
    CHECK(r.resume);
    /* To a vCPU that is off. */
    fx_smc(2, 0x84000002u, 0, 0, 0, &r);
    CHECK_EQ(fx.vm.power[2], VCPU_OFF);
    sim.vcpu[0].regs.x[1] = 1u << 18 | 4;
    fx_mmio(0, FX_GICD + GICD_SGIR, 4, 1, 1, 0, 0, &r);
    CHECK(r.resume);
    CHECK_EQ(fx.vm.yields.sgi_held, 0);
}

TEST(yield_sgi_in_a_one_vcpu_vm_runs_on)
{
    CHECK(fx_boot(1));
    fx_gicd_write(0, 0x000, 1);
    fx_gicd_write(0, 0x100, 0xffff);
    fx_gicd_write(0, GICD_SGIR, 2u << 24 | 4);
    CHECK(!fx.vm.sleeping[0]);
    CHECK_EQ(fx.vm.yields.sgi_held, 0);
}

/* A target that already runs (preempted, or woken earlier) gets the turn too. */
TEST(yield_sgi_to_a_running_target_holds_the_sender)
{
    struct exit_reply r;
    boot_all_on(2);
    sim.vcpu[0].regs.x[1] = 1u << 17 | 6;
    fx_mmio(0, FX_GICD + GICD_SGIR, 4, 1, 1, 0, 0, &r);
    CHECK(!r.resume);
    CHECK_EQ(held_for(0), 1u << 1);
    /* The target's timer exit (it ran) lets the sender go. */
    struct vm_exit e = { .kind = EXIT_VPPI, .vcpu = 1, .irq = FX_VTIMER };
    fx_exit(&e, &r);
    CHECK(!fx.vm.sleeping[0]);
}

TEST(yield_gicv3_sgi_sender_held)
{
    struct exit_reply r;
    CHECK(fx_boot_v3(2));
    CHECK_EQ(fx_smc(0, 0xc4000003u, 1, 0x40001000u, 0, &r), 0);
    fx_gicd_access(0, 0x000, 4, 1, 1u << 1 | 1u << 4);                      /* ARE, group 1 */
    fx_gicr_access(1, GICV3_REDIST_STRIDE + 0x10000 + 0x080, 4, 1, 0xffff); /* group 1 */
    fx_gicr_access(1, GICV3_REDIST_STRIDE + 0x10000 + 0x100, 4, 1, 0xffff); /* enable */
    sim.vcpu[0].regs.pc = 0x40006000;
    fx_msr_sgi1r(0, 3ull << 24 | 1u << 1); /* SGI 3 to Aff0 = 1 */
    CHECK_EQ(sim_injections_of(1, 3), 1);
    CHECK(fx.vm.sleeping[0]);
    CHECK_EQ(held_for(0), 1u << 1);
    CHECK_EQ(sim.vcpu[0].regs.pc, 0x40006004);
    CHECK(fx_guest_handles(1, 3));
    CHECK(!fx.vm.sleeping[0]);
    CHECK_EQ(sim.vcpu[0].resumes, 1);
    CHECK_EQ(sim.vcpu[0].regs.pc, 0x40006004);
}

TEST(yield_reset_and_power_off_forget_holds)
{
    struct exit_reply r;
    boot_all_on(3);
    fx_wfx(0, 1, &r);
    CHECK(fx.vm.sleeping[0]);
    fx_smc(1, 0x84000009u, 0, 0, 0, &r); /* SYSTEM_RESET: an exit of vCPU 1, then the reset */
    CHECK(!fx.vm.sleeping[0]);
    CHECK_EQ(fx_run_drain_stubs(), 3);
    CHECK_EQ(fx.vm.state, VM_RUNNING);
    CHECK_EQ(fx.vm.held_watch, 0);
    CHECK_EQ(fx.vm.yields.wfe_held, 0); /* a fresh boot counts afresh */
    boot_all_on(2);
    fx_wfx(1, 1, &r);
    CHECK(fx.vm.sleeping[1]);
    fx_smc(0, 0x84000008u, 0, 0, 0, &r); /* SYSTEM_OFF */
    CHECK(!fx.vm.sleeping[1]);
    CHECK_EQ(sim.wakeup_deadline, 0);
}

/* The exit statistics say what the yields did. */
TEST(yield_counts_in_the_exit_statistics)
{
    struct exit_reply r;
    boot_all_on(2);
    fx_wfx(0, 1, &r);
    hvc_exit(1, &r);
    vm_log_exit_stats(&fx.vm);
    CHECK(sim_console_has("yields: 1 WFEs held while another vCPU ran, 0 returned at once; 0 SGI "
                          "senders held while a target ran, 0 targets held until the sender ran "
                          "again; 1 holds ended by an exit"));
}
