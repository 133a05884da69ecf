/*
 * A driver for a virtio block device on virtio-mmio (virtio 1.2, 5.2; modern interface), as
 * QEMU's `virtio-blk-device` is. One request queue; each request is a chain of a 16-byte
 * header, the data buffers (physical addresses, split at the device's SIZE_MAX) and a status
 * byte, the header and status in the driver's own DMA region. FLUSH is sent to the device
 * (VIRTIO_BLK_T_FLUSH) when it offers VIRTIO_BLK_F_FLUSH; without it the device has no write
 * cache to flush and a flush completes at once.
 *
 * Nothing the device reports is taken on trust: a used entry naming no request is counted and
 * skipped, a status byte the device did not write (or one outside 0-2) counts as an I/O error.
 */
#ifndef DRIVERS_VIRTIO_BLK_H
#define DRIVERS_VIRTIO_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <virtio_mmio/virtio_mmio.h>

#define VBLK_DEVICE_ID 2u

/* Request types and status values (virtio 1.2, 5.2.6) */
#define VBLK_T_IN 0u
#define VBLK_T_OUT 1u
#define VBLK_T_FLUSH 4u
#define VBLK_T_GET_ID 8u
#define VBLK_S_OK 0u
#define VBLK_S_IOERR 1u
#define VBLK_S_UNSUPP 2u

/* Feature bits */
#define VBLK_F_SIZE_MAX 1
#define VBLK_F_SEG_MAX 2
#define VBLK_F_RO 5
#define VBLK_F_BLK_SIZE 6
#define VBLK_F_FLUSH 9

/* Configuration space offsets */
#define VBLK_CFG_CAPACITY 0x00
#define VBLK_CFG_SIZE_MAX 0x08
#define VBLK_CFG_SEG_MAX 0x0c
#define VBLK_CFG_BLK_SIZE 0x14

/* Descriptors asked for (fewer if the device's QueueNumMax is smaller): a request of
 * BLK_DIRECT_MAX_SEGS (proto/blk.h) segments with its header and status fits with room to spare
 * (QEMU's virtio-blk-device needs queue-size=1024 for that; its seg_max is then 1022). */
#define VBLK_QUEUE_WANT 1024u
_Static_assert(VBLK_QUEUE_WANT <= VQ_MAX_NUM, "the driver's queue fits struct vq");
/* DMA memory the driver needs: the queue (whole pages), then a header and a status byte per
 * descriptor. */
#define VBLK_QUEUE_BYTES ((VQ_BYTES(VQ_MAX_NUM) + 4095u) & ~4095u)
#define VBLK_DMA_BYTES (VBLK_QUEUE_BYTES + 17u * VQ_MAX_NUM)

struct vblk_seg {
    uint64_t paddr;
    uint32_t len;
};

enum vblk_submit_result {
    VBLK_QUEUED,
    VBLK_FULL,    /* not enough free descriptors now: try again after completions */
    VBLK_TOO_BIG, /* more segments than the device takes in one request: never fits */
};

struct vblk {
    uintptr_t regs;
    struct vq q;
    volatile uint8_t *hdr, *status; /* per head descriptor: 16 bytes, 1 byte (DMA region) */
    uint64_t hdr_pa, status_pa;
    uint64_t capacity; /* sectors */
    uint32_t size_max; /* largest data descriptor (0: any) */
    uint32_t seg_max;  /* most data descriptors per request */
    bool read_only, flush;
    uint32_t cookie[VQ_MAX_NUM]; /* the caller's tag of the request headed by each descriptor */
    uint64_t bad_status;         /* completions whose status the device did not write properly */
};

/* Probe and start the device at `regs` with its queue in `dma` (physical address `dma_pa`,
 * `dma_size` bytes). NULL on success, else why not (the device is left FAILED when it got that
 * far). */
const char *vblk_init(struct vblk *b, uintptr_t regs, void *dma, uint64_t dma_pa, size_t dma_size);
/* Queue a request of `type` at `sector` over the data segments (the device writes into them for
 * IN and GET_ID, reads them for OUT). The caller notifies with vblk_kick after a batch. */
enum vblk_submit_result vblk_submit(struct vblk *b, uint32_t type, uint64_t sector,
                                    const struct vblk_seg *segs, unsigned nsegs, uint32_t cookie);
void vblk_kick(struct vblk *b);
/* 1: a completed request (*cookie, *status one of VBLK_S_*); 0: none left now. */
int vblk_complete(struct vblk *b, uint32_t *cookie, uint8_t *status);
/* On the device's interrupt, before taking completions: acknowledges it. */
void vblk_irq(struct vblk *b);
/* Data bytes one request can always carry when its buffer is physically contiguous in pieces
 * of `piece` bytes (the caller's largest contiguous run) and starts anywhere. */
uint64_t vblk_max_bytes(const struct vblk *b, uint64_t piece);

#endif
