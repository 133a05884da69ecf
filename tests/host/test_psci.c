/* PSCI/SMCCC results over SMC and HVC, power state, reset and power-off. */
#include <string.h>
#include <vmm/log.h>
#include <vmm/psci.h>
#include <vmm/reset.h>

#include "fixture.h"
#include "sim_hyp.h"
#include "test.h"

#define NOT_SUPPORTED ((uint64_t)(int64_t)PSCI_RET_NOT_SUPPORTED)

TEST(psci_boot_state)
{
    CHECK(fx_boot(1));
    CHECK(sim.vcpu[0].running);
    CHECK_EQ(sim.vcpu[0].start_pc, FX_RAM_BASE);
    CHECK_EQ(sim.vcpu[0].regs.x[0], fx.cfg.dtb_addr);
    CHECK_EQ(sim.vcpu[0].regs.spsr, 0x3c5);
    CHECK_EQ(sim.vcpu[0].sctlr & 1, 0); /* MMU off */
    CHECK(memcmp(fx.ram, fx.kernel, sizeof(fx.kernel)) == 0);
    CHECK(fx_ram_dtb_is_pristine_with_seeds());
    CHECK(memcmp(fx.ram + (fx.cfg.initrd_addr - FX_RAM_BASE), fx.initrd, sizeof(fx.initrd)) == 0);
}

TEST(psci_version_and_features)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    uint64_t pc = sim.vcpu[0].regs.pc;
    CHECK_EQ(fx_smc(0, PSCI_VERSION, 0, 0, 0, &r), PSCI_VERSION_1_1);
    CHECK(r.resume);
    CHECK_EQ(sim.vcpu[0].regs.pc, pc + 4);
    CHECK_EQ(fx_smc(0, PSCI_FEATURES, PSCI_CPU_ON_64, 0, 0, &r), 0);
    CHECK_EQ(fx_smc(0, PSCI_FEATURES, SMCCC_VERSION, 0, 0, &r), 0);
    CHECK_EQ(fx_smc(0, PSCI_FEATURES, PSCI_CPU_SUSPEND_64, 0, 0, &r), NOT_SUPPORTED);
    CHECK_EQ(fx_smc(0, SMCCC_VERSION, 0, 0, 0, &r), SMCCC_VERSION_1_1);
    CHECK_EQ(fx_smc(0, SMCCC_ARCH_FEATURES, 0x80008000u, 0, 0, &r), NOT_SUPPORTED);
    CHECK_EQ(fx_smc(0, PSCI_MIGRATE_INFO_TYPE, 0, 0, 0, &r), 2);
}

TEST(psci_unknown_function_not_supported)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    CHECK_EQ(fx_smc(0, 0xc2001234u, 1, 2, 3, &r), NOT_SUPPORTED);
    CHECK(r.resume);
    CHECK(sim_console_has("unknown SMC/HVC function 0xc2001234"));
    CHECK_EQ(fx.vm.state, VM_RUNNING);
}

TEST(psci_cpu_on_single_vcpu)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    CHECK_EQ(fx_smc(0, PSCI_CPU_ON_64, 0, 0x40001000, 0, &r),
             (uint64_t)(int64_t)PSCI_RET_ALREADY_ON);
    CHECK_EQ(fx_smc(0, PSCI_CPU_ON_64, 1, 0x40001000, 0, &r),
             (uint64_t)(int64_t)PSCI_RET_INVALID_PARAMETERS);
    CHECK_EQ(fx_smc(0, PSCI_AFFINITY_INFO_64, 0, 0, 0, &r), 0);
    CHECK_EQ(fx_smc(0, PSCI_AFFINITY_INFO_64, 3, 0, 0, &r),
             (uint64_t)(int64_t)PSCI_RET_INVALID_PARAMETERS);
}

