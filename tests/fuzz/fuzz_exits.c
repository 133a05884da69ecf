/*
 * libFuzzer target: a guest's worth of hostile exits against one VM. Each 24-byte record is one
 * exit (emulated MMIO read/write of any width to any distributor offset or unmapped address,
 * SMC/HVC with any function ID, virtual PPIs, maintenance for any list register, notifications,
 * the guest programming the shared physical timer, stage-1 tables for ISV=0 fetches,
 * system-register traps, unknown classes, the guest reprogramming its virtual timer and then
 * waiting in WFI or WFE). The VMM must never crash, never touch memory outside its state
 * (ASan/UBSan), never overwrite a list register that still holds an interrupt (the simulated
 * hypervisor aborts if it does), never put an interrupt that cannot be signalled (the lowest
 * priority) into a list register, and always keep the last free list register for an interrupt
 * of higher priority than every one held (checked after every exit).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <vmm/esr.h>

#include "fixture.h"
#include "sim_hyp.h"

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* The list-register rules, checked against what the simulated hypervisor was asked to do. */
static void check_injections(unsigned from)
{
    static uint8_t held_prio[VGIC_MAX_VCPUS][VGIC_MAX_LRS];
    if (from == 0)
        memset(held_prio, 0, sizeof(held_prio));
    for (unsigned i = from; i < sim.num_inj; i++) {
        const struct sim_injection *in = &sim.inj[i];
        if (in->priority >= VGIC_PRIO_NEVER_SIGNALLED)
            __builtin_trap();
        unsigned nfree = 0, held_min = 256;
        for (unsigned l = 0; l < fx.cfg.gic_num_lrs; l++) {
            bool used = sim.vcpu[in->vcpu].lr_used[l] && l != in->lr;
            nfree += !used;
            if (used && held_prio[in->vcpu][l] < held_min)
                held_min = held_prio[in->vcpu][l];
        }
        if (nfree == 1 && held_min < 256 && in->priority >= held_min)
            __builtin_trap();
        held_prio[in->vcpu][in->lr] = in->priority;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sim_reset();
    unsigned vcpus = size && (data[0] & 1) ? 2 : 1;
    bool v3 = size && (data[0] & 2);
    if (!(v3 ? fx_boot_v3(vcpus) : fx_boot(vcpus)))
        return 0;
    unsigned nvcpus = fx.cfg.num_vcpus;
    check_injections(0);
    for (size_t off = 1; off + 24 <= size; off += 24) {
        const uint8_t *r = data + off;
        unsigned op = r[0] % 10, vcpu = r[1] % nvcpus;
        unsigned injections_before = sim.num_inj;
        uint64_t a = rd64(r + 8), b = rd64(r + 16);
        struct exit_reply rep;
        struct vm_exit e = { .vcpu = vcpu, .lr_index = -1 };
        if (fx.vm.state != VM_RUNNING)
            v3 ? fx_boot_v3(nvcpus) : fx_boot(nvcpus);
        switch (op) {
        case 0: /* distributor access */
        case 1: {
            static const unsigned widths[4] = { 1, 2, 4, 8 };
            unsigned width = widths[r[2] & 3];
            uint64_t addr = FX_GICD + (a & 0x1fff);
            if (v3 && (r[5] & 1))
                addr = FX_GICR + a % (nvcpus * GICV3_REDIST_STRIDE + 0x1000);
            else if (v3)
                addr = FX_GICD + (a & 0xffff);
            sim.vcpu[vcpu].regs.x[r[3] % 31] = b;
            fx_mmio(vcpu, addr, width, op == 1, r[3] % 32, r[4] & 1, r[4] & 2, &rep);
            break;
        }
        case 2: /* raw data abort with arbitrary syndrome and address */
            if (r[4] & 1) {
                /* The guest turns its MMU on with any TCR and writes a word into its RAM, so
                 * records build stage-1 tables that an ISV=0 fetch will walk. */
                uint64_t off = (b % FX_RAM_SIZE) & ~UINT64_C(7);
                memcpy(fx.ram + off, &a, 8);
                sim.vcpu[vcpu].sctlr = 1;
                sim.vcpu[vcpu].sysreg[VCPU_TCR_EL1] = a ^ b;
                sim.vcpu[vcpu].sysreg[(r[5] & 1) ? VCPU_TTBR1_EL1 : VCPU_TTBR0_EL1] =
                    FX_RAM_BASE + (a % FX_RAM_SIZE);
                sim.vcpu[vcpu].regs.pc = (r[6] & 1) ? (b | UINT64_C(0xffff000000000000)) : b;
            }
            e.kind = EXIT_VM_FAULT;
            e.esr = (uint64_t)ESR_EC_DABT_LOW << 26 | (uint32_t)(a & 0x1ffffff);
            e.addr = (r[2] & 1) ? FX_GICD + (b & 0xfff) : b;
            e.instruction_fault = r[3] & 1;
            fx_exit(&e, &rep);
            break;
        case 3: /* SMC with any function and arguments */
            fx_smc(vcpu, (r[2] & 1) ? (0x84000000u | (a & 0xff)) : a, b, a ^ b, ~b, &rep);
            break;
        case 4: /* HVC */
            e.kind = EXIT_HVC;
            e.x[0] = (r[2] & 1) ? (0xc4000000u | (a & 0xff)) : a;
            e.x[1] = b;
            e.pc = FX_RAM_BASE;
            fx_exit(&e, &rep);
            break;
        case 5: /* virtual PPI */
            e.kind = EXIT_VPPI;
            e.irq = (r[2] & 1) ? FX_VTIMER : (uint32_t)a;
            fx_exit(&e, &rep);
            break;
        case 6: { /* the guest EOIs a list register (or the kernel reports a bogus one) */
            int lr = (r[2] & 1) ? (int)(a % 8) - 2 : (int)a;
            if (lr >= 0 && lr < VGIC_MAX_LRS)
                sim_guest_eoi(vcpu, (unsigned)lr);
            fx_maintenance(vcpu, lr);
            break;
        }
        case 7: /* passthrough interrupt, the physical timer, or a stray channel */
            if ((r[2] & 3) == 2) {
                /* The guest programs the physical timer directly; time moves on; it fires. */
                sim.ptimer_ctl = a & 3;
                sim.ptimer_cval = b;
                sim.now += r[4];
                vm_notified(&fx.vm, FX_WAKEUP_CH);
                break;
            }
            vm_notified(&fx.vm, (r[2] & 1) ? FX_UART_CH : (unsigned)(a % 64));
            break;
        case 9: /* the guest reprograms its virtual timer (no exit), time moves, then WFI/WFE */
            sim.vcpu[vcpu].cntv_ctl = a & 3;
            sim.vcpu[vcpu].cntv_cval = b;
            sim.now += r[4] * (uint64_t)r[5];
            if (r[3] & 1) {
                e.kind = EXIT_VPPI; /* the timer fired while the vCPU ran */
                e.irq = FX_VTIMER;
                fx_exit(&e, &rep);
            }
            fx_wfx(vcpu, r[2] & 1, &rep);
            break;
        default: /* any trapped instruction class; often a GICv3 SGI register write */
            if (r[3] & 1) {
                fx_msr_sgi1r(vcpu, b);
                break;
            }
            e.kind = EXIT_VCPU;
            e.esr = (uint64_t)(r[2] & 0x3f) << 26 | (uint32_t)(a & 0x1ffffff);
            fx_exit(&e, &rep);
            break;
        }
        if (sim.num_inj >= injections_before)
            check_injections(injections_before);
    }
    return 0;
}
