/* Exit dispatch: emulated MMIO through the syndrome, unmapped accesses, WFx, system registers,
 * unknown exits. The VMM must answer each and never crash. */
#include <string.h>
#include <vmm/esr.h>

#include "fixture.h"
#include "sim_hyp.h"
#include "test.h"

TEST(fault_mmio_read_writes_rt_and_advances_pc)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    sim.vcpu[0].regs.pc = 0x40001000;
    sim.vcpu[0].regs.x[7] = 0xdeadbeefdeadbeefull;
    fx_mmio(0, FX_GICD + 0x008, 4, 0, 7, 0, 1, &r); /* LDR w7, [GICD_IIDR] */
    CHECK(r.resume);
    CHECK_EQ(sim.vcpu[0].regs.x[7], 0x0200043b);
    CHECK_EQ(sim.vcpu[0].regs.pc, 0x40001004);
    CHECK_EQ(sim.vcpu[0].last_write_count, 3 + 8);
}

TEST(fault_mmio_sign_extended_byte_load)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    fx_gicd_access(0, 0x400 + 40, 1, 1, 0x80);
    fx_mmio(0, FX_GICD + 0x400 + 40, 1, 0, 2, 1, 1, &r); /* LDRSB x2 */
    CHECK_EQ(sim.vcpu[0].regs.x[2], 0xffffffffffffff80ull);
    fx_mmio(0, FX_GICD + 0x400 + 40, 1, 0, 2, 1, 0, &r); /* LDRSB w2 */
    CHECK_EQ(sim.vcpu[0].regs.x[2], 0xffffff80ull);
}

TEST(fault_mmio_write_from_xzr)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    fx_gicd_write(0, 0x104, 0xff);
    uint64_t pc = sim.vcpu[0].regs.pc;
    fx_mmio(0, FX_GICD + 0x184, 4, 1, 31, 0, 0, &r); /* STR wzr: clears nothing */
    CHECK(r.resume);
    CHECK_EQ(fx_gicd_read(0, 0x104), 0xff);
    CHECK_EQ(sim.vcpu[0].regs.pc, pc + 4 + 4);     /* the read above advanced too */
    CHECK_EQ(sim.vcpu[0].last_write_count, 3 + 6); /* the read of x5 */
}

TEST(fault_mmio_load_reads_only_the_registers_before_rt)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    sim.vcpu[0].regs.x[4] = 44;
    fx_mmio(0, FX_GICD + 0x008, 4, 0, 5, 0, 0, &r); /* LDR w5, [GICD_IIDR] */
    CHECK_EQ(sim.vcpu[0].last_read_count, 3 + 5);   /* pc, sp, spsr, x0-x4 */
    CHECK_EQ(sim.vcpu[0].last_write_count, 3 + 6);  /* ... and x5 */
    CHECK_EQ(sim.vcpu[0].regs.x[5], 0x0200043b);
    CHECK_EQ(sim.vcpu[0].regs.x[4], 44);
    unsigned reads = sim.vcpu[0].reg_reads;
    fx_mmio(0, FX_GICD + 0x008, 4, 0, 31, 0, 0, &r); /* LDR wzr: nothing to read */
    fx_mmio(0, FX_GICD + 0x184, 4, 1, 31, 0, 0, &r); /* STR wzr: nothing to read either */
    CHECK_EQ(sim.vcpu[0].reg_reads, reads);
    CHECK_EQ(sim.vcpu[0].last_write_count, 1);
    CHECK(r.resume);
}

TEST(fault_mmio_write_only_moves_pc)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    sim.vcpu[0].regs.x[9] = 6;
    fx_mmio(0, FX_GICD + 0x104, 4, 1, 9, 0, 0, &r);
    CHECK_EQ(sim.vcpu[0].last_write_count, 1);
    CHECK_EQ(fx_gicd_read(0, 0x104), 6);
}

