/*
 * Rate limits of the lines a guest can cause (log.h): a guest repeating anything the VMM reports
 * gets a bounded number of lines and a summary of what was suppressed; the limits live in the
 * VM, so a new VM and every boot report again, whatever ran before (or was linked before).
 */
#include <stdio.h>
#include <string.h>
#include <vmm/esr.h>
#include <vmm/log.h>
#include <vmm/psci.h>

#include "fixture.h"
#include "sim_hyp.h"
#include "test.h"
#include "virtio_fx.h"

#define FLOOD 1000u
#define WINDOW_TICKS ((uint64_t)LOG_LIMIT_WINDOW_SECONDS * SIM_COUNTER_FREQ)

TEST(log_limit_burst_window_and_reset)
{
    struct log_limit l;
    memset(&l, 0, sizeof(l));
    log_set_vm_name("t");
    unsigned passed = 0;
    for (unsigned i = 0; i < FLOOD; i++)
        passed += log_limit_pass(&l, LOG_WARN, "sub", "things");
    CHECK_EQ(passed, LOG_LIMIT_BURST);
    CHECK(sim_console_lacks("suppressed"));
    /* Just before the window ends: still suppressed. */
    sim.now = WINDOW_TICKS - 1;
    CHECK(!log_limit_pass(&l, LOG_WARN, "sub", "things"));
    /* A new window: the summary first, then the line may go. */
    sim.now = WINDOW_TICKS;
    CHECK(log_limit_pass(&l, LOG_WARN, "sub", "things"));
    CHECK(sim_console_has("[vm t] sub: warning: 991 more things suppressed"));
    /* A reset says what it suppressed since, and starts afresh. */
    for (unsigned i = 0; i < 20; i++)
        log_limit_pass(&l, LOG_WARN, "sub", "things");
    log_limit_reset(&l);
    CHECK(sim_console_has("[vm t] sub: warning: 11 more things suppressed"));
    for (unsigned i = 0; i < LOG_LIMIT_BURST; i++)
        CHECK(log_limit_pass(&l, LOG_WARN, "sub", "things"));
    /* Nothing suppressed: a reset says nothing. */
    unsigned len = sim.console_len;
    memset(&l, 0, sizeof(l));
    log_limit_reset(&l);
    CHECK_EQ(sim.console_len, len);
    /* Lines below the log level neither print nor use up the burst. */
    CHECK(!log_limit_pass(&l, LOG_DEBUG, "sub", "things"));
    CHECK_EQ(l.lines, 0);
}

static void unmapped_read(void)
{
    struct exit_reply r;
    fx_mmio(0, 0x0a000000, 4, 0, 1, 0, 0, &r);
}

/* The case: a guest that keeps touching what is not there. */
TEST(log_limit_guest_flood_bounded_and_reboot_reports_again)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    for (unsigned i = 0; i < FLOOD; i++)
        unmapped_read();
    CHECK_EQ(sim_console_count("not RAM nor a device this VM has"), LOG_LIMIT_BURST);
    CHECK(sim_console_lacks("suppressed"));
    /* The guest reboots: the VMM says what it suppressed, and the new boot is reported again. */
    fx_smc(0, PSCI_SYSTEM_RESET, 0, 0, 0, &r);
    CHECK_EQ(fx_run_drain_stubs(), 1);
    CHECK_EQ(fx.vm.boots, 2);
    CHECK(sim_console_has("fault: warning: 990 more reports of accesses nothing answers "
                          "suppressed"));
    unmapped_read();
    CHECK_EQ(sim_console_count("not RAM nor a device this VM has"), LOG_LIMIT_BURST + 1);
    /* A flood that lasts: a burst per window, each after the summary of the one before. */
    for (unsigned i = 0; i < FLOOD; i++)
        unmapped_read();
    sim.now += WINDOW_TICKS;
    unmapped_read();
    CHECK(sim_console_has("991 more reports of accesses nothing answers suppressed"));
    CHECK_EQ(sim_console_count("not RAM nor a device this VM has"), 2 * LOG_LIMIT_BURST + 1);
}

/* A new VM reports from the start, whatever earlier VMs used up: the replay tests' "no warning
 * was logged" cannot depend on which tests ran before. */