/* PSCI requires every bit outside the affinity fields to be zero (bits 24-31 and 40-63). */
TEST(psci_mpidr_bits_outside_affinity_are_invalid)
{
    struct exit_reply r;
    const uint64_t invalid = (uint64_t)(int64_t)PSCI_RET_INVALID_PARAMETERS;
    CHECK(fx_boot(2));
    CHECK_EQ(fx_smc(0, PSCI_CPU_ON_64, 1u << 24 | 1, 0x40002000, 0, &r), invalid);
    CHECK_EQ(fx_smc(0, PSCI_CPU_ON_64, 0x80000001u, 0x40002000, 0, &r), invalid); /* RES1 bit */
    CHECK_EQ(fx_smc(0, PSCI_CPU_ON_64, 1ull << 40 | 1, 0x40002000, 0, &r), invalid);
    CHECK_EQ(fx_smc(0, PSCI_CPU_ON_64, 1ull << 63 | 1, 0x40002000, 0, &r), invalid);
    CHECK_EQ(fx_smc(0, PSCI_CPU_ON_32, 0xff000001u, 0x40002000, 0, &r), invalid);
    CHECK(!sim.vcpu[1].running);
    CHECK(sim_console_has("psci: warning: vCPU 0: CPU_ON for MPIDR 0x1000001, which sets bits "
                          "PSCI requires to be zero: INVALID_PARAMETERS"));
    CHECK_EQ(fx_smc(0, PSCI_AFFINITY_INFO_64, 1u << 24 | 1, 0, 0, &r), invalid);
    CHECK_EQ(fx_smc(0, PSCI_AFFINITY_INFO_64, 1u << 24, 0, 0, &r), invalid);
    CHECK_EQ(fx_smc(0, PSCI_AFFINITY_INFO_32, 0x80000000u, 0, 0, &r), invalid);
    CHECK_EQ(fx_smc(0, PSCI_AFFINITY_INFO_64, 1ull << 40, 0, 0, &r), invalid);
    /* The same vCPU named properly. */
    CHECK_EQ(fx_smc(0, PSCI_AFFINITY_INFO_64, 1, 0, 0, &r), 1);
    CHECK_EQ(fx_smc(0, PSCI_CPU_ON_64, 1, 0x40002000, 0, &r), 0);
    CHECK(sim.vcpu[1].running);
    CHECK_EQ(fx_smc(0, PSCI_AFFINITY_INFO_64, 1, 0, 0, &r), 0);
}

/* A guest that keeps asking for a vCPU it does not have: reported, but not on every call. */
TEST(psci_cpu_on_unknown_mpidr_reports_are_rate_limited)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    for (unsigned i = 0; i < 100; i++)
        CHECK_EQ(fx_smc(0, PSCI_CPU_ON_64, 3, 0x40002000, 0, &r),
                 (uint64_t)(int64_t)PSCI_RET_INVALID_PARAMETERS);
    CHECK_EQ(sim_console_count("CPU_ON for MPIDR 0x3, which this VM does not have"),
             LOG_LIMIT_BURST);
    fx_smc(0, PSCI_SYSTEM_RESET, 0, 0, 0, &r);
    CHECK_EQ(fx_run_drain_stubs(), 1);
    CHECK(sim_console_has("90 more reports of CPU_ON for MPIDRs this VM does not have suppressed"));
}

TEST(psci_cpu_on_second_vcpu)
{
    struct exit_reply r;
    CHECK(fx_boot(2));
    CHECK(!sim.vcpu[1].running);
    CHECK_EQ(fx_smc(0, PSCI_AFFINITY_INFO_64, 1, 0, 0, &r), 1);
    CHECK_EQ(fx_smc(0, PSCI_CPU_ON_64, 1, 0x40002000, 0xabcd, &r), 0);
    CHECK(sim.vcpu[1].running);
    CHECK_EQ(sim.vcpu[1].start_pc, 0x40002000);
    CHECK_EQ(sim.vcpu[1].regs.x[0], 0xabcd);
    CHECK_EQ(sim.vcpu[1].regs.spsr, 0x3c5);
    CHECK_EQ(fx_smc(0, PSCI_CPU_ON_64, 1, 0x40002000, 0, &r),
             (uint64_t)(int64_t)PSCI_RET_ALREADY_ON);
    CHECK_EQ(fx_smc(0, PSCI_AFFINITY_INFO_64, 1, 0, 0, &r), 0);
    /* vCPU 1 turns itself off: no reply, vCPU stopped. */
    fx_smc(1, PSCI_CPU_OFF, 0, 0, 0, &r);
    CHECK(!r.resume);
    CHECK(!sim.vcpu[1].running);
    CHECK_EQ(fx_smc(0, PSCI_AFFINITY_INFO_64, 1, 0, 0, &r), 1);
}

