/*
 * Device register access for the drivers components use (drivers/<device>/).
 *
 * On target these are single 32-bit volatile accesses to the device's mapping (uncached, so
 * device memory: ordered with respect to each other). They go through the component seam rather
 * than being inline so that host tests (tests/host/sim_pd.c) can route the accesses that fall
 * inside a simulated device to a model of it: a read of a data register pops a FIFO, a flag
 * register follows the FIFOs' levels, as on hardware, which plain memory cannot do.
 */
#ifndef PD_MMIO_H
#define PD_MMIO_H

#include <stdint.h>

uint32_t pd_mmio_read32(uintptr_t addr);
void pd_mmio_write32(uintptr_t addr, uint32_t value);
/* Orders this PD's accesses to memory a device reads or writes by DMA against each other and
 * against register accesses (a barrier for the whole system, not only for other cores). */
void pd_dma_fence(void);

#endif
