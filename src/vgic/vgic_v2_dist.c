/* GICv2 distributor emulation on top of the shared interrupt model. */
#include <vmm/log.h>
#include <vmm/vgic.h>

#include "vgic_internal.h"

enum {
    GICD_CTLR = 0x000,
    GICD_TYPER = 0x004,
    GICD_IIDR = 0x008,
    GICD_IGROUPR = VGIC_IGROUPR,
    GICD_IPRIORITYR = VGIC_IPRIORITYR,
    GICD_ITARGETSR = 0x800,
    GICD_ICFGR = VGIC_ICFGR,
    GICD_SGIR = 0xf00,
    GICD_CPENDSGIR = 0xf10,
    GICD_SPENDSGIR = 0xf20,
    GICD_PIDR4 = 0xfd0,
    GICD_ID_END = 0x1000,
};

/* Implementer ARM (0x43b), GICv2 architecture, revision 0. */
#define VGIC_V2_IIDR 0x0200043bu

static const uint8_t id_regs[12] = {
    0x04, 0x00, 0x00, 0x00, /* PIDR4..PIDR7 */
    0x90, 0xb4, 0x2b, 0x00, /* PIDR0..PIDR3: ArchRev 2 */
    0x0d, 0xf0, 0x05, 0xb1, /* CIDR0..CIDR3 */
};

static uint32_t vcpu_mask(const struct vgic *gic)
{
    return (1u << gic->num_vcpus) - 1;
}

/* Byte-accessible registers: priority, targets, SGI pending sources. */
static bool is_byte_reg(uint64_t off)
{
    return (off >= GICD_IPRIORITYR && off < GICD_ICFGR) ||
           (off >= GICD_CPENDSGIR && off < GICD_SPENDSGIR + 16);
}

static uint8_t read_byte(struct vgic *gic, unsigned vcpu, uint64_t off)
{
    if (off >= GICD_CPENDSGIR) {
        unsigned sgi = (unsigned)(off - GICD_CPENDSGIR) % 16;
        return gic->vcpu[vcpu].sgi_sources[sgi];
    }
    unsigned irq = (unsigned)(off & 0x3ff);
    if (irq >= gic->num_irqs)
        return 0;
    if (off < GICD_ITARGETSR)
        return vgic_read_priority(gic, vcpu, irq);
    if (irq < VGIC_NUM_PRIVATE)
        return (uint8_t)(1u << vcpu);
    return (uint8_t)vgic_spi_targets(gic, irq);
}

static void write_byte(struct vgic *gic, unsigned vcpu, uint64_t off, uint8_t val)
{
    if (off >= GICD_CPENDSGIR) {
        unsigned sgi = (unsigned)(off - GICD_CPENDSGIR) % 16;
        uint8_t *src = &gic->vcpu[vcpu].sgi_sources[sgi];
        if (off >= GICD_SPENDSGIR)
            *src |= (uint8_t)(val & vcpu_mask(gic));
        else
            *src &= (uint8_t)~val;
        vgic_update_sgi_pending(gic, vcpu, sgi);
        vgic_deliver(gic, vcpu);
        return;
    }
    unsigned irq = (unsigned)(off & 0x3ff);
    if (irq >= gic->num_irqs)
        return;
    if (off < GICD_ITARGETSR) {
        vgic_write_priority(gic, vcpu, irq, val);
    } else if (irq >= VGIC_NUM_PRIVATE) {
        gic->targets[irq] = (uint8_t)(val & vcpu_mask(gic));
        vgic_deliver_all(gic);
    }
}

static void write_sgir(struct vgic *gic, unsigned vcpu, uint32_t val)
{
    unsigned sgi = val & 0xf;
    uint32_t targets;
    switch ((val >> 24) & 3) {
    case 0: targets = (val >> 16) & 0xff; break;
    case 1: targets = vcpu_mask(gic) & ~(1u << vcpu); break;
    case 2: targets = 1u << vcpu; break;
    default: return; /* reserved filter: ignored */
    }
    vgic_send_sgi(gic, vcpu, sgi, targets);
}

