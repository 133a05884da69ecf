/*
 * Replays of the distributor/redistributor accesses a real Linux 6.1 guest made while booting
 * under this VMM (captured with `make TRACE_MMIO=1`, GICv2 and GICv3). Every recorded read of a
 * configuration register must read back the same; nothing may be reported as invalid; and at
 * the end the interrupts Linux uses (virtual timer, UART) are enabled and configured.
 */
#include <stdio.h>
#include <string.h>
#include <vmm/vgic.h>

#include "fixture.h"
#include "sim_hyp.h"
#include "test.h"

/* Pending and active state depends on when interrupts fired in the real run: not compared. */
static int is_state_register(unsigned off)
{
    unsigned in_frame = off % 0x10000;
    return in_frame >= 0x200 && in_frame < 0x400;
}

/* The VM of the captured runs: the QEMU board's 96 interrupts. */
static int boot_like_capture(unsigned version)
{
    fx_config(1);
    fx.cfg.gic_num_irqs = 96;
    fx.cfg.gic_version = version;
    fx.cfg.gicr_base = FX_GICR;
    return vm_init(&fx.vm, &fx.cfg, fx.ram) && vm_boot(&fx.vm);
}

static int replay(const char *path, unsigned version, unsigned *accesses)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("    cannot open %s (run the tests from the repository root)\n", path);
        return 0;
    }
    char line[256];
    int ok = 1;
    *accesses = 0;
    while (fgets(line, sizeof(line), f)) {
        char frame[32], rw;
        unsigned vcpu, width;
        unsigned long long off, val;
        /* "GICv3 redistributors vcpu=0 R off=0x8 w=8 val=0x10 esr=..." */
        if (sscanf(line, "GICv%*u %31s vcpu=%u %c off=%llx w=%u val=%llx", frame, &vcpu, &rw, &off,
                   &width, &val) != 6)
            continue;
        int redist = strcmp(frame, "redistributors") == 0;
        (*accesses)++;
        uint64_t got;
        if (redist)
            got = fx_gicr_access(vcpu, (uint32_t)off, width, rw == 'W', val);
        else
            got = fx_gicd_access(vcpu, (uint32_t)off, width, rw == 'W', val);
        if (rw == 'R' && !is_state_register((unsigned)off) && got != val) {
            printf("    %s: GICv%u %s read of 0x%llx gave 0x%llx, Linux saw 0x%llx\n", path,
                   version, frame, off, (unsigned long long)got, val);
            ok = 0;
        }
    }
    fclose(f);
    return ok;
}

TEST(replay_linux_gicv2_boot)
{
    unsigned n;
    CHECK(boot_like_capture(2));
    CHECK(replay("tests/host/data/linux-6.1-gicv2-boot.trace", 2, &n));
    CHECK(n > 50);
    CHECK(sim_console_lacks("warning"));
    CHECK(sim_console_lacks("error"));
    CHECK_EQ(fx_gicd_read(0, 0x000) & 1, 1);
    CHECK_EQ(fx_gicd_read(0, 0x100) & (1u << FX_VTIMER), 1u << FX_VTIMER);
    CHECK_EQ(fx_gicd_read(0, 0x104) & (1u << (FX_UART_IRQ - 32)), 1u << (FX_UART_IRQ - 32));
    CHECK_EQ(fx_gicd_access(0, 0x800 + FX_UART_IRQ, 1, 0, 0), 1);
    /* The guest can take the UART interrupt and the timer afterwards. */
    vm_notified(&fx.vm, FX_UART_CH);
    CHECK_EQ(sim_injections_of(0, FX_UART_IRQ), 1);
    struct exit_reply r;
    struct vm_exit e = { .kind = EXIT_VPPI, .vcpu = 0, .irq = FX_VTIMER };
    fx_exit(&e, &r);
    CHECK_EQ(sim_injections_of(0, FX_VTIMER), 1);
}

TEST(replay_linux_gicv3_boot)
{
    unsigned n;
    CHECK(boot_like_capture(3));
    CHECK(replay("tests/host/data/linux-6.1-gicv3-boot.trace", 3, &n));
    CHECK(n > 100);
    CHECK(sim_console_lacks("warning"));
    CHECK(sim_console_lacks("error"));
    CHECK_EQ(fx_gicd_read(0, 0x000) & 0x12, 0x12); /* ARE, group 1 enabled */
    CHECK_EQ(fx_gicr_access(0, 0x14, 4, 0, 0), 0); /* awake */
    CHECK_EQ(fx_gicr_access(0, 0x10100, 4, 0, 0) & (1u << FX_VTIMER), 1u << FX_VTIMER);
    CHECK_EQ(fx_gicd_read(0, 0x104) & (1u << (FX_UART_IRQ - 32)), 1u << (FX_UART_IRQ - 32));
    vm_notified(&fx.vm, FX_UART_CH);
    CHECK_EQ(sim_injections_of(0, FX_UART_IRQ), 1);
    CHECK_EQ(sim.inj[sim.num_inj - 1].group, 1);
}
