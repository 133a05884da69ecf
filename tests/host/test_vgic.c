/* vGICv2 distributor registers Linux uses, delivery through list registers, EOI handling. */
#include <string.h>
#include <vmm/vgic.h>

#include "fixture.h"
#include "sim_hyp.h"
#include "test.h"

/* What Linux's gic_dist_init does, in short: disable, configure SPIs, set priorities and
 * targets, enable; then per CPU the banked SGI/PPI setup. */
static void linux_gic_init(unsigned vcpus)
{
    fx_gicd_write(0, 0x000, 0);
    uint32_t typer = fx_gicd_read(0, 0x004);
    unsigned irqs = ((typer & 0x1f) + 1) * 32;
    for (unsigned i = 32; i < irqs; i += 16)
        fx_gicd_write(0, 0xc00 + i / 4, 0); /* all level */
    for (unsigned i = 32; i < irqs; i += 4)
        fx_gicd_write(0, 0x800 + i, 0x01010101);
    for (unsigned i = 32; i < irqs; i += 4)
        fx_gicd_write(0, 0x400 + i, 0xa0a0a0a0);
    for (unsigned i = 32; i < irqs; i += 32)
        fx_gicd_write(0, 0x180 + i / 8, 0xffffffff);
    fx_gicd_write(0, 0x000, 1);
    for (unsigned v = 0; v < vcpus; v++) {
        fx_gicd_write(v, 0x180, 0xffff0000); /* disable PPIs */
        fx_gicd_write(v, 0x100, 0x0000ffff); /* enable SGIs */
        for (unsigned i = 0; i < 32; i += 4)
            fx_gicd_write(v, 0x400 + i, 0xa0a0a0a0);
    }
}

TEST(vgic_typer_iidr_ids)
{
    CHECK(fx_boot(2));
    uint32_t typer = fx_gicd_read(0, 0x004);
    CHECK_EQ(typer & 0x1f, 1);     /* 64 interrupts */
    CHECK_EQ((typer >> 5) & 7, 1); /* 2 CPUs */
    CHECK_EQ(fx_gicd_read(0, 0x008), 0x0200043b);
    CHECK_EQ((fx_gicd_read(0, 0xfe8) >> 4) & 0xf, 2); /* ArchRev */
    CHECK_EQ(fx_gicd_read(0, 0xff0), 0x0d);
    CHECK_EQ(fx_gicd_read(0, 0xffc), 0xb1);
}

TEST(vgic_enable_set_clear)
{
    CHECK(fx_boot(1));
    fx_gicd_write(0, 0x104, 0x00000006); /* enable 33, 34 */
    CHECK_EQ(fx_gicd_read(0, 0x104), 0x6);
    CHECK_EQ(fx_gicd_read(0, 0x184), 0x6);
    fx_gicd_write(0, 0x184, 0x00000002);
    CHECK_EQ(fx_gicd_read(0, 0x104), 0x4);
    /* Out-of-range words read as zero and ignore writes. */
    fx_gicd_write(0, 0x10c, 0xffffffff);
    CHECK_EQ(fx_gicd_read(0, 0x10c), 0);
}

TEST(vgic_priority_byte_access)
{
    CHECK(fx_boot(1));
    fx_gicd_access(0, 0x400 + 33, 1, 1, 0x47);
    CHECK_EQ(fx_gicd_access(0, 0x400 + 33, 1, 0, 0), 0x40); /* 5 implemented bits */
    CHECK_EQ(fx_gicd_read(0, 0x420) & 0xff00, 0x4000);
    fx_gicd_write(0, 0x424, 0x11223344);
    CHECK_EQ(fx_gicd_read(0, 0x424), 0x10203040);
    CHECK_EQ(fx_gicd_access(0, 0x426, 2, 0, 0), 0x1020);
}

TEST(vgic_targets)
{
    CHECK(fx_boot(2));
    /* SGI/PPI targets read as the reading CPU and ignore writes. */
    CHECK_EQ(fx_gicd_read(0, 0x800), 0x01010101);
    CHECK_EQ(fx_gicd_read(1, 0x81c), 0x02020202);
    fx_gicd_write(0, 0x800, 0xffffffff);
    CHECK_EQ(fx_gicd_read(0, 0x800), 0x01010101);
    /* Targets of absent CPUs are masked. */
    fx_gicd_access(0, 0x800 + 40, 1, 1, 0xff);
    CHECK_EQ(fx_gicd_access(0, 0x800 + 40, 1, 0, 0), 0x03);
}