TEST(log_limit_new_vm_reports_again)
{
    CHECK(fx_boot(1));
    for (unsigned i = 0; i < FLOOD; i++)
        fx_gicd_access(0, 0x4, 8, 0, 0);
    CHECK_EQ(sim_console_count("is not a valid access"), LOG_LIMIT_BURST);
    CHECK(fx_boot(1));
    fx_gicd_access(0, 0x4, 8, 0, 0);
    CHECK_EQ(sim_console_count("is not a valid access"), LOG_LIMIT_BURST + 1);
}

/* ---- every line a guest can cause ---------------------------------------------------------- */

static void sysreg_trap(void)
{
    struct exit_reply r;
    /* MRS x1, S3_0_C15_C0_0 (an IMPLEMENTATION DEFINED register nothing emulates). */
    uint32_t iss = 3u << 20 | 0u << 17 | 0u << 14 | 15u << 10 | 1u << 5 | 0u << 1 | 1u;
    struct vm_exit e = { .kind = EXIT_VCPU, .vcpu = 0, .esr = (uint64_t)ESR_EC_SYSREG << 26 | iss };
    fx_exit(&e, &r);
}

static void unknown_smc(void)
{
    struct exit_reply r;
    fx_smc(0, 0xc2001234u, 1, 2, 3, &r);
}

static void cpu_on_missing_vcpu(void)
{
    struct exit_reply r;
    fx_smc(0, PSCI_CPU_ON_64, 5, FX_RAM_BASE, 0, &r);
}

static void cpu_on_reserved_bits(void)
{
    struct exit_reply r;
    fx_smc(0, PSCI_CPU_ON_64, 1u << 24, FX_RAM_BASE, 0, &r);
}

static void cpu_on_off(void)
{
    struct exit_reply r;
    fx_smc(0, PSCI_CPU_ON_64, 1, FX_RAM_BASE, 0, &r);
    fx_smc(1, PSCI_CPU_OFF, 0, 0, 0, &r);
}

static void gicv2_bad_width(void)
{
    fx_gicd_access(0, 0x4, 8, 0, 0);
}

static void gicv3_bad_width(void)
{
    fx_gicd_access(0, 0x0, 2, 1, 0);
}

static void gicv3_redist_bad_width(void)
{
    fx_gicr_access(0, 0x0, 1, 0, 0);
}

static void maintenance_empty_lr(void)
{
    fx_maintenance(0, 3);
}

static void vppi_out_of_range(void)
{
    struct exit_reply r;
    struct vm_exit e = { .kind = EXIT_VPPI, .vcpu = 0, .irq = 2000 };
    fx_exit(&e, &r);
}

static void unused_channel(void)
{
    vm_notified(&fx.vm, 9);
}

static void unhandled_trap(void)
{
    struct exit_reply r;
    struct vm_exit e = { .kind = EXIT_VCPU, .vcpu = 0, .esr = (uint64_t)ESR_EC_FP_ASIMD << 26 };
    fx_exit(&e, &r);
}

static void user_exception(void)
{
    struct exit_reply r;
    struct vm_exit e = { .kind = EXIT_USER_EXCEPTION, .vcpu = 0, .label = 2 };
    fx_exit(&e, &r);
}

static void unknown_fault(void)
{
    struct exit_reply r;
    struct vm_exit e = { .kind = EXIT_UNKNOWN, .vcpu = 0, .label = 77 };
    fx_exit(&e, &r);
}

static void abort_into_aarch32(void)
{
    sim.vcpu[0].regs.spsr = 0x10; /* AArch32 user mode */
    unmapped_read();
}

static void virtio_bad_width(void)
{
    vio_access(VIO_STATUS, 2, 0, 0);
}

static void virtio_bad_queue(void)
{
    vdrv_negotiate(VIO_F_VERSION_1_HI, 0);
    vio_write(VIO_QUEUE_SEL, 0);
    vio_write(VIO_QUEUE_NUM, 3);
    vio_write(VIO_QUEUE_READY, 1);
}

static void virtio_backend_bad_entry(void)
{
    fb_push(CONN_TX_FREE, 0, 1, 99);
}

struct flood {
    const char *name;
    unsigned vcpus, gic;
    void (*trigger)(void);
    const char *line;     /* in each report */
    const char *summary;  /* what the summary says was suppressed */
    unsigned per_trigger; /* lines each trigger causes */
    bool virtio;          /* the VM has the fixture's virtio console */
};

