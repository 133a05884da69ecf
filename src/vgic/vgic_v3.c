/* GICv3 distributor and redistributors (affinity routing always on, one security state),
 * and SGIs generated through the trapped ICC_SGI1R_EL1. No LPIs/ITS. */
#include <vmm/log.h>
#include <vmm/vgic.h>

#include "vgic_internal.h"

enum {
    GICD_CTLR = 0x0000,
    GICD_TYPER = 0x0004,
    GICD_IIDR = 0x0008,
    GICD_TYPER2 = 0x000c,
    GICD_IGRPMODR = 0x0d00,
    GICD_IROUTER = 0x6000, /* IROUTER<n> at 0x6000 + 8n; n < 32 reserved */
    GICD_IROUTER_END = 0x7fe0,
    GIC_PIDR2 = 0xffe8,

    GICR_CTLR = 0x0000,
    GICR_IIDR = 0x0004,
    GICR_TYPER = 0x0008,
    GICR_WAKER = 0x0014,
    GICR_SGI_BASE = 0x10000,
    GICR_ICFGR1 = 0x0c04,
};

#define CTLR_ENABLE_GRP0 (1u << 0)
#define CTLR_ENABLE_GRP1 (1u << 1)
#define CTLR_ARE (1u << 4)
#define CTLR_DS (1u << 6)
#define WAKER_PROCESSOR_SLEEP (1u << 1)
#define WAKER_CHILDREN_ASLEEP (1u << 2)
#define TYPER_IDBITS_10 (9u << 19)
#define GICR_TYPER_LAST (1u << 4)
/* Implementer ARM (0x43b), product 0, GICv3. */
#define VGIC_V3_IIDR 0x0300043bu
#define VGIC_V3_PIDR2 0x3bu

static uint32_t vcpu_mask(const struct vgic *gic)
{
    return (1u << gic->num_vcpus) - 1;
}

static bool width_ok(uint64_t off, unsigned width, bool allow64)
{
    if (width != 1 && width != 2 && width != 4 && !(width == 8 && allow64))
        return false;
    return (off & (width - 1)) == 0;
}

static void bad_access(struct vgic *gic, const char *frame, unsigned vcpu, bool write, uint64_t off,
                       unsigned width)
{
    LOG_LIMITED(&gic->log_access, VGIC_BAD_ACCESSES, LOG_WARN, "vgic",
                "vCPU %u: %u-byte %s of %s offset 0x%llx is not a valid access; %s", vcpu, width,
                write ? "write" : "read", frame, (unsigned long long)off,
                write ? "ignored" : "reads as zero");
}

/* IPRIORITYR bytes; `first_irq` is the interrupt of byte 0 of the frame's priority block. */
static uint64_t read_priorities(struct vgic *gic, unsigned vcpu, unsigned irq, unsigned width)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < width; i++)
        v |= (uint64_t)vgic_read_priority(gic, vcpu, irq + i) << (8 * i);
    return v;
}

static void write_priorities(struct vgic *gic, unsigned vcpu, unsigned irq, unsigned width,
                             uint64_t value)
{
    for (unsigned i = 0; i < width; i++)
        vgic_write_priority(gic, vcpu, irq + i, (uint8_t)(value >> (8 * i)));
}

/* ---- distributor ---------------------------------------------------------------------------- */

/* IROUTER takes 8-byte accesses, IPRIORITYR byte accesses, everything else 4-byte ones. */
static bool dist_access_ok(struct vgic *gic, unsigned vcpu, uint64_t off, unsigned width,
                           bool write, bool *is_router, bool *is_prio)
{
    *is_router = off >= GICD_IROUTER && off < GICD_IROUTER_END;
    *is_prio = off >= VGIC_IPRIORITYR && off < 0x800;
    if (vcpu >= gic->num_vcpus || off >= GICV3_DIST_SIZE || !width_ok(off, width, *is_router) ||
        (width < 4 && !*is_prio)) {
        bad_access(gic, "distributor", vcpu, write, off, width);
        return false;
    }
    return true;
}

