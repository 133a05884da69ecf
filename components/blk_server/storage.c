/* The block server's storage devices (see storage.h). */
#include "storage.h"

#include <pd/pd.h>
#include <proto/blk.h>

#define SCRATCH_OFFSET 0x10000u /* in the virtio driver's DMA region, after its queue */
_Static_assert(VBLK_DMA_BYTES <= SCRATCH_OFFSET, "the driver's DMA memory ends before the scratch");

/* Segments a direct request of at most `max_bytes` in all may have so the device always takes
 * it: each is cut at SIZE_MAX (if any) into at most len / size_max + 1 descriptors, so n of them
 * take at most n + ceil(max_bytes / size_max), which must stay within seg_max. */
static uint32_t direct_segs(const struct vblk *b, uint64_t max_bytes)
{
    uint64_t cut = b->size_max ? (max_bytes + b->size_max - 1) / b->size_max : 0;
    uint64_t n = b->seg_max > cut ? b->seg_max - cut : 0;
    return n < BLK_DIRECT_MAX_SEGS ? (uint32_t)n : BLK_DIRECT_MAX_SEGS;
}

const char *storage_init(struct storage *s, const struct blk_server_config *cfg)
{
    s->kind = cfg->storage;
    s->done_first = s->done_count = 0;
    switch (cfg->storage) {
    case BLK_STORAGE_VIRTIO: {
        s->name = "virtio-blk";
        if (!cfg->regs || !cfg->dma || !cfg->dma_paddr)
            return "the virtio device's registers or the DMA region are not mapped";
        if (cfg->dma_size < SCRATCH_OFFSET + 512)
            return "the DMA region is too small";
        const char *why =
            vblk_init(&s->vblk, cfg->regs, (void *)cfg->dma, *cfg->dma_paddr, SCRATCH_OFFSET);
        if (why)
            return why;
        s->capacity = s->vblk.capacity;
        s->read_only = s->vblk.read_only;
        s->needs_paddr = true;
        s->max_bytes = vblk_max_bytes(&s->vblk, BLK_DATA_CHUNK);
        s->direct_segs = direct_segs(&s->vblk, s->max_bytes);
        s->scratch = (uint8_t *)cfg->dma + SCRATCH_OFFSET;
        s->scratch_pa = *cfg->dma_paddr + SCRATCH_OFFSET;
        return NULL;
    }
    case BLK_STORAGE_RAMDISK:
        s->name = "ramdisk";
        if (!cfg->ramdisk || cfg->ramdisk_size < BLK_SECTOR_SIZE)
            return "the RAM disk image is missing or smaller than a sector";
        s->ram = cfg->ramdisk;
        s->capacity = cfg->ramdisk_size / BLK_SECTOR_SIZE;
        s->read_only = false;
        s->needs_paddr = false;
        s->max_bytes = UINT64_MAX;
        s->direct_segs = 0; /* it cannot reach a client's window */
        s->scratch = NULL;
        return NULL;
    default: s->name = "none"; return "no storage driver of that kind (1 = virtio, 2 = ramdisk)";
    }
}

static void ram_copy(uint8_t *dst, const uint8_t *src, uint64_t n)
{
    /* The client may rewrite its buffer meanwhile: that changes only its own data. */
    const volatile uint8_t *s = src;
    volatile uint8_t *d = dst;
    if (!(((uintptr_t)dst | (uintptr_t)src | n) & 7)) {
        const volatile uint64_t *s8 = (const volatile uint64_t *)src;
        volatile uint64_t *d8 = (volatile uint64_t *)dst;
        for (uint64_t i = 0; i < n / 8; i++)
            d8[i] = s8[i];
        return;
    }
    for (uint64_t i = 0; i < n; i++)
        d[i] = s[i];
}

static void ram_done(struct storage *s, uint32_t tag, uint8_t status)
{
    unsigned slot = (s->done_first + s->done_count) % STORAGE_MAX_INFLIGHT;
    s->done[slot].tag = tag;
    s->done[slot].status = status;
    s->done_count++;
}

