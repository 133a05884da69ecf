/*
 * The uplink's configuration: its port of the virtual switch and the NIC it drives. The build
 * tool writes it as a C file defining
 *
 *     const struct uplink_config uplink_config = { ... };
 *
 * from the switch's <uplink/> in the system file and the board's device tree (the virtio-mmio
 * slot QEMU puts the first `-device` in: the highest). The DMA region's physical address is not
 * known until the Microkit tool places it: the tool writes it into `uplink_dma_paddr` (a
 * <setvar region_paddr="..."/> the build adds).
 */
#ifndef UPLINK_CONFIG_H
#define UPLINK_CONFIG_H

#include <proto/conn.h>
#include <stdint.h>

struct uplink_config {
    const char *switch_name;
    struct conn_config net; /* its port of the switch: it is the client */
    uintptr_t regs;         /* the NIC's virtio-mmio registers, mapped uncached */
    uint64_t regs_phys;     /* for its lines */
    unsigned irq_channel;   /* the NIC's interrupt */
    uintptr_t dma;          /* the DMA region, mapped uncached */
    uint64_t dma_size;
};

extern const struct uplink_config uplink_config;
extern uint64_t uplink_dma_paddr;

#endif
