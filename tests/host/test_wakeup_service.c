/* WFI wake-ups through the timer PD (proto/timer.h), as a VMM in a system of several VMs does. */
#include <proto/timer.h>
#include <vmm/vm.h>

#include "fixture.h"
#include "sim_hyp.h"
#include "test.h"

static struct timer_slot slot;

static int boot_with_service(unsigned vcpus)
{
    fx_config(vcpus);
    slot.deadline = 0x5555; /* whatever the page held */
    fx.cfg.wakeup_slot = (uintptr_t)&slot;
    return vm_init(&fx.vm, &fx.cfg, fx.ram) && vm_boot(&fx.vm);
}

TEST(wakeup_service_sleep_asks_the_timer_pd)
{
    struct exit_reply r;
    CHECK(boot_with_service(1));
    CHECK_EQ(slot.deadline, 0); /* boot cleared it */
    unsigned notes = sim.notifies[FX_WAKEUP_CH];
    sim.now = 1000;
    sim.vcpu[0].cntv_ctl = 1;
    sim.vcpu[0].cntv_cval = 7000;
    sim.vcpu[0].regs.pc = 0x40001000;
    fx_wfx(0, 0, &r);
    CHECK(!r.resume);
    CHECK(fx.vm.sleeping[0]);
    CHECK_EQ(slot.deadline, 7000);
    CHECK_EQ(sim.notifies[FX_WAKEUP_CH], notes + 1);
    CHECK_EQ(sim.wakeup_arms, 0); /* the VMM never touches the physical timer itself */
    /* The timer PD's notification: the deadline passed, the vCPU runs on. */
    sim.now = 7001;
    vm_notified(&fx.vm, FX_WAKEUP_CH);
    CHECK(!fx.vm.sleeping[0]);
    CHECK_EQ(sim.vcpu[0].start_pc, 0x40001004);
}

TEST(wakeup_service_early_notification_keeps_sleeping)
{
    struct exit_reply r;
    CHECK(boot_with_service(1));
    sim.now = 1000;
    sim.vcpu[0].cntv_ctl = 1;
    sim.vcpu[0].cntv_cval = 7000;
    fx_wfx(0, 0, &r);
    unsigned notes = sim.notifies[FX_WAKEUP_CH];
    sim.now = 2000; /* a stray notification before the deadline */
    vm_notified(&fx.vm, FX_WAKEUP_CH);
    CHECK(fx.vm.sleeping[0]);
    CHECK_EQ(slot.deadline, 7000); /* asked again for the same deadline */
    CHECK_EQ(sim.notifies[FX_WAKEUP_CH], notes + 1);
}

TEST(wakeup_service_guest_physical_timer_is_not_raised)
{
    CHECK(boot_with_service(1));
    fx_gicd_write(0, 0x000, 1);
    fx_gicd_write(0, 0x100, 1u << FX_PTIMER);
    CHECK(sim_console_has("INTID 30 is never raised"));
    CHECK_EQ(fx.vm.ptimer.owner, -1);
    fx_gicd_write(0, 0x180, 1u << FX_PTIMER);
    fx_gicd_write(0, 0x100, 1u << FX_PTIMER);
    CHECK_EQ(sim_console_count("INTID 30 is never raised"), 1);
    CHECK_EQ(sim_injections_of(0, FX_PTIMER), 0);
}

TEST(wakeup_service_reset_disarms)
{
    struct exit_reply r;
    CHECK(boot_with_service(2));
    sim.now = 1000;
    sim.vcpu[1].cntv_ctl = 1;
    sim.vcpu[1].cntv_cval = 9000;
    fx.vm.power[1] = VCPU_ON;
    fx_wfx(1, 0, &r);
    CHECK_EQ(slot.deadline, 9000);
    fx_smc(0, 0x84000009u, 0, 0, 0, &r); /* SYSTEM_RESET */
    CHECK_EQ(slot.deadline, 0);
    CHECK(!fx.vm.sleeping[1]);
}
