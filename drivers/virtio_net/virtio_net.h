/*
 * A driver for a virtio network device on virtio-mmio (virtio 1.2, the modern interface only),
 * for the uplink PD (components/uplink): QEMU's `virtio-net-device`, which is modern only when
 * QEMU runs with `-global virtio-mmio.force-legacy=false` (the build puts that in QEMU's
 * command; a legacy device is refused with a line saying so).
 *
 * Features: VIRTIO_F_VERSION_1 (required) and VIRTIO_NET_F_MAC (taken when offered); no
 * offloads, no mergeable buffers, no control queue, so every frame is one 12-byte virtio-net
 * header (all zero on transmit) and one Ethernet frame in one buffer. Two queues of
 * VNET_QUEUE_SIZE descriptors, each descriptor for good with its own 2048-byte buffer in the DMA
 * region: receive buffers are all made available at start and again as soon as their frame is
 * taken; transmit descriptors are free until the device returns them.
 *
 * The device writes the used rings: each entry is checked (an id beyond the queue, a descriptor
 * not outstanding, a length beyond its buffer or shorter than a header and a frame) and a bad one
 * is counted and skipped (its receive buffer made available again).
 */
#ifndef DRIVERS_VIRTIO_NET_H
#define DRIVERS_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#define VNET_QUEUE_SIZE 32u
#define VNET_BUF_SIZE 2048u
#define VNET_HDR_SIZE 12u
/* The DMA region: the two queues' rings, then the receive and the transmit buffers. */
#define VNET_DMA_BYTES (0x2000u + 2u * VNET_QUEUE_SIZE * VNET_BUF_SIZE)

struct vnet_counters {
    uint64_t rx_frames, tx_frames;
    uint64_t rx_bad;   /* used receive entries that break the rules (skipped) */
    uint64_t tx_bad;   /* used transmit entries that break the rules (skipped) */
    uint64_t tx_full;  /* frames vnet_send could not queue: every descriptor in flight */
    uint64_t rx_short; /* frames longer than the caller's buffer (cut) */
};

struct vnet {
    uintptr_t regs; /* the device's registers, mapped uncached */
    uint8_t *dma;   /* the DMA region in this PD */
    uint64_t dma_paddr;
    uint8_t mac[6];
    bool has_mac; /* the device gave its MAC */
    uint16_t rx_used_seen, tx_used_seen;
    uint16_t rx_avail, tx_avail; /* the driver's next available indices */
    uint32_t rx_out;             /* bit i: receive buffer i is the device's */
    uint32_t tx_out;             /* bit i: transmit buffer i is the device's */
    bool tx_added, rx_added;     /* chains made available since the last kick */
    struct vnet_counters count;
};

_Static_assert(VNET_QUEUE_SIZE <= 32, "descriptor sets are 32-bit masks");

/* Probes and starts the device at `regs` with the DMA region `dma` (physical address `paddr`,
 * `size` bytes). NULL when it runs, else why not (the device is then marked FAILED). */
const char *vnet_start(struct vnet *n, uintptr_t regs, void *dma, uint64_t paddr, uint64_t size);
/* Copies the next received frame (without its header) into `buf` and gives the buffer back to
 * the device; returns the frame's length, 0 if none is waiting. */
uint32_t vnet_recv(struct vnet *n, uint8_t *buf, uint32_t size);
/* Queues a copy of one frame (header added); false (counted) if no descriptor is free. The
 * device is told at vnet_kick. */
bool vnet_send(struct vnet *n, const uint8_t *frame, uint32_t len);
/* Transmit descriptors free now (after taking back those the device used). */
uint32_t vnet_tx_room(struct vnet *n);
/* Notifies the device of what vnet_send and vnet_recv made available. */
void vnet_kick(struct vnet *n);
/* Reads and acknowledges the device's interrupt status; returns it. */
uint32_t vnet_irq_ack(struct vnet *n);

#endif