uint64_t vgic_v3_dist_read(struct vgic *gic, unsigned vcpu, uint64_t off, unsigned width)
{
    unsigned words = gic->num_irqs / 32;
    bool is_router, is_prio;
    if (!dist_access_ok(gic, vcpu, off, width, false, &is_router, &is_prio))
        return 0;
    if (is_prio) {
        unsigned irq = (unsigned)(off - VGIC_IPRIORITYR);
        return irq < VGIC_NUM_PRIVATE ? 0 : read_priorities(gic, vcpu, irq, width);
    }
    if (is_router) {
        unsigned irq = (unsigned)(off - GICD_IROUTER) / 8;
        if (irq < VGIC_NUM_PRIVATE || irq >= gic->num_irqs || irq >= VGIC_MAX_IRQS)
            return 0;
        uint64_t route = gic->irouter[irq];
        return (off & 4) ? route >> 32 : (width == 8 ? route : (uint32_t)route);
    }
    switch (off) {
    case GICD_CTLR: return gic->ctlr | CTLR_ARE | CTLR_DS;
    case GICD_TYPER: return (words - 1) | ((gic->num_vcpus - 1) & 7) << 5 | TYPER_IDBITS_10;
    case GICD_IIDR: return VGIC_V3_IIDR;
    case GIC_PIDR2: return VGIC_V3_PIDR2;
    default: break;
    }
    if (off >= VGIC_IGROUPR && off < VGIC_IPRIORITYR) {
        unsigned word = (unsigned)(off & 0x7f) / 4;
        /* With affinity routing, SGIs and PPIs live in the redistributors. */
        if (word == 0 || word >= words)
            return 0;
        return vgic_read_bits(gic, vcpu, (unsigned)(off & ~0x7fu), word);
    }
    if (off >= VGIC_ICFGR && off < VGIC_ICFGR + 0x100) {
        unsigned index = (unsigned)(off - VGIC_ICFGR) / 4;
        return index < 2 || index / 2 >= words ? 0 : vgic_read_icfgr(gic, vcpu, index);
    }
    return 0; /* TYPER2, STATUSR, IGRPMODR, NSACR, ITARGETSR, SGIR and reserved: RAZ */
}

void vgic_v3_dist_write(struct vgic *gic, unsigned vcpu, uint64_t off, unsigned width,
                        uint64_t value)
{
    unsigned words = gic->num_irqs / 32;
    bool is_router, is_prio;
    if (!dist_access_ok(gic, vcpu, off, width, true, &is_router, &is_prio))
        return;
    if (is_prio) {
        unsigned irq = (unsigned)(off - VGIC_IPRIORITYR);
        if (irq >= VGIC_NUM_PRIVATE)
            write_priorities(gic, vcpu, irq, width, value);
        return;
    }
    if (is_router) {
        unsigned irq = (unsigned)(off - GICD_IROUTER) / 8;
        if (irq < VGIC_NUM_PRIVATE || irq >= gic->num_irqs || irq >= VGIC_MAX_IRQS)
            return;
        uint64_t route = gic->irouter[irq];
        if (width == 8)
            route = value;
        else if (off & 4)
            route = (route & 0xffffffffu) | (value & 0xffffffffu) << 32;
        else
            route = (route & ~UINT64_C(0xffffffff)) | (value & 0xffffffffu);
        /* Aff3, IRM, Aff2..Aff0 are the only fields. */
        gic->irouter[irq] = route & UINT64_C(0xff80ffffff);
        vgic_deliver_all(gic);
        return;
    }
    if (off == GICD_CTLR) {
        gic->ctlr = (uint32_t)value & (CTLR_ENABLE_GRP0 | CTLR_ENABLE_GRP1);
        vgic_deliver_all(gic);
    } else if (off >= VGIC_IGROUPR && off < VGIC_IPRIORITYR) {
        unsigned word = (unsigned)(off & 0x7f) / 4;
        if (word != 0 && word < words)
            vgic_write_bits(gic, vcpu, (unsigned)(off & ~0x7fu), word, (uint32_t)value);
    } else if (off >= VGIC_ICFGR && off < VGIC_ICFGR + 0x100) {
        unsigned index = (unsigned)(off - VGIC_ICFGR) / 4;
        if (index >= 2 && index / 2 < words)
            vgic_write_icfgr(gic, vcpu, index, (uint32_t)value);
    }
}

/* ---- redistributors ------------------------------------------------------------------------- */

static uint64_t rd_typer(const struct vgic *gic, unsigned target)
{
    uint64_t v = vgic_vcpu_affinity(target) << 32 | (uint64_t)target << 8;
    if (target == gic->num_vcpus - 1)
        v |= GICR_TYPER_LAST;
    return v;
}

static uint64_t rd_base_read(struct vgic *gic, unsigned target, uint64_t off, unsigned width)
{
    switch (off & ~UINT64_C(7)) {
    case GICR_TYPER: {
        uint64_t t = rd_typer(gic, target);
        return (off & 4) ? t >> 32 : (width == 8 ? t : (uint32_t)t);
    }
    default: break;
    }
    switch (off) {
    case GICR_IIDR: return VGIC_V3_IIDR;
    case GICR_WAKER:
        return gic->vcpu[target].asleep ? WAKER_PROCESSOR_SLEEP | WAKER_CHILDREN_ASLEEP : 0;
    case GIC_PIDR2: return VGIC_V3_PIDR2;
    default: return 0; /* CTLR (no LPIs), STATUSR, PROPBASER, PENDBASER, reserved */
    }
}

