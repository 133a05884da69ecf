/* A model of QEMU's virtio-net-device on virtio-mmio (the modern interface, or the legacy one)
 * for host tests of drivers/virtio_net: registers through the simulated component seam, queues
 * in the driver's DMA region (physical addresses are host addresses here), frames the driver
 * sends recorded, frames for it delivered into its receive buffers; and ways to misbehave. */
#ifndef SIM_VNET_DEV_H
#define SIM_VNET_DEV_H

#include <stdbool.h>
#include <stdint.h>

#define SVD_FRAMES 64

struct svd_queue {
    uint32_t num, ready;
    uint64_t desc, avail, used;
    uint16_t last_avail, used_idx;
};

struct sim_vnet_dev {
    uint32_t version; /* 2 (modern) or 1 (legacy) */
    uint32_t device_id;
    uint64_t features;
    uint8_t mac[6];
    uint32_t status, isr, queue_sel, dev_sel, drv_sel;
    uint64_t driver_features;
    struct svd_queue q[2];
    /* Frames the driver sent, without their header; and the headers, all zero if sane. */
    uint8_t sent[SVD_FRAMES][2048];
    uint32_t sent_len[SVD_FRAMES];
    unsigned num_sent;
    bool nonzero_header;
    unsigned notifies[2];
};

/* A modern network device with VERSION_1 and MAC at `base`. */
void svd_init(struct sim_vnet_dev *d, uintptr_t base);
/* Delivers a frame into the driver's next receive buffer and raises the interrupt; false if it
 * has none (or it is too small). */
bool svd_deliver(struct sim_vnet_dev *d, const uint8_t *frame, uint32_t len);
/* Puts a used entry of any value into queue q's used ring (a misbehaving device). */
void svd_push_used(struct sim_vnet_dev *d, unsigned q, uint32_t id, uint32_t len);

#endif
