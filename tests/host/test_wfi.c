/* WFI that sleeps: until an interrupt is pending for the vCPU or its virtual timer fires. */
#include "fixture.h"
#include "sim_hyp.h"
#include "test.h"

TEST(wfi_sleeps_until_virtual_timer)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    sim.vcpu[0].regs.pc = 0x40001000;
    sim.vcpu[0].cntv_ctl = 1;
    sim.vcpu[0].cntv_cval = 5000;
    sim.now = 1000;
    unsigned starts = sim.vcpu[0].starts;
    fx_wfx(0, 0, &r);
    CHECK(!r.resume);
    CHECK(fx.vm.sleeping[0]);
    CHECK(!sim.vcpu[0].running);
    CHECK_EQ(sim.wakeup_deadline, 5000);
    /* A spurious timer interrupt before the deadline wakes nothing. */
    sim.now = 4000;
    vm_notified(&fx.vm, FX_WAKEUP_CH);
    CHECK(fx.vm.sleeping[0]);
    CHECK_EQ(sim.irq_acks[FX_WAKEUP_CH], 1);
    sim.now = 5001;
    vm_notified(&fx.vm, FX_WAKEUP_CH);
    CHECK(!fx.vm.sleeping[0]);
    CHECK(sim.vcpu[0].running);
    CHECK_EQ(sim.vcpu[0].starts, starts + 1);
    CHECK_EQ(sim.vcpu[0].start_pc, 0x40001004);
    CHECK_EQ(sim.wakeup_deadline, 0);
}

TEST(wfi_with_cntvoff)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    sim.vcpu[0].cntv_ctl = 1;
    sim.vcpu[0].cntv_cval = 100;
    sim.vcpu[0].cntvoff = 7000;
    sim.now = 1000;
    fx_wfx(0, 0, &r);
    CHECK(!r.resume);
    CHECK_EQ(sim.wakeup_deadline, 7100);
}

TEST(wfi_timer_already_expired_resumes)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    sim.vcpu[0].regs.pc = 0x40001000;
    sim.vcpu[0].cntv_ctl = 1;
    sim.vcpu[0].cntv_cval = 500;
    sim.now = 1000;
    fx_wfx(0, 0, &r);
    CHECK(r.resume);
    CHECK_EQ(sim.vcpu[0].regs.pc, 0x40001004);
}

TEST(wfi_masked_timer_sleeps_until_interrupt)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    fx_gicd_write(0, 0x000, 1);
    fx_gicd_write(0, 0x104, 1u << 1);
    sim.vcpu[0].regs.pc = 0x40002000;
    sim.vcpu[0].cntv_ctl = 3; /* enabled but masked */
    fx_wfx(0, 0, &r);
    CHECK(!r.resume);
    CHECK_EQ(sim.wakeup_deadline, 0);
    vm_notified(&fx.vm, FX_UART_CH); /* the UART interrupt wakes it */
    CHECK(!fx.vm.sleeping[0]);
    CHECK_EQ(sim.vcpu[0].start_pc, 0x40002004);
    CHECK_EQ(sim_injections_of(0, FX_UART_IRQ), 1);
}

/* A WFI traps only when nothing could wake the vCPU, so what its list registers held at the trap
 * (here a self SGI the guest masked with its priority mask, which the VMM cannot see) does not
 * keep it awake: it sleeps (no busy WFI loop) until something new arrives. */
TEST(wfi_entry_held_at_trap_does_not_keep_awake)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    fx_gicd_write(0, 0x000, 1);
    fx_gicd_write(0, 0x100, 0xffff);
    fx_gicd_write(0, 0x104, 1u << 1);
    fx_gicd_write(0, 0xf00, 2u << 24 | 1); /* self SGI: now in a list register */
    CHECK_EQ(sim_injections_of(0, 1), 1);
    sim.vcpu[0].regs.pc = 0x40002000;
    fx_wfx(0, 0, &r);
    CHECK(!r.resume);
    CHECK(fx.vm.sleeping[0]);
    vm_notified(&fx.vm, FX_UART_CH); /* a new entry may be one it can take: it wakes */
    CHECK_EQ(sim_injections_of(0, FX_UART_IRQ), 1);
    CHECK(!fx.vm.sleeping[0]);
    CHECK_EQ(sim.vcpu[0].start_pc, 0x40002004);
}