TEST(fault_unmapped_access_reported_and_abort_injected)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    sim.vcpu[0].regs.pc = 0x40080000;
    sim.vcpu[0].regs.spsr = 0x3c5; /* EL1h */
    sim.vcpu[0].sysreg[VCPU_VBAR_EL1] = 0x40010000;
    fx_mmio(0, 0x0a000e00, 4, 1, 3, 0, 0, &r);
    CHECK(r.resume);
    CHECK_EQ(fx.vm.state, VM_RUNNING);
    CHECK(sim_console_has("4-byte write of 0xa000e00 (x3) at pc 0x40080000: not RAM nor a device"));
    CHECK(sim_console_has("data abort (lower EL), translation fault"));
    /* The guest takes a synchronous external abort at its current-EL, SP_ELx vector. */
    CHECK_EQ(sim.vcpu[0].regs.pc, 0x40010200);
    CHECK_EQ(sim.vcpu[0].regs.spsr, 0x3c5);
    CHECK_EQ(sim.vcpu[0].sysreg[VCPU_ELR_EL1], 0x40080000);
    CHECK_EQ(sim.vcpu[0].sysreg[VCPU_SPSR_EL1], 0x3c5);
    uint64_t esr = sim.vcpu[0].sysreg[VCPU_ESR_EL1];
    CHECK_EQ(esr >> 26, ESR_EC_DABT_CUR);
    CHECK_EQ(esr & 0x3f, 0x10); /* synchronous external abort */
    CHECK(esr & (1u << 6));     /* a write */
    CHECK(esr & (1u << 10));    /* FAR not valid */
}

TEST(fault_unmapped_access_from_el0_uses_lower_el_vector)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    sim.vcpu[0].regs.pc = 0x400000;
    sim.vcpu[0].regs.spsr = 0x0; /* EL0t */
    sim.vcpu[0].sysreg[VCPU_VBAR_EL1] = 0x40010000;
    fx_mmio(0, 0x0a000000, 4, 0, 1, 0, 0, &r);
    CHECK(r.resume);
    CHECK_EQ(sim.vcpu[0].regs.pc, 0x40010400);
    CHECK_EQ(sim.vcpu[0].sysreg[VCPU_ESR_EL1] >> 26, ESR_EC_DABT_LOW);
    CHECK_EQ(sim.vcpu[0].sysreg[VCPU_SPSR_EL1], 0);
}

TEST(fault_instruction_fetch_from_unmapped)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    sim.vcpu[0].regs.pc = 0x90000000;
    sim.vcpu[0].regs.spsr = 0x3c4; /* EL1t */
    struct vm_exit e = { .kind = EXIT_VM_FAULT,
                         .vcpu = 0,
                         .pc = 0x90000000,
                         .addr = 0x90000000,
                         .instruction_fault = true,
                         .esr = (uint64_t)ESR_EC_IABT_LOW << 26 | 0x06 };
    fx_exit(&e, &r);
    CHECK(r.resume);
    CHECK(sim_console_has("instruction fetch from 0x90000000"));
    CHECK_EQ(sim.vcpu[0].regs.pc, 0x000); /* VBAR 0 + current EL with SP_EL0 */
    CHECK_EQ(sim.vcpu[0].sysreg[VCPU_ESR_EL1] >> 26, ESR_EC_IABT_CUR);
}

TEST(fault_no_syndrome_on_device_reported)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    sim.vcpu[0].regs.spsr = 0x3c5;
    struct vm_exit e = { .kind = EXIT_VM_FAULT,
                         .vcpu = 0,
                         .pc = 0x40000010,
                         .addr = FX_GICD,
                         .esr = (uint64_t)ESR_EC_DABT_LOW << 26 | 0x07 };
    fx_exit(&e, &r);
    CHECK(r.resume);
    CHECK(sim_console_has("without a valid syndrome"));
    CHECK_EQ(sim.vcpu[0].sysreg[VCPU_ESR_EL1] >> 26, ESR_EC_DABT_CUR);
}

TEST(fault_aarch32_guest_cannot_take_abort)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    sim.vcpu[0].regs.spsr = 0x13; /* AArch32 SVC */
    fx_mmio(0, 0x0a000000, 4, 0, 1, 0, 0, &r);
    CHECK(!r.resume);
    CHECK_EQ(fx.vm.state, VM_STOPPED);
}