TEST(vgic_icfgr)
{
    CHECK(fx_boot(1));
    CHECK_EQ(fx_gicd_read(0, 0xc00), 0xaaaaaaaa); /* SGIs edge, read-only */
    fx_gicd_write(0, 0xc00, 0);
    CHECK_EQ(fx_gicd_read(0, 0xc00), 0xaaaaaaaa);
    fx_gicd_write(0, 0xc08, 0x00000008); /* INTID 33 edge */
    CHECK_EQ(fx_gicd_read(0, 0xc08), 0x00000008);
}

TEST(vgic_invalid_accesses_are_harmless)
{
    CHECK(fx_boot(1));
    struct exit_reply r;
    /* Word registers with byte access, 8-byte accesses, reserved offsets, past the end. */
    CHECK_EQ(fx_gicd_access(0, 0x100, 1, 0, 0), 0);
    fx_gicd_access(0, 0x100, 1, 1, 0xff);
    CHECK_EQ(fx_gicd_read(0, 0x100), 0);
    CHECK_EQ(fx_gicd_access(0, 0x400, 8, 0, 0), 0);
    fx_gicd_write(0, 0x00c, 0xffffffff);
    CHECK_EQ(fx_gicd_read(0, 0x00c), 0);
    fx_mmio(0, FX_GICD + 0xffc, 4, 1, 1, 0, 0, &r);
    CHECK(r.resume);
    CHECK_EQ(fx.vm.state, VM_RUNNING);
}

TEST(vgic_passthrough_irq_delivered_and_acked_on_eoi)
{
    CHECK(fx_boot(1));
    linux_gic_init(1);
    fx_gicd_write(0, 0x104, 1u << 1); /* enable 33 */
    vm_notified(&fx.vm, FX_UART_CH);
    CHECK_EQ(sim_injections_of(0, FX_UART_IRQ), 1);
    CHECK_EQ(sim.inj[sim.num_inj - 1].priority, 0xa0);
    CHECK_EQ(sim.irq_acks[FX_UART_CH], 1); /* the one from boot only */
    CHECK(fx_guest_handles(0, FX_UART_IRQ));
    CHECK_EQ(sim.irq_acks[FX_UART_CH], 2);
    /* Not re-injected: the line went back to the device. */
    CHECK_EQ(sim_injections_of(0, FX_UART_IRQ), 1);
}

TEST(vgic_irq_while_disabled_waits_for_enable)
{
    CHECK(fx_boot(1));
    linux_gic_init(1);
    vm_notified(&fx.vm, FX_UART_CH);
    CHECK_EQ(sim_injections_of(0, FX_UART_IRQ), 0);
    CHECK_EQ(fx_gicd_read(0, 0x204) & 2, 2); /* pending is visible */
    fx_gicd_write(0, 0x104, 1u << 1);
    CHECK_EQ(sim_injections_of(0, FX_UART_IRQ), 1);
}

TEST(vgic_distributor_disabled_holds_interrupts)
{
    CHECK(fx_boot(1));
    linux_gic_init(1);
    fx_gicd_write(0, 0x104, 1u << 1);
    fx_gicd_write(0, 0x000, 0);
    vm_notified(&fx.vm, FX_UART_CH);
    CHECK_EQ(sim_injections_of(0, FX_UART_IRQ), 0);
    fx_gicd_write(0, 0x000, 1);
    CHECK_EQ(sim_injections_of(0, FX_UART_IRQ), 1);
}

/* The virtual timer fires before the guest enabled it: while its condition holds it must stay
 * pending (not injected) and masked in the kernel (not acked), so it cannot fire again and
 * again. */
