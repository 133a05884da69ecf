/* Guest reset (PSCI SYSTEM_RESET): drain every vCPU's list registers, then boot again from the
 * pristine images. */
#ifndef VMM_RESET_H
#define VMM_RESET_H

#include <stdbool.h>
#include <stdint.h>

struct vm;

/* The SMC function ID (vendor-specific hypervisor range) the drain stub signals completion
 * with; the VMM honours it only from a vCPU it is draining. */
#define VMM_FID_GIC_DRAINED 0xc6000d1au

extern const uint32_t gic_drain_stub_v2[], gic_drain_stub_v3[];
extern const unsigned gic_drain_stub_v2_words, gic_drain_stub_v3_words;

/* Start a reset: vCPUs with interrupts left in list registers run the drain stub first. */
void vm_reset(struct vm *vm);
/* `vcpu` made the drain stub's SMC (VMM_FID_GIC_DRAINED): true if it was draining, and that is
 * now handled (the last one to finish boots the VM). */
bool vm_reset_drained(struct vm *vm, unsigned vcpu);
/* A backend answered: a reset waiting for the DMA of requests at it boots once none is left. */
void vm_reset_dma_check(struct vm *vm);

#endif
