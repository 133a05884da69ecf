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
#define SIM_COUNTER_FREQ 62500000u /* QEMU virt's, unless a test sets sim.counter_freq */
#define SIM_CONSOLE_SIZE 65536

struct sim_injection {
    unsigned vcpu;
    uint16_t irq;
    uint8_t priority, group, lr;
};

struct sim_vcpu {
    struct vcpu_regs regs;
    bool running;
    unsigned starts, stops;
    unsigned resumes; /* hyp_vcpu_resume: restarted with its registers as they were */
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
    uint64_t now;          /* physical counter */
    uint64_t counter_freq; /* 0: SIM_COUNTER_FREQ */
    /* The core's EL1 physical timer, which the VMM and the guest both program directly. */
    uint64_t ptimer_ctl, ptimer_cval;
    uint64_t wakeup_deadline; /* when the physical timer will fire; 0 = disabled or masked */
    unsigned wakeup_arms;
    /* The newest console output (last in the struct: sim_reset clears only its length). When it
     * fills, the oldest lines go and console_lost counts their bytes. */
    unsigned console_len;
    unsigned long console_lost;
    char console[SIM_CONSOLE_SIZE];
};

extern struct sim_state sim;

void sim_reset(void);
/* True if the console output kept so far contains `needle`. */
bool sim_console_has(const char *needle);
/* True if `needle` was never printed. Output lost to a full buffer could have held it: then this
 * says so loudly and is false, so an absence check cannot pass without looking. Use this, never
 * sim_console_lacks(), to check that something was not printed. */
bool sim_console_lacks(const char *needle);
/* How many times `needle` was printed; if output was lost, says so and returns SIM_LOST (more
 * than any bound a test checks), so a count cannot come out low by losing lines. */
#define SIM_LOST 0x7fffffffu
unsigned sim_console_count(const char *needle);
/* The guest acknowledges and EOIs list register `lr` of `vcpu`: frees it, returns its interrupt
 * (or -1 if it was empty). The caller then reports the maintenance exit to the VMM. */
int sim_guest_eoi(unsigned vcpu, unsigned lr);
/* True if the physical timer's interrupt line is asserted now. */
bool sim_ptimer_firing(void);
/* Number of injections of `irq` into `vcpu` recorded so far. */
unsigned sim_injections_of(unsigned vcpu, unsigned irq);

#endif
