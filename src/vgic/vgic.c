/* The interrupt state model shared by the GICv2 and GICv3 front ends, and list-register delivery.
 */
#include <vmm/hyp.h>
#include <vmm/log.h>
#include <vmm/util.h>
#include <vmm/vgic.h>

#include "vgic_internal.h"

bool vgic_init(struct vgic *gic, unsigned version, unsigned num_irqs, unsigned num_vcpus,
               unsigned num_lrs)
{
    vmm_memset(gic, 0, sizeof(*gic));
    if (version != 2 && version != 3) {
        LOG_ERR("vgic", "GIC version %u is not supported (2 or 3)", version);
        return false;
    }
    if (num_irqs < 32 || num_irqs > VGIC_MAX_WORDS * 32) {
        LOG_ERR("vgic", "%u interrupts is out of range (32..%u)", num_irqs, VGIC_MAX_WORDS * 32);
        return false;
    }
    if (num_vcpus == 0 || num_vcpus > VGIC_MAX_VCPUS) {
        LOG_ERR("vgic", "%u vCPUs is out of range (1..%u)", num_vcpus, VGIC_MAX_VCPUS);
        return false;
    }
    if (num_lrs == 0 || num_lrs > VGIC_MAX_LRS) {
        LOG_ERR("vgic", "%u list registers is out of range (1..%u)", num_lrs, VGIC_MAX_LRS);
        return false;
    }
    gic->version = version;
    gic->num_irqs = (num_irqs + 31) & ~31u;
    if (gic->num_irqs > VGIC_MAX_IRQS)
        gic->num_irqs = VGIC_MAX_WORDS * 32; /* the last word's top 4 INTIDs are special (1020+) */
    gic->num_vcpus = num_vcpus;
    gic->num_lrs = num_lrs;
    for (unsigned v = 0; v < num_vcpus; v++) {
        /* SGIs are always edge-triggered; a GICv3 redistributor starts asleep. */
        gic->vcpu[v].priv.edge = 0xffff;
        gic->vcpu[v].asleep = version == 3;
    }
    for (unsigned irq = 32; irq < VGIC_MAX_IRQS; irq++)
        gic->targets[irq] = 1; /* reset target: vCPU 0 */
    return true;
}

static bool irq_in_range(const struct vgic *gic, unsigned vcpu, unsigned irq)
{
    return vcpu < gic->num_vcpus && irq < gic->num_irqs && irq < VGIC_MAX_IRQS;
}

struct vgic_bank *vgic_bank_of(struct vgic *gic, unsigned vcpu, unsigned word)
{
    return word == 0 ? &gic->vcpu[vcpu].priv : &gic->spi[word];
}

static struct vgic_owner *owner_of(struct vgic *gic, unsigned vcpu, unsigned irq)
{
    if (irq < VGIC_NUM_PRIVATE)
        return &gic->vcpu[vcpu].priv_owner[irq];
    return irq < VGIC_MAX_IRQS ? &gic->spi_owner[irq] : NULL;
}

bool vgic_set_owner(struct vgic *gic, unsigned vcpu, unsigned irq, vgic_ack_fn ack,
                    vgic_level_fn level, void *cookie)
{
    if (!irq_in_range(gic, vcpu, irq) || irq < VGIC_NUM_SGIS) {
        LOG_ERR("vgic", "cannot attach a device to interrupt %u on vCPU %u", irq, vcpu);
        return false;
    }
    struct vgic_owner *o = owner_of(gic, vcpu, irq);
    if (!o)
        return false;
    o->ack = ack;
    o->level = level;
    o->cookie = cookie;
    if (irq < VGIC_NUM_PRIVATE) {
        uint32_t bit = 1u << irq;
        struct vgic_vcpu *vc = &gic->vcpu[vcpu];
        vc->level_owned = level ? vc->level_owned | bit : vc->level_owned & ~bit;
    }
    return true;
}

