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

/* Guest general-purpose state. */
struct vcpu_regs {
    uint64_t pc;
    uint64_t sp;
    uint64_t spsr;
    uint64_t x[31];
    uint64_t tpidr_el0;
    uint64_t tpidrro_el0;
};

#define VCPU_REGS_ALL 36u

/*
 * The kernel moves registers in its own order (seL4_UserContext on AArch64): pc, sp, spsr,
 * x0-x8, x16-x18, x29, x30, x9-x15, x19-x28, tpidr_el0, tpidrro_el0. A read or write of `count`
 * registers moves the first `count` of that order, so reaching x20 means moving 33 of them
 * while x3 needs only 7.
 */
static inline unsigned vcpu_reg_transfer_pos(unsigned x)
{
    if (x <= 8)
        return 3 + x;
    if (x <= 15)
        return 17 + (x - 9);
    if (x <= 18)
        return 12 + (x - 16);
    if (x <= 28)
        return 24 + (x - 19);
    return 15 + (x - 29); /* x29, x30 */
}

/* Number of registers to transfer so that x<n> is included. */
static inline unsigned vcpu_regs_upto_x(unsigned x)
{
    return vcpu_reg_transfer_pos(x) + 1;
}

/* Index into struct vcpu_regs (viewed as 36 words) of the register at transfer position `pos`. */
static inline unsigned vcpu_reg_slot(unsigned pos)
{
    static const unsigned char slot[VCPU_REGS_ALL] = {
        0,  1,  2,                              /* pc sp spsr */
        3,  4,  5,  6,  7,  8,  9,  10, 11,     /* x0-x8 */
        19, 20, 21, 32, 33,                     /* x16-x18, x29, x30 */
        12, 13, 14, 15, 16, 17, 18,             /* x9-x15 */
        22, 23, 24, 25, 26, 27, 28, 29, 30, 31, /* x19-x28 */
        34, 35,                                 /* tpidr_el0, tpidrro_el0 */
    };
    return slot[pos];
}

#define VCPU_REGS_UPTO_X(n) vcpu_regs_upto_x(n)

/* Read/write the first `count` registers of a vCPU (the guest must not be running). */
bool hyp_vcpu_read_regs(unsigned vcpu, struct vcpu_regs *regs, unsigned count);
bool hyp_vcpu_write_regs(unsigned vcpu, const struct vcpu_regs *regs, unsigned count);

/* Start (or restart) a vCPU at `pc`; registers other than pc keep what was last written. */
void hyp_vcpu_start(unsigned vcpu, uint64_t pc);
/* Stop a vCPU: it does not run again until hyp_vcpu_start or hyp_vcpu_resume. */
void hyp_vcpu_stop(unsigned vcpu);
/* The same for a vCPU whose fault the VMM leaves unanswered (a WFI that sleeps), possibly
 * without a kernel call. */
void hyp_vcpu_park(unsigned vcpu);
/* Restart a vCPU stopped right after one of its exits where that exit would have resumed it,
 * its registers as they are (as the fault's reply would have, without new registers). */
void hyp_vcpu_resume(unsigned vcpu);

/* Reset the vCPU's EL1 system state for a fresh boot: SCTLR_EL1 = sctlr (MMU off), virtual timer
 * off, and the MPIDR the guest reads (VMPIDR_EL2) = mpidr. */
void hyp_vcpu_reset_sysregs(unsigned vcpu, uint64_t sctlr, uint64_t mpidr);

/* Put a virtual interrupt into list register `lr` of a vCPU. `priority` is the 8-bit GIC priority.
 */
bool hyp_inject_irq(unsigned vcpu, uint16_t irq, uint8_t priority, uint8_t group, uint8_t lr);
/* Unmask a virtual PPI (virtual timer) that the kernel masked when it reported it. */
void hyp_ack_vppi(unsigned vcpu, uint32_t irq);
/* Acknowledge a passthrough hardware IRQ delivered on a notification channel. */
void hyp_irq_ack(unsigned channel);
/* The same while handling a notification (vm_notified): the acknowledgement may wait until the
 * protection domain next waits for events, and ride on that system call. */
void hyp_irq_ack_on_wait(unsigned channel);
/* Notify the protection domain at the other end of a channel (a backend). */
void hyp_notify(unsigned channel);

/* EL1 system registers of a vCPU the VMM reads or writes (the kernel keeps them while the vCPU
 * is not running). */
enum vcpu_sysreg {
    VCPU_CNTV_CTL,
    VCPU_CNTV_CVAL,
    VCPU_CNTVOFF,
    VCPU_VBAR_EL1,
    VCPU_ESR_EL1,
    VCPU_FAR_EL1,
    VCPU_ELR_EL1,
    VCPU_SPSR_EL1,
    VCPU_SCTLR_EL1,
    VCPU_TTBR0_EL1,
    VCPU_TTBR1_EL1,
    VCPU_TCR_EL1,
    VCPU_SP_EL1,
    VCPU_SYSREG_COUNT,
};
uint64_t hyp_vcpu_read_sysreg(unsigned vcpu, enum vcpu_sysreg reg);
void hyp_vcpu_write_sysreg(unsigned vcpu, enum vcpu_sysreg reg, uint64_t value);

/* The physical counter, and its frequency in Hz. */
uint64_t hyp_counter_now(void);
uint64_t hyp_counter_freq(void);

/*
 * The EL1 physical timer of this core (CNTP_CTL_EL0, CNTP_CVAL_EL0), raising its PPI on the
 * configured wake-up channel. seL4 lets both the VMM and the guest program it directly, so
 * src/core/ptimer.c decides who holds it; these only move the values.
 */
#define PTIMER_CTL_ENABLE 1u
#define PTIMER_CTL_IMASK 2u
#define PTIMER_CTL_ISTATUS 4u
void hyp_ptimer_read(uint64_t *ctl, uint64_t *cval);
void hyp_ptimer_write(uint64_t ctl, uint64_t cval);

/* Debug console output (a no-op where the kernel has none). */
void hyp_puts(const char *s);

#endif
