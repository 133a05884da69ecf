/* GICv3 distributor, redistributors and ICC_SGI1R_EL1 SGIs. */
#include <string.h>
#include <vmm/vgic.h>

#include "fixture.h"
#include "sim_hyp.h"
#include "test.h"

#define RD(v) ((v)*0x20000u)
#define SGI(v) ((v)*0x20000u + 0x10000u)

TEST(v3_redistributor_typer_last_and_affinity)
{
    CHECK(fx_boot_v3(2));
    uint64_t t0 = fx_gicr_access(0, RD(0) + 8, 8, 0, 0);
    uint64_t t1 = fx_gicr_access(0, RD(1) + 8, 8, 0, 0);
    CHECK_EQ(t0 >> 32, 0);
    CHECK_EQ(t1 >> 32, 1);
    CHECK_EQ((t0 >> 8) & 0xffff, 0);
    CHECK_EQ((t1 >> 8) & 0xffff, 1);
    CHECK_EQ(t0 & 0x10, 0);
    CHECK_EQ(t1 & 0x10, 0x10); /* Last */
    /* 32-bit halves too. */
    CHECK_EQ(fx_gicr_access(1, RD(1) + 8, 4, 0, 0), (uint32_t)t1);
    CHECK_EQ(fx_gicr_access(1, RD(1) + 12, 4, 0, 0), 1);
    CHECK_EQ(fx_gicr_access(0, RD(0) + 0xffe8, 4, 0, 0), 0x3b);
    CHECK_EQ(sim.vcpu[1].mpidr, 0x80000001u);
}

TEST(v3_single_vcpu_typer_is_last)
{
    CHECK(fx_boot_v3(1));
    CHECK_EQ(fx_gicr_access(0, RD(0) + 8, 8, 0, 0) & 0x10, 0x10);
}

TEST(v3_waker_handshake)
{
    CHECK(fx_boot_v3(1));
    CHECK_EQ(fx_gicr_access(0, RD(0) + 0x14, 4, 0, 0), 6); /* asleep */
    fx_gicr_access(0, RD(0) + 0x14, 4, 1, 0);
    CHECK_EQ(fx_gicr_access(0, RD(0) + 0x14, 4, 0, 0), 0);
}

TEST(v3_distributor_ids_and_ctlr)
{
    CHECK(fx_boot_v3(1));
    CHECK_EQ(fx_gicd_read(0, 0x0) & 0x50, 0x50); /* ARE and DS read as one */
    fx_gicd_write(0, 0x0, 0x13);
    CHECK_EQ(fx_gicd_read(0, 0x0), 0x53);
    uint32_t typer = fx_gicd_read(0, 0x4);
    CHECK_EQ(typer & 0x1f, 1);
    CHECK_EQ((typer >> 19) & 0x1f, 9);
    CHECK_EQ(fx_gicd_read(0, 0xffe8), 0x3b);
    /* SGI/PPI registers of the distributor are reserved under affinity routing. */
    fx_gicd_write(0, 0x100, 0xffffffff);
    CHECK_EQ(fx_gicd_read(0, 0x100), 0);
}

TEST(v3_irouter_routes_spis)
{
    struct exit_reply r;
    CHECK(fx_boot_v3(2));
    fx_gicd_write(0, 0x0, 0x13);
    fx_gicd_write(0, 0x84, 0xffffffff);          /* group 1 */
    fx_gicd_write(0, 0x104, 1u << 2);            /* enable 34 */
    fx_gicd_access(0, 0x6000 + 8 * 34, 8, 1, 1); /* to Aff0 = 1 */
    CHECK_EQ(fx_gicd_access(0, 0x6000 + 8 * 34, 8, 0, 0), 1);
    vgic_assert(&fx.vm.gic, 0, 34);
    CHECK_EQ(sim_injections_of(1, 34), 1);
    CHECK_EQ(sim_injections_of(0, 34), 0);
    CHECK_EQ(sim.inj[sim.num_inj - 1].group, 1);
    (void)r;
    /* Route to an affinity no vCPU has: nobody gets it. */
    vgic_deassert(&fx.vm.gic, 0, 34);
    CHECK(fx_guest_handles(1, 34));
    fx_gicd_access(0, 0x6000 + 8 * 34, 4, 1, 0x0505);
    vgic_assert(&fx.vm.gic, 0, 34);
    CHECK_EQ(sim_injections_of(0, 34) + sim_injections_of(1, 34), 1);
    /* IRM: any vCPU. */
    fx_gicd_access(0, 0x6000 + 8 * 34, 8, 1, 1u << 31);
    CHECK_EQ(sim_injections_of(0, 34) + sim_injections_of(1, 34), 2);
}