/* Owned level lines of `vcpu` that may have dropped unseen: asserted, waiting outside the list
 * registers, and not reported during this activation. */
static uint32_t unsampled_lines(const struct vgic *gic, unsigned vcpu)
{
    const struct vgic_vcpu *vc = &gic->vcpu[vcpu];
    uint32_t fresh = vc->fresh_epoch == gic->epoch ? vc->fresh : 0;
    return vc->priv.line & vc->level_owned & ~vc->priv.edge & ~vc->priv.in_lr & ~fresh;
}

/* Sample one line; false if it dropped (then lowered, and its owner acknowledged). */
static bool sample_line(struct vgic *gic, unsigned vcpu, unsigned irq)
{
    struct vgic_vcpu *vc = &gic->vcpu[vcpu];
    struct vgic_owner *o = &vc->priv_owner[irq];
    if (o->level(vcpu, irq, o->cookie))
        return true;
    /* The source dropped its line while the vCPU ran: so does the distributor, and the owner
     * lets the source report its next assertion. */
    vc->priv.line &= ~(1u << irq);
    if (o->ack)
        o->ack(vcpu, irq, o->cookie);
    return false;
}

void vgic_resample(struct vgic *gic, unsigned vcpu)
{
    for (uint32_t bits = unsampled_lines(gic, vcpu); bits; bits &= bits - 1)
        sample_line(gic, vcpu, (unsigned)__builtin_ctz(bits));
}

/* Bitmap of vCPUs an SPI may be delivered to. */
uint32_t vgic_spi_targets(const struct vgic *gic, unsigned irq)
{
    uint32_t all = (1u << gic->num_vcpus) - 1;
    if (gic->version == 2)
        return gic->targets[irq] & all;
    uint64_t route = gic->irouter[irq];
    if (route & (UINT64_C(1) << 31))
        return all; /* 1-of-N: whichever vCPU has room takes it */
    uint64_t aff = route & UINT64_C(0xff00ffffff);
    for (unsigned v = 0; v < gic->num_vcpus; v++) {
        if (vgic_vcpu_affinity(v) == aff)
            return 1u << v;
    }
    return 0;
}

/* On the paths of every interrupt: inlined where they are used. */
#define HOT static inline __attribute__((always_inline))

HOT void deliver_new(struct vgic *gic, unsigned vcpu, unsigned irq);

static void deliver_spi_targets(struct vgic *gic, unsigned irq)
{
    uint32_t t = vgic_spi_targets(gic, irq);
    for (unsigned v = 0; v < gic->num_vcpus; v++) {
        if (t & (1u << v))
            deliver_new(gic, v, irq);
    }
}

void vgic_deliver_all(struct vgic *gic)
{
    for (unsigned v = 0; v < gic->num_vcpus; v++)
        vgic_deliver(gic, v);
}

bool vgic_assert(struct vgic *gic, unsigned vcpu, unsigned irq)
{
    if (!irq_in_range(gic, vcpu, irq))
        return false;
    if (irq < VGIC_NUM_SGIS) {
        vgic_send_sgi(gic, vcpu, irq, 1u << vcpu);
        return true;
    }
    struct vgic_bank *b = vgic_bank_of(gic, vcpu, irq / 32);
    uint32_t bit = 1u << (irq % 32);
    if (b->edge & bit)
        b->pending |= bit;
    else
        b->line |= bit;
    vgic_spi_word_live(gic, irq / 32);
    if (irq < VGIC_NUM_PRIVATE) {
        /* Just reported: its level is known until vCPUs run again. */
        struct vgic_vcpu *vc = &gic->vcpu[vcpu];
        if (vc->fresh_epoch != gic->epoch) {
            vc->fresh_epoch = gic->epoch;
            vc->fresh = 0;
        }
        vc->fresh |= bit;
        deliver_new(gic, vcpu, irq);
    } else
        deliver_spi_targets(gic, irq);
    return true;
}