/* An interrupt the VMM puts in a list register after the WFI trapped wakes the vCPU at once. */
TEST(wfi_injection_after_trap_wakes)
{
    struct exit_reply r;
    CHECK(fx_boot(2));
    fx_gicd_write(0, 0x000, 1);
    fx_gicd_write(1, 0x100, 0xffff);
    fx.vm.power[1] = VCPU_ON;
    sim.vcpu[1].regs.pc = 0x40004000;
    fx_wfx(1, 0, &r);
    CHECK(!r.resume);
    CHECK(fx.vm.sleeping[1]);
    fx_gicd_write(0, 0xf00, 2u << 16 | 3); /* SGI 3 from vCPU 0 to vCPU 1 */
    CHECK_EQ(sim_injections_of(1, 3), 1);
    CHECK(!fx.vm.sleeping[1]);
    CHECK_EQ(sim.vcpu[1].start_pc, 0x40004004);
}

TEST(wfe_never_sleeps)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    sim.vcpu[0].regs.pc = 0x40003000;
    fx_wfx(0, 1, &r);
    CHECK(r.resume);
    CHECK_EQ(sim.vcpu[0].regs.pc, 0x40003004);
}

TEST(wfi_without_wakeup_timer_resumes)
{
    struct exit_reply r;
    fx_config(1);
    fx.cfg.wakeup_channel = -1;
    CHECK(vm_init(&fx.vm, &fx.cfg, fx.ram) && vm_boot(&fx.vm));
    fx_wfx(0, 0, &r);
    CHECK(r.resume);
}

TEST(wfi_sgi_from_other_vcpu_wakes)
{
    struct exit_reply r;
    CHECK(fx_boot(2));
    fx_gicd_write(0, 0x000, 1);
    fx_gicd_write(1, 0x100, 0xffff);
    sim.vcpu[1].regs.pc = 0x40004000;
    fx_wfx(1, 0, &r);
    CHECK(!r.resume);
    CHECK(fx.vm.sleeping[1]);
    fx_gicd_write(0, 0xf00, 0x02u << 16 | 4); /* SGI 4 to vCPU 1 */
    CHECK(!fx.vm.sleeping[1]);
    CHECK_EQ(sim.vcpu[1].start_pc, 0x40004004);
}

TEST(wfi_earliest_deadline_armed_and_reset_disarms)
{
    struct exit_reply r;
    CHECK(fx_boot(2));
    sim.vcpu[0].cntv_ctl = sim.vcpu[1].cntv_ctl = 1;
    sim.vcpu[0].cntv_cval = 9000;
    sim.vcpu[1].cntv_cval = 3000;
    fx_wfx(0, 0, &r);
    fx_wfx(1, 0, &r);
    CHECK_EQ(sim.wakeup_deadline, 3000);
    sim.now = 3500;
    vm_notified(&fx.vm, FX_WAKEUP_CH);
    CHECK(!fx.vm.sleeping[1]);
    CHECK(fx.vm.sleeping[0]);
    CHECK_EQ(sim.wakeup_deadline, 9000);
    fx_smc(1, 0x84000009u, 0, 0, 0, &r); /* SYSTEM_RESET */
    CHECK(!fx.vm.sleeping[0]);
    CHECK_EQ(sim.wakeup_deadline, 0);
    CHECK_EQ(fx_run_drain_stubs(), 2);
    CHECK_EQ(sim.vcpu[0].start_pc, FX_RAM_BASE);
}