TEST(psci_system_off)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    fx_smc(0, PSCI_SYSTEM_OFF, 0, 0, 0, &r);
    CHECK(!r.resume);
    CHECK(!sim.vcpu[0].running);
    CHECK_EQ(fx.vm.state, VM_POWERED_OFF);
    CHECK(sim_console_has("[vm test] psci: guest powered off"));
}

TEST(psci_system_reset_restores_pristine_images)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    /* The guest scribbles over its kernel, DTB and initrd, then resets. */
    memset(fx.ram, 0xee, FX_RAM_SIZE);
    sim.vcpu[0].regs.pc = 0x40123456;
    sim.vcpu[0].sctlr = 0x30d0199d; /* MMU on */
    fx_smc(0, PSCI_SYSTEM_RESET, 0, 0, 0, &r);
    CHECK(!r.resume);
    CHECK_EQ(fx.vm.boots, 1);
    CHECK_EQ(fx_run_drain_stubs(), 1);
    CHECK_EQ(fx.vm.boots, 2);
    CHECK_EQ(sim.vcpu[0].starts, 3); /* boot, drain stub, boot */
    CHECK_EQ(sim.vcpu[0].start_pc, FX_RAM_BASE);
    CHECK_EQ(sim.vcpu[0].regs.x[0], fx.cfg.dtb_addr);
    CHECK_EQ(sim.vcpu[0].sctlr & 1, 0);
    CHECK(memcmp(fx.ram, fx.kernel, sizeof(fx.kernel)) == 0);
    CHECK(fx_ram_dtb_is_pristine_with_seeds());
    CHECK(memcmp(fx.ram + (fx.cfg.initrd_addr - FX_RAM_BASE), fx.initrd, sizeof(fx.initrd)) == 0);
    CHECK(sim_console_has("boot #2"));
}

TEST(psci_reset_unmasks_interrupts_left_in_flight)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    unsigned vppi_acks = sim.vcpu[0].vppi_acks, irq_acks = sim.irq_acks[FX_UART_CH];
    fx_smc(0, PSCI_SYSTEM_RESET, 0, 0, 0, &r);
    CHECK_EQ(fx_run_drain_stubs(), 1);
    CHECK(sim.vcpu[0].vppi_acks > vppi_acks);
    CHECK(sim.irq_acks[FX_UART_CH] > irq_acks);
}

TEST(psci_over_hvc_reply_carries_registers)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    struct vm_exit e = { .kind = EXIT_HVC, .vcpu = 0, .pc = 0x40000100 };
    e.x[0] = PSCI_VERSION;
    e.x[5] = 55;
    fx_exit(&e, &r);
    CHECK(r.resume);
    CHECK(r.set_hvc_regs);
    CHECK_EQ(r.x0, PSCI_VERSION_1_1);
    CHECK_EQ(r.pc, 0x40000104);
    /* No register invocation was needed. */
    CHECK_EQ(sim.vcpu[0].reg_reads, 0);
    CHECK_EQ(sim.vcpu[0].reg_writes, 1); /* only vm_boot's */
    e.x[0] = 0x86000000u;
    fx_exit(&e, &r);
    CHECK(r.resume);
    CHECK_EQ(r.x0, NOT_SUPPORTED);
}

TEST(psci_32bit_cpu_on_masks_arguments)
{
    struct exit_reply r;
    CHECK(fx_boot(2));
    CHECK_EQ(fx_smc(0, PSCI_CPU_ON_32, 0xffffffff00000001ull, 0xffffffff40003000ull, 0, &r), 0);
    CHECK_EQ(sim.vcpu[1].start_pc, 0x40003000);
}