enum storage_result storage_submit(struct storage *s, const struct storage_io *io)
{
    if (s->kind == BLK_STORAGE_VIRTIO) {
        static const uint32_t type[] = {
            [BLK_OP_READ] = VBLK_T_IN, [BLK_OP_WRITE] = VBLK_T_OUT, [BLK_OP_FLUSH] = VBLK_T_FLUSH
        };
        if (io->op == BLK_OP_FLUSH && !s->vblk.flush) {
            /* A device without a write cache: nothing to flush. Completed in order. */
            if (s->done_count == STORAGE_MAX_INFLIGHT)
                return STORAGE_FULL;
            ram_done(s, io->tag, BLK_S_OK);
            return STORAGE_QUEUED;
        }
        switch (vblk_submit(&s->vblk, type[io->op], io->sector,
                            io->op == BLK_OP_FLUSH ? NULL : io->seg,
                            io->op == BLK_OP_FLUSH ? 0 : io->nsegs, io->tag)) {
        case VBLK_QUEUED: return STORAGE_QUEUED;
        case VBLK_FULL: return STORAGE_FULL;
        default: return STORAGE_TOO_BIG;
        }
    }
    if (s->done_count == STORAGE_MAX_INFLIGHT)
        return STORAGE_FULL;
    uint64_t bytes = (uint64_t)io->count * BLK_SECTOR_SIZE;
    uint8_t *at = s->ram + io->sector * BLK_SECTOR_SIZE;
    if (io->op != BLK_OP_FLUSH && (io->direct || !io->buf)) {
        ram_done(s, io->tag, BLK_S_UNSUPP); /* direct: no window to reach (never offered) */
        return STORAGE_QUEUED;
    }
    if (io->op == BLK_OP_READ)
        ram_copy(io->buf, at, bytes);
    else if (io->op == BLK_OP_WRITE)
        ram_copy(at, io->buf, bytes);
    ram_done(s, io->tag, BLK_S_OK);
    return STORAGE_QUEUED;
}

void storage_kick(struct storage *s)
{
    if (s->kind == BLK_STORAGE_VIRTIO)
        vblk_kick(&s->vblk);
}

void storage_irq(struct storage *s)
{
    if (s->kind == BLK_STORAGE_VIRTIO)
        vblk_irq(&s->vblk);
}

int storage_complete(struct storage *s, uint32_t *tag, uint8_t *status)
{
    if (s->done_count) {
        *tag = s->done[s->done_first].tag;
        *status = s->done[s->done_first].status;
        s->done_first = (s->done_first + 1) % STORAGE_MAX_INFLIGHT;
        s->done_count--;
        return 1;
    }
    if (s->kind != BLK_STORAGE_VIRTIO)
        return 0;
    uint32_t t;
    uint8_t st;
    if (!vblk_complete(&s->vblk, &t, &st))
        return 0;
    *tag = t;
    *status = st == VBLK_S_OK ? BLK_S_OK : st == VBLK_S_UNSUPP ? BLK_S_UNSUPP : BLK_S_IOERR;
    return 1;
}

const uint8_t *storage_read_sector(struct storage *s, uint64_t lba, uint64_t timeout_ticks)
{
    if (lba >= s->capacity)
        return NULL;
    if (s->kind != BLK_STORAGE_VIRTIO)
        return s->ram + lba * BLK_SECTOR_SIZE;
    static struct storage_io io; /* at start only; its segment table is large for a stack */
    io.op = BLK_OP_READ;
    io.sector = lba;
    io.count = 1;
    io.buf = s->scratch;
    io.nsegs = 1;
    io.direct = false;
    io.tag = STORAGE_SCRATCH_TAG;
    io.seg[0] = (struct vblk_seg){ s->scratch_pa, BLK_SECTOR_SIZE };
    if (storage_submit(s, &io) != STORAGE_QUEUED)
        return NULL;
    storage_kick(s);
    uint64_t start = pd_counter_now();
    for (uint32_t spins = 0; spins < UINT32_MAX; spins++) {
        uint32_t tag;
        uint8_t status;
        if (storage_complete(s, &tag, &status)) {
            vblk_irq(&s->vblk); /* the interrupt this raised is consumed here */
            return tag == STORAGE_SCRATCH_TAG && status == BLK_S_OK ? s->scratch : NULL;
        }
        if (pd_counter_now() - start > timeout_ticks)
            break;
    }
    return NULL;
}
