/*
 * Randomised check of the vGIC against a small reference model: thousands of seeded, reproducible
 * assert/deassert/enable/disable/priority/EOI operations on SPIs, for GICv2 and GICv3. After
 * every operation:
 *   - every new injection was of an interrupt that is enabled, pending in the model and not
 *     already in a list register (nothing delivered while disabled, nothing duplicated);
 *   - while a list register is free, no interrupt is left deliverable (nothing lost or stuck);
 * and at the end, once everything is enabled and the guest has EOI'd all it was given, nothing
 * is pending that was not delivered.
 */
#include <stdio.h>
#include <string.h>
#include <vmm/vgic.h>

#include "fixture.h"
#include "sim_hyp.h"
#include "test.h"

#define FIRST 34u /* 33 is the fixture's UART */
#define COUNT 60u
#define OPS 20000u

struct model {
    unsigned char enabled, edge, latched, line, in_lr, prio, lr_prio;
};

static struct model m[FIRST + COUNT];
static unsigned seen_inj, delivered;
static uint64_t rng;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

/* The lowest priority can never be signalled, so it never goes into a list register. */
static int deliverable(unsigned irq)
{
    const struct model *s = &m[irq];
    return s->enabled && !s->in_lr && s->prio != VGIC_PRIO_NEVER_SIGNALLED &&
           (s->latched || (!s->edge && s->line));
}

/* Account for injections since the last call; returns 0 on a violation. */
static int absorb_injections(unsigned step)
{
    for (; seen_inj < sim.num_inj; seen_inj++) {
        unsigned irq = sim.inj[seen_inj].irq;
        if (irq < FIRST || irq >= FIRST + COUNT) {
            printf("    step %u: unexpected injection of %u\n", step, irq);
            return 0;
        }
        struct model *s = &m[irq];
        if (!deliverable(irq) || sim.inj[seen_inj].priority != s->prio) {
            printf(
                "    step %u: %u injected while enabled=%u in_lr=%u latched=%u line=%u prio=0x%x "
                "(injected at 0x%x)\n",
                step, irq, s->enabled, s->in_lr, s->latched, s->line, s->prio,
                sim.inj[seen_inj].priority);
            return 0;
        }
        s->in_lr = 1;
        s->lr_prio = s->prio;
        s->latched = 0;
        delivered++;
    }
    /* Start the simulator's record afresh so it never fills up. */
    sim.num_inj = 0;
    seen_inj = 0;
    return 1;
}

static int free_lrs(void)
{
    int n = 0;
    for (unsigned l = 0; l < fx.cfg.gic_num_lrs; l++)
        n += !sim.vcpu[0].lr_used[l];
    return n;
}

/* The highest priority held in a list register (lowest value), 256 if none. */
static unsigned held_min_prio(void)
{
    unsigned min = 256;
    for (unsigned irq = FIRST; irq < FIRST + COUNT; irq++) {
        if (m[irq].in_lr && m[irq].lr_prio < min)
            min = m[irq].lr_prio;
    }
    return min;
}

/* While a list register is free nothing deliverable waits, except that the last free register
 * is kept for a priority higher than every held entry. */
static int nothing_stuck(unsigned step)
{
    int nfree = free_lrs();
    if (!nfree)
        return 1;
    unsigned held_min = held_min_prio();
    for (unsigned irq = FIRST; irq < FIRST + COUNT; irq++) {
        if (nfree == 1 && held_min < 256 && m[irq].prio >= held_min)
            continue;
        if (deliverable(irq)) {
            const struct vgic_bank *b = &fx.vm.gic.spi[irq / 32];
            uint32_t bit = 1u << (irq % 32);
            printf("    step %u: %u is deliverable but not delivered with a list register free "
                   "(vGIC: enabled %d pending %d line %d edge %d in_lr %d active %d)\n",
                   step, irq, !!(b->enabled & bit), !!(b->pending & bit), !!(b->line & bit),
                   !!(b->edge & bit), !!(b->in_lr & bit), !!(b->active & bit));
            return 0;
        }
    }
    return 1;
}

static void set_enable(unsigned version, unsigned irq, int on)
{
    (void)version;
    fx_gicd_write(0, (on ? 0x100 : 0x180) + (irq / 32) * 4, 1u << (irq % 32));
}

static int guest_eoi_lr(unsigned lr)
{
    int irq = sim_guest_eoi(0, lr);
    if (irq < 0)
        return 0;
    m[irq].in_lr = 0;
    fx_maintenance(0, (int)lr);
    return 1;
}

