/* Helpers shared by the vGIC model and its distributor/redistributor front ends. */
#ifndef VGIC_INTERNAL_H
#define VGIC_INTERNAL_H

#include <vmm/vgic.h>

/* Offsets of the one-bit-per-interrupt registers, the same in GICD, and GICR's SGI frame. */
enum vgic_bit_reg {
    VGIC_IGROUPR = 0x080,
    VGIC_ISENABLER = 0x100,
    VGIC_ICENABLER = 0x180,
    VGIC_ISPENDR = 0x200,
    VGIC_ICPENDR = 0x280,
    VGIC_ISACTIVER = 0x300,
    VGIC_ICACTIVER = 0x380,
    VGIC_IPRIORITYR = 0x400,
    VGIC_ICFGR = 0xc00,
};

struct vgic_bank *vgic_bank_of(struct vgic *gic, unsigned vcpu, unsigned word);

/* SPI word `word` may now hold a pending or asserted interrupt: vgic_deliver looks at it. */
static inline void vgic_spi_word_live(struct vgic *gic, unsigned word)
{
    if (word && word < gic->num_irqs / 32)
        gic->spi_live |= 1u << word;
}
uint32_t vgic_spi_targets(const struct vgic *gic, unsigned irq);
void vgic_update_sgi_pending(struct vgic *gic, unsigned vcpu, unsigned sgi);
void vgic_deliver_all(struct vgic *gic);
/* Invalid guest accesses are reported through gic->log_access (rate-limited, see log.h). */
#define VGIC_BAD_ACCESSES "reports of invalid distributor/redistributor accesses"

uint32_t vgic_read_bits(struct vgic *gic, unsigned vcpu, unsigned reg, unsigned word);
void vgic_write_bits(struct vgic *gic, unsigned vcpu, unsigned reg, unsigned word, uint32_t val);
uint32_t vgic_read_icfgr(struct vgic *gic, unsigned vcpu, unsigned index);
void vgic_write_icfgr(struct vgic *gic, unsigned vcpu, unsigned index, uint32_t val);
uint8_t vgic_read_priority(struct vgic *gic, unsigned vcpu, unsigned irq);
void vgic_write_priority(struct vgic *gic, unsigned vcpu, unsigned irq, uint8_t val);

#endif
