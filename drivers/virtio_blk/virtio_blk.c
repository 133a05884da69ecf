/* The virtio block device driver (see virtio_blk.h). */
#include "virtio_blk.h"

#include <pd/mmio.h>

#define STATUS_UNSET 0xffu

const char *vblk_init(struct vblk *b, uintptr_t regs, void *dma, uint64_t dma_pa, size_t dma_size)
{
    const char *why = vmmio_probe(regs, VBLK_DEVICE_ID);
    if (why)
        return why;
    uint64_t wanted = UINT64_C(1) << VBLK_F_SIZE_MAX | UINT64_C(1) << VBLK_F_SEG_MAX |
                      UINT64_C(1) << VBLK_F_RO | UINT64_C(1) << VBLK_F_BLK_SIZE |
                      UINT64_C(1) << VBLK_F_FLUSH;
    uint64_t features;
    if ((why = vmmio_negotiate(regs, UINT64_C(1) << VMMIO_F_VERSION_1, wanted, &features)))
        return why;
    if (dma_size < VBLK_DMA_BYTES || ((uintptr_t)dma & 4095u) || (dma_pa & 4095u)) {
        vmmio_fail(regs);
        return "the driver's DMA region is too small or not page-aligned";
    }
    b->regs = regs;
    if ((why = vq_setup(regs, 0, &b->q, dma, dma_pa, VBLK_QUEUE_BYTES, VBLK_QUEUE_WANT))) {
        vmmio_fail(regs);
        return why;
    }
    b->hdr = (volatile uint8_t *)dma + VBLK_QUEUE_BYTES;
    b->hdr_pa = dma_pa + VBLK_QUEUE_BYTES;
    b->status = b->hdr + 16u * VQ_MAX_NUM;
    b->status_pa = b->hdr_pa + 16u * VQ_MAX_NUM;
    b->capacity = vmmio_config_read64(regs, VBLK_CFG_CAPACITY);
    b->size_max =
        features >> VBLK_F_SIZE_MAX & 1 ? vmmio_config_read32(regs, VBLK_CFG_SIZE_MAX) : 0;
    /* Without indirect descriptors a request also needs its header and status descriptors;
     * without SEG_MAX the device states no limit of its own. */
    uint32_t room = b->q.num - 2u;
    uint32_t seg_max =
        features >> VBLK_F_SEG_MAX & 1 ? vmmio_config_read32(regs, VBLK_CFG_SEG_MAX) : room;
    b->seg_max = seg_max == 0 ? 1 : seg_max < room ? seg_max : room;
    if (b->size_max != 0 && b->size_max < 512)
        b->size_max = 512;
    b->read_only = features >> VBLK_F_RO & 1;
    b->flush = features >> VBLK_F_FLUSH & 1;
    b->bad_status = 0;
    vmmio_driver_ok(regs);
    return NULL;
}

uint64_t vblk_max_bytes(const struct vblk *b, uint64_t piece)
{
    uint64_t per = b->size_max && b->size_max < piece ? b->size_max : piece;
    /* L bytes over pieces of `piece`, each cut at `per`: at most L/per + L/piece + 2 descriptors,
     * which stays within seg_max for L = (seg_max - 2) * per / 2. */
    if (b->seg_max < 3)
        return 0;
    return ((uint64_t)(b->seg_max - 2) * (per / 2)) & ~UINT64_C(511);
}

/* Descriptors for the data of a request: each segment cut at SIZE_MAX. */
static uint64_t data_descriptors(const struct vblk *b, const struct vblk_seg *segs, unsigned n)
{
    uint64_t count = 0;
    for (unsigned i = 0; i < n; i++)
        count += b->size_max ? (segs[i].len + (uint64_t)b->size_max - 1) / b->size_max
                             : segs[i].len != 0;
    return count;
}

enum vblk_submit_result vblk_submit(struct vblk *b, uint32_t type, uint64_t sector,
                                    const struct vblk_seg *segs, unsigned nsegs, uint32_t cookie)
{
    bool device_writes = type == VBLK_T_IN || type == VBLK_T_GET_ID;
    uint64_t data = data_descriptors(b, segs, nsegs);
    if (data > b->seg_max)
        return VBLK_TOO_BIG;
    int got = vq_alloc(&b->q, (unsigned)data + 2);
    if (got < 0)
        return VBLK_FULL;
    uint16_t head = (uint16_t)got;
    volatile uint8_t *h = b->hdr + 16u * head;
    for (unsigned k = 0; k < 4; k++) {
        h[k] = (uint8_t)(type >> (8 * k));
        h[4 + k] = 0;
    }
    for (unsigned k = 0; k < 8; k++)
        h[8 + k] = (uint8_t)(sector >> (8 * k));
    b->status[head] = STATUS_UNSET;
    unsigned k = 0;
    vq_set(&b->q, head, k++, b->hdr_pa + 16u * head, 16, false);
    for (unsigned i = 0; i < nsegs; i++) {
        uint64_t pa = segs[i].paddr;
        uint32_t left = segs[i].len;
        while (left) {
            uint32_t len = b->size_max && left > b->size_max ? b->size_max : left;
            vq_set(&b->q, head, k++, pa, len, device_writes);
            pa += len;
            left -= len;
        }
    }
    vq_set(&b->q, head, k, b->status_pa + head, 1, true);
    vq_add_chain(&b->q, head);
    b->cookie[head] = cookie;
    return VBLK_QUEUED;
}

void vblk_kick(struct vblk *b)
{
    vq_publish(&b->q);
    vmmio_notify(b->regs, 0);
}

void vblk_irq(struct vblk *b)
{
    vmmio_irq_ack(b->regs);
}

int vblk_complete(struct vblk *b, uint32_t *cookie, uint8_t *status)
{
    for (;;) {
        uint16_t head;
        uint32_t len;
        int r = vq_take_used(&b->q, &head, &len);
        if (r == 0)
            return 0;
        if (r < 0)
            continue; /* counted in q.bad_used */
        uint8_t s = b->status[head];
        if (len < 1 || s > VBLK_S_UNSUPP) {
            b->bad_status++;
            s = VBLK_S_IOERR;
        }
        *cookie = b->cookie[head];
        *status = s;
        return 1;
    }
}