static int run_seed(unsigned version, uint64_t seed)
{
    rng = seed;
    seen_inj = delivered = 0;
    memset(m, 0, sizeof(m));
    fx_config(1);
    fx.cfg.gic_version = version;
    fx.cfg.gicr_base = FX_GICR;
    fx.cfg.gic_num_irqs = 96;
    if (!vm_init(&fx.vm, &fx.cfg, fx.ram) || !vm_boot(&fx.vm))
        return 0;
    sim.num_inj = 0;
    fx_gicd_write(0, 0x000, version == 3 ? 0x12 : 0x1);
    if (version == 3) {
        fx_gicd_write(0, 0x084, 0xffffffff);
        fx_gicd_write(0, 0x088, 0xffffffff);
    }
    for (unsigned irq = FIRST; irq < FIRST + COUNT; irq++) {
        m[irq].edge = next() & 1;
        uint32_t icfgr = fx_gicd_read(0, 0xc00 + (irq / 16) * 4);
        icfgr = (icfgr & ~(3u << (2 * (irq % 16)))) | (m[irq].edge ? 2u : 0u) << (2 * (irq % 16));
        fx_gicd_write(0, 0xc00 + (irq / 16) * 4, icfgr);
        m[irq].prio = (unsigned char)(next() & 0xf8);
        fx_gicd_access(0, 0x400 + irq, 1, 1, m[irq].prio);
        if (version == 3)
            fx_gicd_access(0, 0x6000 + 8 * irq, 8, 1, 0);
    }
    for (unsigned step = 0; step < OPS; step++) {
        unsigned irq = FIRST + next() % COUNT;
        switch (next() % 8) {
        case 0:
        case 1:
            if (m[irq].edge)
                m[irq].latched = 1;
            else
                m[irq].line = 1;
            vgic_assert(&fx.vm.gic, 0, irq);
            break;
        case 2:
            m[irq].line = 0;
            vgic_deassert(&fx.vm.gic, 0, irq);
            break;
        case 3:
            m[irq].enabled = 1;
            set_enable(version, irq, 1);
            break;
        case 4:
            m[irq].enabled = 0;
            set_enable(version, irq, 0);
            break;
        case 5:
            m[irq].prio = (unsigned char)(next() & 0xf8);
            fx_gicd_access(0, 0x400 + irq, 1, 1, m[irq].prio);
            break;
        default: guest_eoi_lr(next() % fx.cfg.gic_num_lrs); break;
        }
        if (!absorb_injections(step) || !nothing_stuck(step))
            return 0;
    }
    /* Drain: everything enabled at a priority that can be signalled, lines dropped after
     * delivery, EOI until quiet. */
    for (unsigned irq = FIRST; irq < FIRST + COUNT; irq++) {
        m[irq].prio = 0x80;
        fx_gicd_access(0, 0x400 + irq, 1, 1, 0x80);
        if (!absorb_injections(OPS))
            return 0;
        m[irq].enabled = 1;
        set_enable(version, irq, 1);
        if (!absorb_injections(OPS))
            return 0;
    }
    for (unsigned round = 0; round < 4 * COUNT; round++) {
        for (unsigned irq = FIRST; irq < FIRST + COUNT; irq++) {
            m[irq].line = 0;
            vgic_deassert(&fx.vm.gic, 0, irq);
        }
        for (unsigned l = 0; l < fx.cfg.gic_num_lrs; l++)
            guest_eoi_lr(l);
        if (!absorb_injections(OPS + round) || !nothing_stuck(OPS + round))
            return 0;
    }
    for (unsigned irq = FIRST; irq < FIRST + COUNT; irq++) {
        if (m[irq].latched || m[irq].in_lr) {
            printf("    %u still pending after the drain\n", irq);
            return 0;
        }
    }
    return delivered > OPS / 20; /* the run really delivered interrupts */
}

TEST(vgic_random_against_model_v2)
{
    for (uint64_t seed = 1; seed <= 4; seed++) {
        if (!run_seed(2, seed * 0x9e3779b97f4a7c15ull)) {
            printf("    GICv2 seed %llu failed\n", (unsigned long long)seed);
            CHECK(0);
        }
    }
}

TEST(vgic_random_against_model_v3)
{
    for (uint64_t seed = 1; seed <= 4; seed++) {
        if (!run_seed(3, seed * 0xbf58476d1ce4e5b9ull)) {
            printf("    GICv3 seed %llu failed\n", (unsigned long long)seed);
            CHECK(0);
        }
    }
}