TEST(vgic_vppi_before_enable_no_livelock)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    linux_gic_init(1);
    sim.now = 1000;
    sim.vcpu[0].cntv_ctl = 1; /* enabled, unmasked, compare value 0: firing */
    unsigned acks = sim.vcpu[0].vppi_acks;
    struct vm_exit e = { .kind = EXIT_VPPI, .vcpu = 0, .irq = FX_VTIMER };
    fx_exit(&e, &r);
    CHECK(r.resume);
    CHECK_EQ(sim_injections_of(0, FX_VTIMER), 0);
    CHECK_EQ(sim.vcpu[0].vppi_acks, acks);
    fx_gicd_write(0, 0x100, 1u << FX_VTIMER);
    CHECK_EQ(sim_injections_of(0, FX_VTIMER), 1);
    CHECK_EQ(sim.vcpu[0].vppi_acks, acks);
    CHECK(fx_guest_handles(0, FX_VTIMER));
    CHECK_EQ(sim.vcpu[0].vppi_acks, acks + 1);
    CHECK_EQ(sim_injections_of(0, FX_VTIMER), 1);
}

TEST(vgic_more_pending_than_list_registers)
{
    CHECK(fx_boot(1));
    linux_gic_init(1);
    /* Eight SGIs of one priority at once, four list registers: three go in (the last register
     * waits for a higher priority), the rest follow as EOIs come. */
    for (unsigned sgi = 0; sgi < 8; sgi++)
        fx_gicd_write(0, 0xf00, 2u << 24 | sgi);
    CHECK_EQ(sim.num_inj, 3);
    for (unsigned sgi = 0; sgi < 8; sgi++) {
        CHECK(fx_guest_handles(0, sgi));
    }
    CHECK_EQ(sim.num_inj, 8);
    for (unsigned sgi = 0; sgi < 8; sgi++)
        CHECK_EQ(sim_injections_of(0, sgi), 1);
}

TEST(vgic_priority_order)
{
    CHECK(fx_boot(1));
    linux_gic_init(1);
    fx_gicd_write(0, 0x000, 0);
    fx_gicd_access(0, 0x400 + 5, 1, 1, 0x80);
    fx_gicd_access(0, 0x400 + 6, 1, 1, 0x10);
    fx_gicd_write(0, 0xf00, 2u << 24 | 5);
    fx_gicd_write(0, 0xf00, 2u << 24 | 6);
    fx_gicd_write(0, 0x000, 1);
    CHECK_EQ(sim.num_inj, 2);
    CHECK_EQ(sim.inj[0].irq, 6);
    CHECK_EQ(sim.inj[1].irq, 5);
}

TEST(vgic_level_irq_pending_again_after_eoi)
{
    CHECK(fx_boot(1));
    linux_gic_init(1);
    fx_gicd_write(0, 0x104, 1u << 2); /* enable 34 (no owner: an emulated level device) */
    vgic_assert(&fx.vm.gic, 0, 34);
    CHECK_EQ(sim_injections_of(0, 34), 1);
    CHECK(fx_guest_handles(0, 34));
    CHECK_EQ(sim_injections_of(0, 34), 2); /* line still high */
    vgic_deassert(&fx.vm.gic, 0, 34);
    CHECK(fx_guest_handles(0, 34));
    CHECK_EQ(sim_injections_of(0, 34), 2);
}

TEST(vgic_edge_while_in_lr_is_pending_again)
{
    CHECK(fx_boot(1));
    linux_gic_init(1);
    fx_gicd_write(0, 0xc08, 0x00000020); /* 34 edge */
    fx_gicd_write(0, 0x104, 1u << 2);
    vgic_assert(&fx.vm.gic, 0, 34);
    vgic_assert(&fx.vm.gic, 0, 34); /* second edge while the first is in a list register */
    CHECK_EQ(sim_injections_of(0, 34), 1);
    CHECK(fx_guest_handles(0, 34));
    CHECK_EQ(sim_injections_of(0, 34), 2);
    CHECK(fx_guest_handles(0, 34));
    CHECK_EQ(sim_injections_of(0, 34), 2);
}