TEST(psci_known_probes_answered_quietly)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    CHECK_EQ(fx_smc(0, 0x84000050u, 0, 0, 0, &r), NOT_SUPPORTED); /* TRNG_VERSION */
    CHECK(r.resume);
    CHECK(sim_console_lacks("0x84000050"));
}

TEST(psci_unknown_reports_are_rate_limited)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    for (unsigned i = 0; i < 100; i++)
        CHECK_EQ(fx_smc(0, 0xc3000000u + i, 0, 0, 0, &r), NOT_SUPPORTED);
    CHECK(sim_console_lacks("0xc3000063"));
    CHECK_EQ(fx.vm.state, VM_RUNNING);
}

/* Linux stops the other CPUs with an IPI it never EOIs, then resets: their list registers
 * still hold that interrupt. Every vCPU runs the drain stub (which also resets its CPU
 * interface) before the VM boots again. */
TEST(psci_reset_drains_list_registers_first)
{
    struct exit_reply r;
    CHECK(fx_boot(2));
    fx_gicd_write(0, 0x000, 1);
    fx_gicd_write(1, 0x100, 0xffff);
    fx_gicd_write(0, 0xf00, 0x02u << 16 | 2); /* IPI to vCPU 1, never EOI'd */
    CHECK_EQ(sim_injections_of(1, 2), 1);
    fx_smc(0, PSCI_SYSTEM_RESET, 0, 0, 0, &r);
    CHECK(!r.resume);
    CHECK_EQ(fx.vm.state, VM_RESETTING);
    for (unsigned v = 0; v < 2; v++) {
        uint64_t stub = FX_RAM_BASE + FX_RAM_SIZE - 4096 + 256 * v;
        CHECK(sim.vcpu[v].running);
        CHECK_EQ(sim.vcpu[v].start_pc, stub);
        CHECK_EQ(sim.vcpu[v].regs.x[0], 0x08010000u);
        CHECK_EQ(sim.vcpu[v].regs.x[2], stub + 192);
        CHECK_EQ(sim.vcpu[v].regs.x[3], v == 1 ? 1 : 0); /* vCPU 0 holds nothing */
        CHECK(memcmp(fx.ram + (stub - FX_RAM_BASE), gic_drain_stub_v2,
                     4 * gic_drain_stub_v2_words) == 0);
        CHECK_EQ(sim.vcpu[v].sctlr & 1, 0);
    }
    uint32_t listed;
    memcpy(&listed, fx.ram + (sim.vcpu[1].regs.x[2] - FX_RAM_BASE), 4);
    CHECK_EQ(listed, 2);
    /* The stub EOIs the IPI (maintenance), then signals. */
    CHECK(fx_guest_handles(1, 2));
    CHECK_EQ(sim_injections_of(1, 2), 1); /* the distributor is off meanwhile */
    fx_smc(1, VMM_FID_GIC_DRAINED, 0, 0, 0, &r);
    CHECK(!r.resume);
    CHECK(!sim.vcpu[1].running);
    CHECK_EQ(fx.vm.state, VM_RESETTING); /* vCPU 0 has not finished yet */
    fx_smc(0, VMM_FID_GIC_DRAINED, 0, 0, 0, &r);
    CHECK(!r.resume);
    CHECK_EQ(fx.vm.state, VM_RUNNING);
    CHECK_EQ(fx.vm.boots, 2);
    CHECK(!sim.vcpu[1].running);
    CHECK_EQ(sim.vcpu[0].start_pc, FX_RAM_BASE);
    /* The signal from a vCPU that is not draining is an ordinary unknown call. */
    CHECK_EQ(fx_smc(1, VMM_FID_GIC_DRAINED, 0, 0, 0, &r), NOT_SUPPORTED);
    CHECK(memcmp(fx.ram, fx.kernel, sizeof(fx.kernel)) == 0);
}
