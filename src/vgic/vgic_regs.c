/* Register views shared by the GICv2 distributor, the GICv3 distributor and redistributors:
 * one-bit-per-interrupt registers, ICFGR and IPRIORITYR. */
#include "vgic_internal.h"

/* Only 5 priority bits are implemented, as on GIC-400 and the Cortex-A GICv3 CPU interfaces. */
#define VGIC_PRIO_MASK 0xf8u

static uint32_t *bit_field(struct vgic_bank *b, unsigned reg)
{
    switch (reg) {
    case VGIC_IGROUPR: return &b->group;
    case VGIC_ISENABLER:
    case VGIC_ICENABLER: return &b->enabled;
    case VGIC_ISPENDR:
    case VGIC_ICPENDR: return &b->pending;
    default: return &b->active;
    }
}

uint32_t vgic_read_bits(struct vgic *gic, unsigned vcpu, unsigned reg, unsigned word)
{
    struct vgic_bank *b = vgic_bank_of(gic, vcpu, word);
    if (word == 0)
        vgic_resample(gic, vcpu); /* the guest observes its timers' lines */
    switch (reg) {
    case VGIC_ISPENDR:
    case VGIC_ICPENDR: return b->pending | (b->line & ~b->edge);
    case VGIC_ISACTIVER:
    case VGIC_ICACTIVER: return b->active | b->in_lr;
    default: return *bit_field(b, reg);
    }
}

void vgic_write_bits(struct vgic *gic, unsigned vcpu, unsigned reg, unsigned word, uint32_t val)
{
    struct vgic_bank *b = vgic_bank_of(gic, vcpu, word);
    if (word == 0)
        vgic_resample(gic, vcpu);
    if (word == VGIC_MAX_WORDS - 1)
        val &= 0x0fffffffu; /* INTIDs 1020..1023 are special and never pending */
    if (word == 0 && (reg == VGIC_ISPENDR || reg == VGIC_ICPENDR)) {
        uint32_t sgis = val & 0xffffu;
        val &= 0xffff0000u;
        /* GICv2 sets SGI pending state through S/CPENDSGIR; GICv3 here, per SGI. */
        if (gic->version == 3) {
            for (unsigned sgi = 0; sgi < VGIC_NUM_SGIS; sgi++) {
                if (!(sgis & (1u << sgi)))
                    continue;
                gic->vcpu[vcpu].sgi_sources[sgi] = reg == VGIC_ISPENDR ? (uint8_t)(1u << vcpu) : 0;
                vgic_update_sgi_pending(gic, vcpu, sgi);
            }
        }
    }
    switch (reg) {
    case VGIC_IGROUPR: b->group = val; break;
    case VGIC_ISENABLER: b->enabled |= val; break;
    case VGIC_ICENABLER: b->enabled &= ~val; break;
    case VGIC_ISPENDR:
        b->pending |= val;
        vgic_spi_word_live(gic, word);
        break;
    case VGIC_ICPENDR: b->pending &= ~val; break;
    case VGIC_ISACTIVER: b->active |= val; break;
    case VGIC_ICACTIVER: b->active &= ~val; break;
    default: return;
    }
    if (word == 0)
        vgic_deliver(gic, vcpu);
    else
        vgic_deliver_all(gic);
}

uint32_t vgic_read_icfgr(struct vgic *gic, unsigned vcpu, unsigned index)
{
    uint32_t edge = vgic_bank_of(gic, vcpu, index / 2)->edge >> ((index % 2) * 16);
    uint32_t v = 0;
    for (unsigned i = 0; i < 16; i++) {
        if (edge & (1u << i))
            v |= 2u << (2 * i);
    }
    return v;
}

void vgic_write_icfgr(struct vgic *gic, unsigned vcpu, unsigned index, uint32_t val)
{
    if (index == 0)
        return; /* SGIs are edge-triggered, read-only */
    struct vgic_bank *b = vgic_bank_of(gic, vcpu, index / 2);
    unsigned shift = (index % 2) * 16;
    uint32_t edge = 0;
    for (unsigned i = 0; i < 16; i++) {
        if (val & (2u << (2 * i)))
            edge |= 1u << i;
    }
    b->edge = (b->edge & ~(0xffffu << shift)) | edge << shift;
    /* A level interrupt whose line is high is pending: one that was edge-triggered may now go
     * in. */
    if (index / 2 == 0)
        vgic_deliver(gic, vcpu);
    else
        vgic_deliver_all(gic);
}

uint8_t vgic_read_priority(struct vgic *gic, unsigned vcpu, unsigned irq)
{
    if (irq >= gic->num_irqs || irq >= VGIC_MAX_IRQS)
        return 0;
    return vgic_bank_of(gic, vcpu, irq / 32)->priority[irq % 32];
}

void vgic_write_priority(struct vgic *gic, unsigned vcpu, unsigned irq, uint8_t val)
{
    if (irq >= gic->num_irqs || irq >= VGIC_MAX_IRQS)
        return;
    uint8_t *p = &vgic_bank_of(gic, vcpu, irq / 32)->priority[irq % 32];
    if (*p == (val & VGIC_PRIO_MASK))
        return;
    *p = val & VGIC_PRIO_MASK;
    /* A new priority takes effect on an interrupt still waiting: it may now go in (or, raised
     * from the lowest, become deliverable at all). One already in a list register keeps the
     * priority it was injected with: seL4 cannot rewrite an entry the guest may have taken. */
    if (irq < VGIC_NUM_PRIVATE)
        vgic_deliver(gic, vcpu);
    else
        vgic_deliver_all(gic);
}