static uint64_t sgi_base_read(struct vgic *gic, unsigned target, uint64_t off, unsigned width)
{
    if (off >= VGIC_IPRIORITYR && off < VGIC_IPRIORITYR + 32)
        return read_priorities(gic, target, (unsigned)(off - VGIC_IPRIORITYR), width);
    if (width != 4)
        return 0;
    if (off >= VGIC_IGROUPR && off < VGIC_IPRIORITYR && (off & 0x7f) == 0)
        return vgic_read_bits(gic, target, (unsigned)off, 0);
    if (off == VGIC_ICFGR || off == GICR_ICFGR1)
        return vgic_read_icfgr(gic, target, (unsigned)(off - VGIC_ICFGR) / 4);
    return 0; /* IGRPMODR0, NSACR, reserved */
}

static void sgi_base_write(struct vgic *gic, unsigned target, uint64_t off, unsigned width,
                           uint64_t value)
{
    if (off >= VGIC_IPRIORITYR && off < VGIC_IPRIORITYR + 32) {
        write_priorities(gic, target, (unsigned)(off - VGIC_IPRIORITYR), width, value);
        return;
    }
    if (width != 4)
        return;
    if (off >= VGIC_IGROUPR && off < VGIC_IPRIORITYR && (off & 0x7f) == 0)
        vgic_write_bits(gic, target, (unsigned)off, 0, (uint32_t)value);
    else if (off == GICR_ICFGR1)
        vgic_write_icfgr(gic, target, 1, (uint32_t)value);
}

static bool redist_decode(struct vgic *gic, unsigned vcpu, uint64_t off, unsigned width, bool write,
                          unsigned *target, uint64_t *frame_off)
{
    uint64_t frame = off / GICV3_REDIST_STRIDE;
    *frame_off = off % GICV3_REDIST_STRIDE;
    bool is_typer = *frame_off >= GICR_TYPER && *frame_off < GICR_TYPER + 8;
    bool is_prio = *frame_off >= GICR_SGI_BASE + VGIC_IPRIORITYR &&
                   *frame_off < GICR_SGI_BASE + VGIC_IPRIORITYR + 32;
    if (vcpu >= gic->num_vcpus || frame >= gic->num_vcpus || !width_ok(off, width, is_typer) ||
        (width < 4 && !is_prio)) {
        bad_access(gic, "redistributor", vcpu, write, off, width);
        return false;
    }
    *target = (unsigned)frame;
    return true;
}

uint64_t vgic_v3_redist_read(struct vgic *gic, unsigned vcpu, uint64_t off, unsigned width)
{
    unsigned target;
    uint64_t fo;
    if (!redist_decode(gic, vcpu, off, width, false, &target, &fo))
        return 0;
    if (fo < GICR_SGI_BASE)
        return rd_base_read(gic, target, fo, width);
    return sgi_base_read(gic, target, fo - GICR_SGI_BASE, width);
}

void vgic_v3_redist_write(struct vgic *gic, unsigned vcpu, uint64_t off, unsigned width,
                          uint64_t value)
{
    unsigned target;
    uint64_t fo;
    if (!redist_decode(gic, vcpu, off, width, true, &target, &fo))
        return;
    if (fo == GICR_WAKER) {
        gic->vcpu[target].asleep = (value & WAKER_PROCESSOR_SLEEP) != 0;
        return;
    }
    if (fo >= GICR_SGI_BASE)
        sgi_base_write(gic, target, fo - GICR_SGI_BASE, width, value);
    /* RD_base: CTLR (EnableLPIs stays 0), PROPBASER, PENDBASER: writes ignored. */
}

/* ---- SGIs ------------------------------------------------------------------------------------ */

void vgic_v3_write_sgir(struct vgic *gic, unsigned vcpu, uint64_t value)
{
    unsigned sgi = (unsigned)(value >> 24) & 0xf;
    uint32_t targets = 0;
    if (vcpu >= gic->num_vcpus)
        return;
    if (value & (UINT64_C(1) << 40)) {
        targets = vcpu_mask(gic) & ~(1u << vcpu); /* IRM: every PE but the sender */
    } else {
        uint64_t aff321 = ((value >> 48) & 0xff) << 32 | ((value >> 32) & 0xff) << 16 |
                          ((value >> 16) & 0xff) << 8;
        unsigned rs = (unsigned)(value >> 44) & 0xf;
        for (unsigned bit = 0; bit < 16; bit++) {
            if (!(value & (1u << bit)))
                continue;
            uint64_t aff = aff321 | (uint64_t)(rs * 16 + bit);
            for (unsigned v = 0; v < gic->num_vcpus; v++) {
                if (vgic_vcpu_affinity(v) == aff)
                    targets |= 1u << v;
            }
        }
    }
    vgic_send_sgi(gic, vcpu, sgi, targets);
}
