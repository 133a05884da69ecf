/*
 * Instructions per vGIC operation on the host build, for callgrind: `vgic_cost OP N` runs N
 * operations of one kind after a fixed setup. bench/vgic_cost.sh runs it for two N and divides
 * the difference, so setup cost cancels out.
 *
 * Operations go through the same path as on the target (exit decode, dispatch, emulation,
 * register write-back), with the simulated hypervisor standing in for seL4.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmm/vgic.h>

#include "fixture.h"
#include "sim_hyp.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr,
                "usage: %s "
                "emul_read|emul_write|dist_read|dist_write|v3_dist_read|deliver|sgi|hvc|smc N\n",
                argv[0]);
        return 2;
    }
    const char *op = argv[1];
    unsigned long n = strtoul(argv[2], NULL, 0);
    int v3 = strncmp(op, "v3_", 3) == 0 || strcmp(op, "sgi") == 0;
    if (!(v3 ? fx_boot_v3(2) : fx_boot(1)))
        return 1;
    fx_gicd_write(0, 0x000, v3 ? 0x12 : 0x1);
    fx_gicd_write(0, 0x104, 1u << 1); /* UART interrupt enabled */
    if (v3) {
        fx_gicr_access(1, 0x20000 + 0x10080, 4, 1, 0xffffffff);
        fx_gicr_access(1, 0x20000 + 0x10100, 4, 1, 0xffff);
    }
    static const char *const names[] = { "emul_read",  "emul_write",   "dist_read",
                                         "dist_write", "v3_dist_read", "deliver",
                                         "sgi",        "hvc",          "smc" };
    unsigned kind = 0;
    while (kind < sizeof(names) / sizeof(names[0]) && strcmp(op, names[kind]) != 0)
        kind++;
    struct exit_reply r;
    for (unsigned long i = 0; i < n; i++) {
        switch (kind) {
        case 0: {
            volatile uint64_t v = vgic_v2_dist_read(&fx.vm.gic, 0, 0x104, 4);
            (void)v;
            break;
        }
        case 1: vgic_v2_dist_write(&fx.vm.gic, 0, 0x104, 4, 1u << 2); break;
        case 2:
        case 4: fx_mmio(0, FX_GICD + 0x104, 4, 0, 3, 0, 0, &r); break;
        case 3:
            sim.vcpu[0].regs.x[3] = 1u << 2;
            fx_mmio(0, FX_GICD + 0x104, 4, 1, 3, 0, 0, &r);
            break;
        case 5:
            vm_notified(&fx.vm, FX_UART_CH);  /* IRQ -> list register */
            fx_guest_handles(0, FX_UART_IRQ); /* EOI -> maintenance -> ack */
            break;
        case 6:
            fx_msr_sgi1r(0, 3ull << 24 | 0x2); /* SGI 3 to vCPU 1 */
            fx_guest_handles(1, 3);
            break;
        case 7: {
            struct vm_exit e = { .kind = EXIT_HVC, .vcpu = 0, .pc = 0x40001000 };
            e.x[0] = 0x84000000u; /* PSCI_VERSION */
            fx_exit(&e, &r);
            break;
        }
        case 8: fx_smc(0, 0x84000000u, 0, 0, 0, &r); break;
        default: fprintf(stderr, "unknown operation %s\n", op); return 2;
        }
        sim.num_inj = 0;
    }
    return fx.vm.state == VM_RUNNING ? 0 : 1;
}