bool vgic_irq_enabled(const struct vgic *gic, unsigned vcpu, unsigned irq)
{
    if (!irq_in_range(gic, vcpu, irq))
        return false;
    const struct vgic_bank *b = irq < 32 ? &gic->vcpu[vcpu].priv : &gic->spi[irq / 32];
    return (b->enabled >> (irq % 32)) & 1;
}

bool vgic_deassert(struct vgic *gic, unsigned vcpu, unsigned irq)
{
    if (!irq_in_range(gic, vcpu, irq) || irq < VGIC_NUM_SGIS)
        return false;
    vgic_bank_of(gic, vcpu, irq / 32)->line &= ~(1u << (irq % 32));
    return true;
}

void vgic_update_sgi_pending(struct vgic *gic, unsigned vcpu, unsigned sgi)
{
    struct vgic_bank *b = &gic->vcpu[vcpu].priv;
    if (gic->vcpu[vcpu].sgi_sources[sgi])
        b->pending |= 1u << sgi;
    else
        b->pending &= ~(1u << sgi);
}

void vgic_send_sgi(struct vgic *gic, unsigned src, unsigned sgi, uint32_t targets)
{
    if (sgi >= VGIC_NUM_SGIS || src >= gic->num_vcpus)
        return;
    targets &= (1u << gic->num_vcpus) - 1;
    gic->sgi_sent |= targets;
    for (unsigned v = 0; v < gic->num_vcpus; v++) {
        if (!(targets & (1u << v)))
            continue;
        gic->vcpu[v].sgi_sources[sgi] |= (uint8_t)(1u << src);
        vgic_update_sgi_pending(gic, v, sgi);
        deliver_new(gic, v, sgi);
    }
}

/* Interrupts of a bank that could be taken now, ignoring targets and list-register space. */
HOT uint32_t deliverable_bank(const struct vgic *gic, const struct vgic_bank *b)
{
    uint32_t groups = ((gic->ctlr & 1) ? ~b->group : 0) | ((gic->ctlr & 2) ? b->group : 0);
    return b->enabled & (b->pending | (b->line & ~b->edge)) & ~b->in_lr & ~b->active & groups;
}

/* Interrupts of one word that `vcpu` could take now, ignoring list-register space. */
static uint32_t deliverable(const struct vgic *gic, unsigned vcpu, unsigned word)
{
    const struct vgic_bank *b = word == 0 ? &gic->vcpu[vcpu].priv : &gic->spi[word];
    uint32_t m = deliverable_bank(gic, b);
    if (word == 0 || !m)
        return m;
    uint32_t mine = 0;
    for (uint32_t bits = m; bits; bits &= bits - 1) {
        unsigned i = (unsigned)__builtin_ctz(bits);
        if (vgic_spi_targets(gic, word * 32 + i) & (1u << vcpu))
            mine |= 1u << i;
    }
    return mine;
}

/* Whatever could go into a list register is put there as soon as it can (vgic_deliver), so only
 * list register entries can wake a vCPU: those it has not already shown it cannot take. */
bool vgic_vcpu_has_pending(const struct vgic *gic, unsigned vcpu)
{
    if (vcpu >= gic->num_vcpus)
        return false;
    const struct vgic_vcpu *vc = &gic->vcpu[vcpu];
    return (vc->lr_used & ~vc->lr_idle) != 0;
}

void vgic_vcpu_wfi(struct vgic *gic, unsigned vcpu)
{
    struct vgic_vcpu *vc = &gic->vcpu[vcpu];
    vc->lr_idle = vc->lr_used;
}

/*
 * A free list register for an interrupt of priority `prio`, or -1. seL4 offers no way to take an
 * entry back out of a list register (it refuses only to overwrite an active one, and for the
 * vCPU last run it checks a copy that may be stale), so an entry the vCPU cannot take (masked by
 * its priority mask or group enables, which the VMM cannot see) holds its register until the
 * guest takes it. The last free register is therefore kept for an interrupt of higher priority
 * than every held entry: such an interrupt would preempt them all, and can always get in.
 */