TEST(fault_wfi_advances_pc)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    sim.vcpu[0].regs.pc = 0x40000500;
    sim.vcpu[0].cntv_ctl = 1; /* a timer that has already fired: no sleep */
    sim.vcpu[0].cntv_cval = 1;
    sim.now = 10;
    struct vm_exit e = { .kind = EXIT_VCPU,
                         .vcpu = 0,
                         .esr = (uint64_t)ESR_EC_WFX << 26 | 1u << 25 };
    fx_exit(&e, &r);
    CHECK(r.resume);
    CHECK_EQ(sim.vcpu[0].regs.pc, 0x40000504);
}

TEST(fault_sysreg_read_as_zero)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    sim.vcpu[0].regs.pc = 0x40000600;
    sim.vcpu[0].regs.x[4] = 77;
    uint32_t iss = 3u << 20 | 0u << 17 | 0u << 14 | 1u << 10 | 4u << 5 | 0u << 1 | 1u;
    struct vm_exit e = { .kind = EXIT_VCPU, .vcpu = 0, .esr = (uint64_t)ESR_EC_SYSREG << 26 | iss };
    fx_exit(&e, &r);
    CHECK(r.resume);
    CHECK_EQ(sim.vcpu[0].regs.x[4], 0);
    CHECK_EQ(sim.vcpu[0].regs.pc, 0x40000604);
    CHECK(sim_console_has("MRS of system register S3_0_C1_C0_0 (x4)"));
}

TEST(fault_unknown_class_stops_guest)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    struct vm_exit e = { .kind = EXIT_VCPU, .vcpu = 0, .esr = (uint64_t)0x3c << 26 | 0x1234 };
    fx_exit(&e, &r);
    CHECK(!r.resume);
    CHECK(sim_console_has("class 0x3c (BRK)"));
    CHECK_EQ(fx.vm.state, VM_STOPPED);
}

TEST(fault_unknown_label_and_bad_vcpu)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    struct vm_exit e = { .kind = EXIT_VPPI, .vcpu = 5, .irq = 27 };
    fx_exit(&e, &r);
    CHECK(!r.resume);
    CHECK(sim_console_has("exit from vCPU 5"));
    e = (struct vm_exit){ .kind = EXIT_UNKNOWN, .vcpu = 0, .label = 99 };
    fx_exit(&e, &r);
    CHECK(!r.resume);
    CHECK(sim_console_has("unknown fault label 99"));
}

TEST(fault_vppi_out_of_range_dropped)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    struct vm_exit e = { .kind = EXIT_VPPI, .vcpu = 0, .irq = 5000 };
    fx_exit(&e, &r);
    CHECK(r.resume);
    CHECK(sim_console_has("virtual PPI 5000 is out of range"));
}

TEST(fault_notification_on_unknown_channel)
{
    CHECK(fx_boot(1));
    vm_notified(&fx.vm, 17);
    CHECK(sim_console_has("channel 17"));
}

/* Every Rt reaches its own register, whatever the kernel's transfer order. */
TEST(fault_mmio_load_into_every_register)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    for (unsigned rt = 0; rt < 31; rt++) {
        for (unsigned i = 0; i < 31; i++)
            sim.vcpu[0].regs.x[i] = 0x1000 + i;
        fx_mmio(0, FX_GICD + 0x008, 4, 0, rt, 0, 1, &r);
        CHECK(r.resume);
        for (unsigned i = 0; i < 31; i++)
            CHECK_EQ(sim.vcpu[0].regs.x[i], i == rt ? 0x0200043bu : 0x1000 + i);
    }
}

TEST(fault_mmio_store_from_every_register)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    for (unsigned rt = 0; rt < 31; rt++) {
        for (unsigned i = 0; i < 31; i++)
            sim.vcpu[0].regs.x[i] = i == rt ? 0xa0 : 0;
        fx_mmio(0, FX_GICD + 0x400 + 40, 1, 1, rt, 0, 0, &r);
        CHECK_EQ(fx_gicd_access(0, 0x400 + 40, 1, 0, 0), 0xa0);
        fx_gicd_access(0, 0x400 + 40, 1, 1, 0);
    }
}