static uint32_t read_word(struct vgic *gic, unsigned vcpu, uint64_t off)
{
    unsigned words = gic->num_irqs / 32;
    if (off == GICD_CTLR)
        return gic->ctlr;
    if (off == GICD_TYPER)
        return (words - 1) | (gic->num_vcpus - 1) << 5;
    if (off == GICD_IIDR)
        return VGIC_V2_IIDR;
    if (off >= GICD_IGROUPR && off < GICD_IPRIORITYR) {
        unsigned word = (unsigned)(off & 0x7f) / 4;
        return word < words ? vgic_read_bits(gic, vcpu, (unsigned)(off & ~0x7fu), word) : 0;
    }
    if (off >= GICD_ICFGR && off < GICD_ICFGR + 0x100) {
        unsigned index = (unsigned)(off - GICD_ICFGR) / 4;
        return index / 2 < words ? vgic_read_icfgr(gic, vcpu, index) : 0;
    }
    if (off >= GICD_PIDR4 && off < GICD_ID_END)
        return id_regs[(off - GICD_PIDR4) / 4];
    return 0; /* reserved, implementation defined, SGIR (write-only) */
}

static void write_word(struct vgic *gic, unsigned vcpu, uint64_t off, uint32_t val)
{
    unsigned words = gic->num_irqs / 32;
    if (off == GICD_CTLR) {
        gic->ctlr = val & 3;
        vgic_deliver_all(gic);
    } else if (off >= GICD_IGROUPR && off < GICD_IPRIORITYR) {
        unsigned word = (unsigned)(off & 0x7f) / 4;
        if (word < words)
            vgic_write_bits(gic, vcpu, (unsigned)(off & ~0x7fu), word, val);
    } else if (off >= GICD_ICFGR && off < GICD_ICFGR + 0x100) {
        unsigned index = (unsigned)(off - GICD_ICFGR) / 4;
        if (index / 2 < words)
            vgic_write_icfgr(gic, vcpu, index, val);
    } else if (off == GICD_SGIR) {
        write_sgir(gic, vcpu, val);
    }
}

/* Aligned words anywhere; bytes and halfwords only where byte access is allowed. The word case,
 * nearly every access, is tested first. */
static bool access_ok(uint64_t off, unsigned width)
{
    if (off >= GICV2_DIST_SIZE || (off & (width - 1)))
        return false;
    return width == 4 || ((width == 1 || width == 2) && is_byte_reg(off));
}

uint64_t vgic_v2_dist_read(struct vgic *gic, unsigned vcpu, uint64_t offset, unsigned width)
{
    if (vcpu >= gic->num_vcpus || !access_ok(offset, width)) {
        LOG_LIMITED(&gic->log_access, VGIC_BAD_ACCESSES, LOG_WARN, "vgic",
                    "vCPU %u: %u-byte read of distributor offset 0x%llx is not a valid access; "
                    "reads as zero",
                    vcpu, width, (unsigned long long)offset);
        return 0;
    }
    if (!is_byte_reg(offset))
        return read_word(gic, vcpu, offset);
    uint64_t v = 0;
    for (unsigned i = 0; i < width; i++)
        v |= (uint64_t)read_byte(gic, vcpu, offset + i) << (8 * i);
    return v;
}

void vgic_v2_dist_write(struct vgic *gic, unsigned vcpu, uint64_t offset, unsigned width,
                        uint64_t value)
{
    if (vcpu >= gic->num_vcpus || !access_ok(offset, width)) {
        LOG_LIMITED(&gic->log_access, VGIC_BAD_ACCESSES, LOG_WARN, "vgic",
                    "vCPU %u: %u-byte write of 0x%llx to distributor offset 0x%llx is not a valid "
                    "access; ignored",
                    vcpu, width, (unsigned long long)value, (unsigned long long)offset);
        return;
    }
    if (!is_byte_reg(offset)) {
        write_word(gic, vcpu, offset, (uint32_t)value);
        return;
    }
    for (unsigned i = 0; i < width; i++)
        write_byte(gic, vcpu, offset + i, (uint8_t)(value >> (8 * i)));
}
