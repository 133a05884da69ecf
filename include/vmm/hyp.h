/*
 * The one seam between the VMM and the hypervisor kernel.
 *
 * Everything in src/ reaches seL4 only through these functions. The target build implements them
 * in src/seL4/microkit_seam.c (the only file that includes microkit.h); the host test build
 * implements them in tests/host/sim_hyp.c with a simulated vCPU and a record of what was done.
 */
#ifndef VMM_HYP_H
#define VMM_HYP_H

#include <stdbool.h>
#include <stdint.h>

/* Guest general-purpose state, in the order seL4 transfers it (seL4_UserContext on AArch64).
 * Register invocations move a prefix of this order, so `count` below is a prefix length. */
struct vcpu_regs {
    uint64_t pc;
    uint64_t sp;
    uint64_t spsr;
    uint64_t x[31];
    uint64_t tpidr_el0;
    uint64_t tpidrro_el0;
};

#define VCPU_REGS_ALL 36u
/* Prefix length that covers x<n> (pc, sp, spsr come first). */
#define VCPU_REGS_UPTO_X(n) (3u + (unsigned)(n) + 1u)

/* Read/write the first `count` registers of a vCPU (the guest must not be running). */
bool hyp_vcpu_read_regs(unsigned vcpu, struct vcpu_regs *regs, unsigned count);
bool hyp_vcpu_write_regs(unsigned vcpu, const struct vcpu_regs *regs, unsigned count);

/* Start (or restart) a vCPU at `pc`; registers other than pc keep what was last written. */
void hyp_vcpu_start(unsigned vcpu, uint64_t pc);
/* Stop a vCPU: it does not run again until hyp_vcpu_start. */
void hyp_vcpu_stop(unsigned vcpu);

/* Reset the vCPU's EL1 system state for a fresh boot: SCTLR_EL1 = sctlr (MMU off), timer off. */
void hyp_vcpu_reset_sysregs(unsigned vcpu, uint64_t sctlr);

/* Put a virtual interrupt into list register `lr` of a vCPU. `priority` is the 8-bit GIC priority.
 */
bool hyp_inject_irq(unsigned vcpu, uint16_t irq, uint8_t priority, uint8_t group, uint8_t lr);
/* Unmask a virtual PPI (virtual timer) that the kernel masked when it reported it. */
void hyp_ack_vppi(unsigned vcpu, uint32_t irq);
/* Acknowledge a passthrough hardware IRQ delivered on a notification channel. */
void hyp_irq_ack(unsigned channel);

/* Debug console output (a no-op where the kernel has none). */
void hyp_puts(const char *s);

#endif
