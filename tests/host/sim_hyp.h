/* The simulated hypervisor behind include/vmm/hyp.h for host tests: vCPU registers, list
 * registers, and a record of every injection, acknowledgement and console line. */
#ifndef SIM_HYP_H
#define SIM_HYP_H

#include <stdbool.h>
#include <stdint.h>
#include <vmm/hyp.h>
#include <vmm/vgic.h>

#define SIM_MAX_INJECTIONS 4096
#define SIM_MAX_CHANNELS 64
#define SIM_COUNTER_HZ 62500000u /* as on QEMU virt */

struct sim_injection {
    unsigned vcpu;
    uint16_t irq;
    uint8_t priority, group, lr;
};

struct sim_vcpu {
    struct vcpu_regs regs;
    bool running;
    unsigned starts, stops;
    uint64_t start_pc;
    uint64_t sctlr;
    uint64_t mpidr;
    bool lr_used[VGIC_MAX_LRS];
    uint16_t lr_irq[VGIC_MAX_LRS];
    unsigned vppi_acks;
    unsigned reg_reads, reg_writes;
    unsigned last_read_count, last_write_count;
    uint64_t cntv_ctl, cntv_cval, cntvoff;
    uint64_t sysreg[VCPU_SYSREG_COUNT];
};

struct sim_state {
    struct sim_vcpu vcpu[VGIC_MAX_VCPUS];
    struct sim_injection inj[SIM_MAX_INJECTIONS];
    unsigned num_inj;
    unsigned irq_acks[SIM_MAX_CHANNELS];
    unsigned notifies[SIM_MAX_CHANNELS]; /* hyp_notify, per channel */
    bool fail_inject;
    uint64_t now; /* physical counter */
    /* The core's EL1 physical timer, which the VMM and the guest both program directly. */
    uint64_t ptimer_ctl, ptimer_cval;
    uint64_t wakeup_deadline; /* when the physical timer will fire; 0 = disabled or masked */
    unsigned wakeup_arms;
    char console[16384];
    unsigned console_len;
};

extern struct sim_state sim;

void sim_reset(void);
/* True if the console output so far contains `needle`. */
bool sim_console_has(const char *needle);
/* The guest acknowledges and EOIs list register `lr` of `vcpu`: frees it, returns its interrupt
 * (or -1 if it was empty). The caller then reports the maintenance exit to the VMM. */
int sim_guest_eoi(unsigned vcpu, unsigned lr);
/* True if the physical timer's interrupt line is asserted now. */
bool sim_ptimer_firing(void);
/* Number of injections of `irq` into `vcpu` recorded so far. */
unsigned sim_injections_of(unsigned vcpu, unsigned irq);

#endif
