/* Host implementation of the hypervisor seam (see sim_hyp.h). */
#include "sim_hyp.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sim_state sim;

void sim_reset(void)
{
    memset(&sim, 0, offsetof(struct sim_state, console_len));
    sim.console_len = 0;
    sim.console_lost = 0;
    sim.console[0] = '\0';
}

/* The register at transfer position i, in the kernel's order (see hyp.h): moving a prefix of
 * `count` registers here moves exactly what seL4 would, so a handler asking for too few misses
 * its register in the tests as it would on the target. */
static uint64_t *reg_slot(struct vcpu_regs *r, unsigned i)
{
    return (uint64_t *)r + vcpu_reg_slot(i);
}

bool hyp_vcpu_read_regs(unsigned vcpu, struct vcpu_regs *regs, unsigned count)
{
    if (vcpu >= VGIC_MAX_VCPUS || count > VCPU_REGS_ALL)
        return false;
    struct sim_vcpu *v = &sim.vcpu[vcpu];
    memset(regs, 0xa5, sizeof(*regs)); /* registers not asked for hold junk */
    for (unsigned i = 0; i < count; i++)
        *reg_slot(regs, i) = *reg_slot(&v->regs, i);
    v->reg_reads++;
    v->last_read_count = count;
    return true;
}

bool hyp_vcpu_write_regs(unsigned vcpu, const struct vcpu_regs *regs, unsigned count)
{
    if (vcpu >= VGIC_MAX_VCPUS || count > VCPU_REGS_ALL)
        return false;
    struct sim_vcpu *v = &sim.vcpu[vcpu];
    for (unsigned i = 0; i < count; i++)
        *reg_slot(&v->regs, i) = *reg_slot((struct vcpu_regs *)regs, i);
    v->reg_writes++;
    v->last_write_count = count;
    return true;
}

void hyp_vcpu_start(unsigned vcpu, uint64_t pc)
{
    struct sim_vcpu *v = &sim.vcpu[vcpu];
    v->regs.pc = pc;
    v->start_pc = pc;
    v->running = true;
    v->starts++;
}

void hyp_vcpu_stop(unsigned vcpu)
{
    sim.vcpu[vcpu].running = false;
    sim.vcpu[vcpu].stops++;
}

void hyp_vcpu_park(unsigned vcpu)
{
    hyp_vcpu_stop(vcpu);
}

void hyp_vcpu_resume(unsigned vcpu)
{
    struct sim_vcpu *v = &sim.vcpu[vcpu];
    v->running = true;
    v->resumes++;
}

void hyp_vcpu_reset_sysregs(unsigned vcpu, uint64_t sctlr, uint64_t mpidr)
{
    struct sim_vcpu *v = &sim.vcpu[vcpu];
    v->sctlr = sctlr;
    v->mpidr = mpidr;
    /* As in seL4, the list registers keep what they held: only the guest can empty them. */
}

bool hyp_inject_irq(unsigned vcpu, uint16_t irq, uint8_t priority, uint8_t group, uint8_t lr)
{
    if (sim.fail_inject || vcpu >= VGIC_MAX_VCPUS || lr >= VGIC_MAX_LRS)
        return false;
    struct sim_vcpu *v = &sim.vcpu[vcpu];
    if (v->lr_used[lr]) {
        fprintf(stderr, "sim: vCPU %u list register %u overwritten while holding %u\n", vcpu, lr,
                v->lr_irq[lr]);
        abort();
    }
    v->lr_used[lr] = true;
    v->lr_irq[lr] = irq;
    if (sim.num_inj < SIM_MAX_INJECTIONS)
        sim.inj[sim.num_inj++] = (struct sim_injection){ vcpu, irq, priority, group, lr };
    return true;
}

void hyp_ack_vppi(unsigned vcpu, uint32_t irq)
{
    (void)irq;
    sim.vcpu[vcpu].vppi_acks++;
}

void hyp_irq_ack(unsigned channel)
{
    if (channel < SIM_MAX_CHANNELS)
        sim.irq_acks[channel]++;
}

void hyp_irq_ack_on_wait(unsigned channel)
{
    hyp_irq_ack(channel); /* the simulator has no event loop: at once */
}

void hyp_notify(unsigned channel)
{
    if (channel < SIM_MAX_CHANNELS)
        sim.notifies[channel]++;
}

