/* Helpers shared by the vGIC model and its distributor front ends. */
#ifndef VGIC_INTERNAL_H
#define VGIC_INTERNAL_H

#include <vmm/vgic.h>

struct vgic_bank *vgic_bank_of(struct vgic *gic, unsigned vcpu, unsigned word);
uint32_t vgic_spi_targets(const struct vgic *gic, unsigned irq);
void vgic_update_sgi_pending(struct vgic *gic, unsigned vcpu, unsigned sgi);
void vgic_deliver_all(struct vgic *gic);

#endif