TEST(vgic_sgi_targets_and_filters)
{
    CHECK(fx_boot(2));
    linux_gic_init(2);
    fx_gicd_write(0, 0xf00, 0u << 24 | 0x02u << 16 | 3); /* list: CPU1 */
    CHECK_EQ(sim_injections_of(1, 3), 1);
    CHECK_EQ(sim_injections_of(0, 3), 0);
    fx_gicd_write(1, 0xf00, 1u << 24 | 4); /* all but self */
    CHECK_EQ(sim_injections_of(0, 4), 1);
    CHECK_EQ(sim_injections_of(1, 4), 0);
    fx_gicd_write(1, 0xf00, 3u << 24 | 5); /* reserved filter */
    CHECK_EQ(sim_injections_of(0, 5) + sim_injections_of(1, 5), 0);
}

TEST(vgic_self_ipi_without_owner_is_fine)
{
    CHECK(fx_boot(1));
    linux_gic_init(1);
    fx_gicd_write(0, 0xf00, 2u << 24 | 15);
    CHECK_EQ(sim_injections_of(0, 15), 1);
    CHECK(fx_guest_handles(0, 15));
    CHECK_EQ(fx.vm.state, VM_RUNNING);
}

TEST(vgic_spendsgir_cpendsgir)
{
    CHECK(fx_boot(1));
    linux_gic_init(1);
    fx_gicd_write(0, 0x000, 0);
    fx_gicd_access(0, 0xf20 + 2, 1, 1, 0x01);
    CHECK_EQ(fx_gicd_access(0, 0xf10 + 2, 1, 0, 0), 0x01);
    CHECK_EQ(fx_gicd_read(0, 0x200) & 4, 4);
    fx_gicd_access(0, 0xf10 + 2, 1, 1, 0x01);
    CHECK_EQ(fx_gicd_read(0, 0x200) & 4, 0);
}

TEST(vgic_maintenance_for_empty_lr_is_reported)
{
    CHECK(fx_boot(1));
    fx_maintenance(0, 3);
    CHECK(sim_console_has("maintenance for list register 3"));
    fx_maintenance(0, -1);
    fx_maintenance(0, 200);
    CHECK_EQ(fx.vm.state, VM_RUNNING);
}

TEST(vgic_config_limits)
{
    struct vgic g;
    CHECK(!vgic_init(&g, 4, 64, 1, 4));
    CHECK(!vgic_init(&g, 2, 16, 1, 4));
    CHECK(!vgic_init(&g, 2, 64, 0, 4));
    CHECK(!vgic_init(&g, 2, 64, 9, 4));
    CHECK(!vgic_init(&g, 2, 64, 1, 17));
    CHECK(vgic_init(&g, 2, 1020, 8, 16));
    CHECK_EQ(g.num_irqs, 1024);
    CHECK(!vgic_assert(&g, 0, 1020));
    CHECK(!vgic_assert(&g, 8, 40));
}

/* A threaded one-shot handler (Linux): the guest masks the passthrough interrupt at the
 * distributor, EOIs it, clears the device later and unmasks at the end. seL4 is told only at
 * the unmask, so a line that was still high at the EOI is not delivered a second time. */
TEST(vgic_passthrough_ack_waits_for_the_unmask)
{
    CHECK(fx_boot(1));
    linux_gic_init(1);
    fx_gicd_write(0, 0x104, 1u << 1);
    vm_notified(&fx.vm, FX_UART_CH);
    CHECK_EQ(sim_injections_of(0, FX_UART_IRQ), 1);
    unsigned acks = sim.irq_acks[FX_UART_CH];
    fx_gicd_write(0, 0x184, 1u << 1); /* masked while the thread runs */
    CHECK(fx_guest_handles(0, FX_UART_IRQ));
    CHECK_EQ(sim.irq_acks[FX_UART_CH], acks);
    fx_gicd_write(0, 0x104, 1u << 1); /* the thread is done: unmasked */
    CHECK_EQ(sim.irq_acks[FX_UART_CH], acks + 1);
    fx_gicd_write(0, 0x104, 1u << 1);
    CHECK_EQ(sim.irq_acks[FX_UART_CH], acks + 1); /* once */
    /* An ordinary handler: acknowledged at the EOI. */
    vm_notified(&fx.vm, FX_UART_CH);
    CHECK(fx_guest_handles(0, FX_UART_IRQ));
    CHECK_EQ(sim.irq_acks[FX_UART_CH], acks + 2);
}