uint64_t hyp_vcpu_read_sysreg(unsigned vcpu, enum vcpu_sysreg reg)
{
    struct sim_vcpu *v = &sim.vcpu[vcpu];
    switch (reg) {
    case VCPU_CNTV_CTL: return v->cntv_ctl;
    case VCPU_CNTV_CVAL: return v->cntv_cval;
    case VCPU_CNTVOFF: return v->cntvoff;
    case VCPU_SCTLR_EL1: return v->sctlr;
    default: return v->sysreg[reg];
    }
}

void hyp_vcpu_write_sysreg(unsigned vcpu, enum vcpu_sysreg reg, uint64_t value)
{
    sim.vcpu[vcpu].sysreg[reg] = value;
}

uint64_t hyp_counter_now(void)
{
    return sim.now;
}

uint64_t hyp_counter_freq(void)
{
    return sim.counter_freq ? sim.counter_freq : SIM_COUNTER_FREQ;
}

void hyp_ptimer_read(uint64_t *ctl, uint64_t *cval)
{
    *ctl = sim.ptimer_ctl & (PTIMER_CTL_ENABLE | PTIMER_CTL_IMASK);
    if ((*ctl & PTIMER_CTL_ENABLE) && sim.ptimer_cval <= sim.now)
        *ctl |= PTIMER_CTL_ISTATUS;
    *cval = sim.ptimer_cval;
}

void hyp_ptimer_write(uint64_t ctl, uint64_t cval)
{
    sim.ptimer_ctl = ctl & (PTIMER_CTL_ENABLE | PTIMER_CTL_IMASK);
    sim.ptimer_cval = cval;
    sim.wakeup_deadline = (ctl & 3) == PTIMER_CTL_ENABLE ? cval : 0;
    sim.wakeup_arms++;
}

bool sim_ptimer_firing(void)
{
    return (sim.ptimer_ctl & 3) == PTIMER_CTL_ENABLE && sim.ptimer_cval <= sim.now;
}

/* Make room for `n` more bytes by dropping the oldest whole lines (at least half the buffer). */
static void console_make_room(size_t n)
{
    if (sim.console_len + n < sizeof(sim.console))
        return;
    size_t drop = sim.console_len;
    if (n < sizeof(sim.console) / 2) {
        const char *cut = strchr(sim.console + sim.console_len / 2, '\n');
        drop = cut ? (size_t)(cut + 1 - sim.console) : sim.console_len;
    }
    memmove(sim.console, sim.console + drop, sim.console_len - drop + 1);
    sim.console_len -= (unsigned)drop;
    sim.console_lost += drop;
}

void hyp_puts(const char *s)
{
    size_t n = strlen(s);
    if (getenv("SIM_VERBOSE"))
        fputs(s, stderr);
    if (n >= sizeof(sim.console)) { /* keep its end */
        sim.console_lost += sim.console_len + (n - (sizeof(sim.console) - 1));
        s += n - (sizeof(sim.console) - 1);
        n = sizeof(sim.console) - 1;
        sim.console_len = 0;
    }
    console_make_room(n);
    memcpy(sim.console + sim.console_len, s, n);
    sim.console_len += (unsigned)n;
    sim.console[sim.console_len] = '\0';
}

bool sim_console_has(const char *needle)
{
    return strstr(sim.console, needle) != NULL;
}

unsigned sim_console_count(const char *needle)
{
    if (sim.console_lost) {
        printf("    sim: %lu bytes of console output were lost: cannot count \"%s\"\n",
               sim.console_lost, needle);
        return SIM_LOST;
    }
    unsigned n = 0;
    for (const char *p = strstr(sim.console, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

bool sim_console_lacks(const char *needle)
{
    if (sim_console_has(needle))
        return false;
    if (sim.console_lost) {
        printf("    sim: %lu bytes of console output were lost: cannot tell that \"%s\" was "
               "never printed\n",
               sim.console_lost, needle);
        return false;
    }
    return true;
}

int sim_guest_eoi(unsigned vcpu, unsigned lr)
{
    struct sim_vcpu *v = &sim.vcpu[vcpu];
    if (lr >= VGIC_MAX_LRS || !v->lr_used[lr])
        return -1;
    v->lr_used[lr] = false;
    return v->lr_irq[lr];
}

unsigned sim_injections_of(unsigned vcpu, unsigned irq)
{
    unsigned n = 0;
    for (unsigned i = 0; i < sim.num_inj; i++) {
        if (sim.inj[i].vcpu == vcpu && sim.inj[i].irq == irq)
            n++;
    }
    return n;
}