HOT int free_lr_for(const struct vgic_vcpu *vc, unsigned num_lrs, unsigned prio)
{
    uint32_t free = ~vc->lr_used & ((1u << num_lrs) - 1);
    if (!free)
        return -1;
    if (!(free & (free - 1)) && vc->lr_used) {
        /* The last free one: only for a priority higher than every held entry's. */
        unsigned held_min = 256;
        for (uint32_t used = vc->lr_used; used; used &= used - 1) {
            unsigned l = (unsigned)__builtin_ctz(used);
            if (vc->lr[l].priority < held_min)
                held_min = vc->lr[l].priority;
        }
        if (prio >= held_min)
            return -1;
    }
    return __builtin_ctz(free);
}

/*
 * The highest-priority interrupt `vcpu` could take now (*best, VGIC_MAX_IRQS if none) and how
 * many there are. Only SPI words that may hold a pending or asserted interrupt are looked at
 * (spi_live; a word found empty leaves it).
 */
static unsigned best_deliverable(struct vgic *gic, unsigned vcpu, unsigned *best,
                                 unsigned *best_prio)
{
    const struct vgic_vcpu *vc = &gic->vcpu[vcpu];
    unsigned n = 0;
    *best = VGIC_MAX_IRQS;
    *best_prio = VGIC_PRIO_NEVER_SIGNALLED;
    for (uint32_t words = gic->spi_live | 1u; words; words &= words - 1) {
        unsigned w = (unsigned)__builtin_ctz(words);
        const struct vgic_bank *b = w == 0 ? &vc->priv : &gic->spi[w];
        if (w && !(b->pending | b->line)) {
            gic->spi_live &= ~(1u << w);
            continue;
        }
        for (uint32_t m = deliverable(gic, vcpu, w); m; m &= m - 1) {
            unsigned i = (unsigned)__builtin_ctz(m);
            if (b->priority[i] >= VGIC_PRIO_NEVER_SIGNALLED)
                continue;
            n++;
            if (b->priority[i] < *best_prio) {
                *best_prio = b->priority[i];
                *best = w * 32 + i;
            }
        }
    }
    return n;
}

static __attribute__((noinline)) void report_inject_failure(struct vgic *gic, unsigned vcpu,
                                                            unsigned irq, int lr)
{
    LOG_LIMITED(&gic->log_lr, "list-register reports", LOG_ERROR, "vgic",
                "injecting interrupt %u into list register %d of vCPU %u failed", irq, lr, vcpu);
}

/* Put `irq` (deliverable, priority `prio`) into list register `lr` of `vcpu`. */
HOT bool put_in_lr(struct vgic *gic, unsigned vcpu, unsigned irq, unsigned prio, int lr)
{
    struct vgic_vcpu *vc = &gic->vcpu[vcpu];
    struct vgic_bank *b = irq < VGIC_NUM_PRIVATE ? &vc->priv : &gic->spi[irq / 32];
    uint32_t bit = 1u << (irq % 32);
    if (!hyp_inject_irq(vcpu, (uint16_t)irq, (uint8_t)prio, (b->group & bit) ? 1 : 0,
                        (uint8_t)lr)) {
        report_inject_failure(gic, vcpu, irq, lr);
        return false;
    }
    vc->lr[lr] = (struct vgic_lr_slot){ (uint16_t)irq, (uint8_t)prio };
    vc->lr_used |= 1u << lr;
    vc->lr_idle &= ~(1u << lr);
    vc->injected++;
    b->in_lr |= bit;
    if (irq < VGIC_NUM_SGIS) {
        /* One request per injection; further sources go in after this one is EOI'd. */
        uint8_t src = vc->sgi_sources[irq];
        vc->sgi_sources[irq] = (uint8_t)(src & (src - 1));
        if (!vc->sgi_sources[irq])
            b->pending &= ~bit;
    } else {
        b->pending &= ~bit;
    }
    return true;
}

