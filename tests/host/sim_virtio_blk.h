/* A model of a virtio block device on virtio-mmio (modern interface, one request queue), for
 * host tests of drivers/virtio_blk and the block server. Physical addresses are host pointers.
 * It checks what the driver does (register order, descriptor chains) and counts every rule the
 * driver breaks in `violations` (the first one described in `why`); requests are carried out on
 * `disk` when the driver notifies, or when the test says so (`deferred`). */
#ifndef SIM_VIRTIO_BLK_H
#define SIM_VIRTIO_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim_vblk {
    _Alignas(4096) uint8_t window[0x200]; /* the register block's address (never written) */
    uint32_t version, device_id;
    uint64_t offered;
    uint32_t status, dev_sel, drv_sel;
    uint64_t accepted;
    uint32_t queue_sel, num_max, num;
    bool ready;
    uint64_t desc, driver, device;
    uint16_t last_avail, used_idx;
    uint32_t isr;
    uint64_t capacity;
    uint32_t size_max, seg_max, blk_size;
    uint8_t *disk; /* capacity * 512 bytes */
    bool deferred; /* requests wait for sim_vblk_process */
    /* What happened */
    unsigned notifies, requests, reads, writes, flushes, get_ids, unsupported;
    unsigned max_segs_seen;
    unsigned fail_next;    /* that many next requests answer IOERR */
    bool bad_used_next;    /* the next completion names a descriptor that is no head */
    bool skip_status_next; /* the next completion leaves its status byte alone */
    unsigned violations;
    char why[200];
    /* When set, asked about every data buffer before the device touches it (`sector`: the
     * request's); false counts a violation and the request fails untouched. */
    bool (*dma_check)(void *ctx, uint32_t type, uint64_t sector, uint64_t paddr, uint32_t len);
    void *dma_ctx;
};

/* Version 2, device ID 2, VERSION_1 | SEG_MAX | BLK_SIZE | FLUSH offered, QueueNumMax 1024,
 * seg_max 1022 (QEMU's with queue-size=1024), on a zeroed disk of `sectors`. Mapped through sim_pd
 * (call sim_pd_reset first). */
void sim_vblk_init(struct sim_vblk *s, uint64_t sectors);
uintptr_t sim_vblk_base(struct sim_vblk *s);
/* Carries out every request the driver made available; true if any was. */
bool sim_vblk_process(struct sim_vblk *s);
/* The device's interrupt line (InterruptStatus != 0). */
bool sim_vblk_irq(const struct sim_vblk *s);

#endif