static const struct flood floods[] = {
    { "unanswered access", 1, 2, unmapped_read, "not RAM nor a device",
      "reports of accesses nothing answers", 1, false },
    { "system register", 1, 2, sysreg_trap, "S3_0_C15_C0_0 (x1) at pc",
      "reports of system registers not emulated", 1, false },
    { "unknown SMC", 1, 2, unknown_smc, "unknown SMC/HVC function 0xc2001234",
      "reports of SMC/HVC calls not offered", 1, false },
    { "CPU_ON missing vCPU", 1, 2, cpu_on_missing_vcpu, "which this VM does not have",
      "reports of CPU_ON for MPIDRs this VM does not have", 1, false },
    { "CPU_ON reserved bits", 2, 2, cpu_on_reserved_bits, "which sets bits PSCI requires",
      "reports of CPU_ON for MPIDRs this VM does not have", 1, false },
    { "CPU_ON/CPU_OFF", 2, 2, cpu_on_off, "psci: vCPU", "vCPU power reports", 2, false },
    { "GICv2 distributor", 1, 2, gicv2_bad_width, "is not a valid access",
      "reports of invalid distributor/redistributor accesses", 1, false },
    { "GICv3 distributor", 1, 3, gicv3_bad_width, "of distributor offset 0x0 is not a valid",
      "reports of invalid distributor/redistributor accesses", 1, false },
    { "GICv3 redistributor", 1, 3, gicv3_redist_bad_width, "of redistributor offset 0x0",
      "reports of invalid distributor/redistributor accesses", 1, false },
    { "maintenance", 1, 2, maintenance_empty_lr, "which holds nothing", "list-register reports", 1,
      false },
    { "virtual PPI", 1, 2, vppi_out_of_range, "virtual PPI 2000 is out of range",
      "out-of-range virtual PPIs", 1, false },
    { "notification", 1, 2, unused_channel, "notification on channel 9",
      "notifications on unused channels", 1, false },
    { "unhandled trap", 1, 2, unhandled_trap, "unhandled trap: ESR", "unhandled traps and faults",
      1, false },
    { "user exception", 1, 2, user_exception, "user exception at pc", "unhandled traps and faults",
      1, false },
    { "unknown fault", 1, 2, unknown_fault, "unknown fault label 77", "unhandled traps and faults",
      1, false },
    { "AArch32 abort", 1, 2, abort_into_aarch32, "AArch32 guest state",
      "unhandled traps and faults", 1, false },
    { "virtio register", 1, 2, virtio_bad_width, "(Status) is not a valid access",
      "reports of invalid virtio-mmio accesses", 1, true },
    { "virtio queue", 1, 2, virtio_bad_queue, "receiveq0: cannot be enabled",
      "reports of virtio drivers breaking the rules", 1, true },
    { "virtio backend", 1, 2, virtio_backend_bad_entry, "is not a buffer the backend holds",
      "reports of a backend misbehaving", 1, true },
};

/* Each: the first burst reported, then nothing more until the next boot says how many. */
TEST(log_limit_every_guest_caused_line)
{
    for (unsigned i = 0; i < sizeof(floods) / sizeof(floods[0]); i++) {
        const struct flood *f = &floods[i];
        char summary[200];
        unsigned per_trigger = f->per_trigger;
        if (f->virtio) {
            CHECK(fx_boot_virtio(f->vcpus, f->gic == 3));
            fb_attach();
        } else
            CHECK(f->gic == 3 ? fx_boot_v3(f->vcpus) : fx_boot(f->vcpus));
        sim_reset(); /* only this flood's output */
        for (unsigned n = 0; n < FLOOD; n++)
            f->trigger();
        unsigned lines = sim_console_count(f->line);
        if (lines != LOG_LIMIT_BURST)
            printf("    %s: %u lines of \"%s\"\n", f->name, lines, f->line);
        CHECK_EQ(lines, LOG_LIMIT_BURST);
        CHECK(sim_console_count("guest stopped") <= LOG_LIMIT_BURST);
        CHECK(sim_console_lacks("suppressed"));
        CHECK(vm_boot(&fx.vm));
        snprintf(summary, sizeof(summary), "%u more %s suppressed",
                 FLOOD * per_trigger - LOG_LIMIT_BURST, f->summary);
        if (!sim_console_has(summary))
            printf("    %s: no \"%s\"\n", f->name, summary);
        CHECK(sim_console_has(summary));
        /* The new boot reports again. */
        f->trigger();
        CHECK_EQ(sim_console_count(f->line), LOG_LIMIT_BURST + per_trigger);
    }
}