TEST(v3_redistributor_sgi_frame)
{
    CHECK(fx_boot_v3(2));
    fx_gicr_access(1, SGI(1) + 0x100, 4, 1, 1u << 27); /* enable vtimer on vCPU 1 */
    CHECK_EQ(fx_gicr_access(0, SGI(1) + 0x100, 4, 0, 0), 1u << 27);
    CHECK_EQ(fx_gicr_access(0, SGI(0) + 0x100, 4, 0, 0), 0);
    fx_gicr_access(1, SGI(1) + 0x400 + 27, 1, 1, 0xa7);
    CHECK_EQ(fx_gicr_access(1, SGI(1) + 0x418, 4, 0, 0), 0xa0000000u);
    CHECK_EQ(fx_gicr_access(1, SGI(1) + 0xc00, 4, 0, 0), 0xaaaaaaaa);
    fx_gicr_access(1, SGI(1) + 0xc04, 4, 1, 0x00800000); /* PPI 27 edge */
    CHECK_EQ(fx_gicr_access(1, SGI(1) + 0xc04, 4, 0, 0), 0x00800000);
    /* Frames past the last vCPU read as zero (the VM's MMIO window ends before them anyway). */
    CHECK_EQ(vgic_v3_redist_read(&fx.vm.gic, 0, RD(2) + 8, 8), 0);
    CHECK_EQ(fx.vm.state, VM_RUNNING);
}

static void linux_v3_init(unsigned vcpus)
{
    fx_gicd_write(0, 0x0, 0);
    fx_gicd_write(0, 0x84, 0xffffffff);
    fx_gicd_write(0, 0x0, 0x13);
    for (unsigned v = 0; v < vcpus; v++) {
        fx_gicr_access(v, RD(v) + 0x14, 4, 1, 0);
        fx_gicr_access(v, SGI(v) + 0x80, 4, 1, 0xffffffff);
        fx_gicr_access(v, SGI(v) + 0x100, 4, 1, 0x0000ffff);
        for (unsigned i = 0; i < 32; i += 4)
            fx_gicr_access(v, SGI(v) + 0x400 + i, 4, 1, 0xa0a0a0a0);
    }
}

TEST(v3_sgi1r_targets_and_irm)
{
    CHECK(fx_boot_v3(3));
    linux_v3_init(3);
    uint64_t pc = sim.vcpu[0].regs.pc;
    fx_msr_sgi1r(0, 2u << 24 | 0x6); /* SGI 2 to Aff0 1 and 2 */
    CHECK_EQ(sim_injections_of(1, 2), 1);
    CHECK_EQ(sim_injections_of(2, 2), 1);
    CHECK_EQ(sim_injections_of(0, 2), 0);
    fx_msr_sgi1r(1, 5ull << 24 | 1ull << 40); /* IRM: all but self */
    CHECK_EQ(sim_injections_of(0, 5), 1);
    CHECK_EQ(sim_injections_of(2, 5), 1);
    CHECK_EQ(sim_injections_of(1, 5), 0);
    fx_msr_sgi1r(0, 7ull << 24 | 1ull << 16 | 1); /* Aff1 = 1: no such vCPU */
    CHECK_EQ(sim_injections_of(0, 7) + sim_injections_of(1, 7) + sim_injections_of(2, 7), 0);
    CHECK_EQ(sim.vcpu[0].regs.pc, pc + 2 * 4); /* two MSRs from vCPU 0 */
}

TEST(v3_sgi_pending_via_ispendr0)
{
    CHECK(fx_boot_v3(1));
    linux_v3_init(1);
    fx_gicd_write(0, 0x0, 0);
    fx_gicr_access(0, SGI(0) + 0x200, 4, 1, 1u << 3);
    CHECK_EQ(fx_gicr_access(0, SGI(0) + 0x200, 4, 0, 0) & 8, 8);
    fx_gicr_access(0, SGI(0) + 0x280, 4, 1, 1u << 3);
    CHECK_EQ(fx_gicr_access(0, SGI(0) + 0x200, 4, 0, 0) & 8, 0);
    fx_gicr_access(0, SGI(0) + 0x200, 4, 1, 1u << 3);
    fx_gicd_write(0, 0x0, 0x13);
    CHECK_EQ(sim_injections_of(0, 3), 1);
}

TEST(v3_vtimer_and_uart_delivery)
{
    struct exit_reply r;
    CHECK(fx_boot_v3(1));
    linux_v3_init(1);
    fx_gicr_access(0, SGI(0) + 0x100, 4, 1, 1u << FX_VTIMER);
    struct vm_exit e = { .kind = EXIT_VPPI, .vcpu = 0, .irq = FX_VTIMER };
    fx_exit(&e, &r);
    CHECK_EQ(sim_injections_of(0, FX_VTIMER), 1);
    fx_gicd_write(0, 0x104, 1u << 1);
    vm_notified(&fx.vm, FX_UART_CH);
    CHECK_EQ(sim_injections_of(0, FX_UART_IRQ), 1);
}