void vgic_deliver(struct vgic *gic, unsigned vcpu)
{
    if (vcpu >= gic->num_vcpus)
        return;
    uint32_t me = 1u << vcpu;
    gic->kicked |= me;
    struct vgic_vcpu *vc = &gic->vcpu[vcpu];
    /* A timer line that may have dropped unseen is sampled before it could go in (rare: one
     * just reported is fresh, and a disabled one waits until the guest enables or reads it). */
    if ((unsampled_lines(gic, vcpu) & vc->priv.enabled) && free_lr_for(vc, gic->num_lrs, 0) >= 0)
        vgic_resample(gic, vcpu);
    for (;;) {
        unsigned best, best_prio;
        unsigned candidates = best_deliverable(gic, vcpu, &best, &best_prio);
        int lr = candidates ? free_lr_for(vc, gic->num_lrs, best_prio) : -1;
        if (lr < 0 || !put_in_lr(gic, vcpu, best, best_prio, lr)) {
            gic->backlog = candidates ? gic->backlog | me : gic->backlog & ~me;
            return;
        }
        if (candidates == 1) {
            gic->backlog &= ~me; /* that was the only one */
            return;
        }
    }
}

/*
 * `irq` may just have become deliverable to `vcpu` (asserted, sent, or EOI'd with its line
 * still high). Whatever could go into a list register is put there as soon as it can, so unless
 * something already waits for one (backlog), it is the only candidate: straight into a free list
 * register, without looking at the others; and if it cannot be taken, there is nothing to do.
 */
HOT void deliver_new(struct vgic *gic, unsigned vcpu, unsigned irq)
{
    uint32_t me = 1u << vcpu;
    if (vcpu >= gic->num_vcpus)
        return;
    if (gic->backlog & me) {
        vgic_deliver(gic, vcpu);
        return;
    }
    struct vgic_vcpu *vc = &gic->vcpu[vcpu];
    const struct vgic_bank *b = irq < VGIC_NUM_PRIVATE ? &vc->priv : &gic->spi[irq / 32];
    unsigned prio = b->priority[irq % 32];
    if (!((deliverable_bank(gic, b) >> (irq % 32)) & 1) || prio >= VGIC_PRIO_NEVER_SIGNALLED ||
        (irq >= VGIC_NUM_PRIVATE && !(vgic_spi_targets(gic, irq) & me)))
        return;
    int lr = free_lr_for(vc, gic->num_lrs, prio);
    if (lr < 0 || !put_in_lr(gic, vcpu, irq, prio, lr)) {
        gic->backlog |= me; /* it waits */
        return;
    }
    gic->kicked |= me;
}

void vgic_maintenance(struct vgic *gic, unsigned vcpu, int lr)
{
    if (vcpu >= gic->num_vcpus)
        return;
    struct vgic_vcpu *vc = &gic->vcpu[vcpu];
    if (lr >= 0 && (unsigned)lr < gic->num_lrs && (vc->lr_used & (1u << lr))) {
        unsigned irq = vc->lr[lr].irq;
        vc->lr_used &= ~(1u << lr);
        vc->lr_idle &= ~(1u << lr);
        vgic_bank_of(gic, vcpu, irq / 32)->in_lr &= ~(1u << (irq % 32));
        struct vgic_owner *o = owner_of(gic, vcpu, irq);
        if (o && o->ack)
            o->ack(vcpu, irq, o->cookie);
        if (irq >= VGIC_NUM_PRIVATE) {
            /* A level SPI still asserted may now go to another target as well. */
            deliver_spi_targets(gic, irq);
        }
        /* Only it (its line still high) could be new: or whatever waited for the register. */
        deliver_new(gic, vcpu, irq);
        return;
    } else if (lr >= 0) {
        LOG_LIMITED(&gic->log_lr, "list-register reports", LOG_WARN, "vgic",
                    "maintenance for list register %d of vCPU %u, which holds nothing", lr, vcpu);
    }
    vgic_deliver(gic, vcpu);
}
