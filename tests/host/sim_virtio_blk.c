/* The virtio block device model (see sim_virtio_blk.h). */
#include "sim_virtio_blk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_pd.h"

#define F_VERSION_1 (UINT64_C(1) << 32)
#define F_SIZE_MAX (UINT64_C(1) << 1)
#define F_SEG_MAX (UINT64_C(1) << 2)
#define F_BLK_SIZE (UINT64_C(1) << 6)
#define F_FLUSH (UINT64_C(1) << 9)

static void violation(struct sim_vblk *s, const char *why)
{
    if (!s->violations++)
        snprintf(s->why, sizeof(s->why), "%s", why);
}

static uint32_t config_read(const struct sim_vblk *s, uint32_t off)
{
    uint8_t cfg[0x40] = { 0 };
    memcpy(cfg + 0x00, &s->capacity, 8);
    memcpy(cfg + 0x08, &s->size_max, 4);
    memcpy(cfg + 0x0c, &s->seg_max, 4);
    memcpy(cfg + 0x14, &s->blk_size, 4);
    uint32_t v = 0;
    if (off + 4 <= sizeof(cfg))
        memcpy(&v, cfg + off, 4);
    return v;
}

static uint32_t reg_read(void *model, uint32_t off)
{
    struct sim_vblk *s = model;
    if (off >= 0x100)
        return config_read(s, off - 0x100);
    switch (off) {
    case 0x000: return 0x74726976u;
    case 0x004: return s->version;
    case 0x008: return s->device_id;
    case 0x00c: return 0x554d4551u;
    case 0x010: return s->dev_sel > 1 ? 0 : (uint32_t)(s->offered >> (32 * s->dev_sel));
    case 0x034: return s->queue_sel == 0 ? s->num_max : 0;
    case 0x044: return s->queue_sel == 0 && s->ready;
    case 0x060: return s->isr;
    case 0x070: return s->status;
    case 0x0fc: return 0;
    default: violation(s, "read of a register that cannot be read"); return 0;
    }
}

static void set64(uint64_t *f, bool high, uint32_t v)
{
    unsigned shift = high ? 32 : 0;
    *f = (*f & ~((uint64_t)0xffffffffu << shift)) | (uint64_t)v << shift;
}

static void reg_write(void *model, uint32_t off, uint32_t v)
{
    struct sim_vblk *s = model;
    bool live = s->status & 4;
    switch (off) {
    case 0x014: s->dev_sel = v; return;
    case 0x020:
        if (s->drv_sel <= 1)
            set64(&s->accepted, s->drv_sel, v);
        return;
    case 0x024: s->drv_sel = v; return;
    case 0x030: s->queue_sel = v; return;
    case 0x038:
        if (s->ready)
            violation(s, "QueueNum written while the queue is ready");
        s->num = v;
        return;
    case 0x044:
        if (v && (s->num == 0 || s->num > s->num_max || (s->num & (s->num - 1))))
            violation(s, "queue enabled with a bad QueueNum");
        if (v && !(s->status & 8))
            violation(s, "queue enabled before FEATURES_OK");
        s->ready = v & 1;
        s->last_avail = s->used_idx = 0;
        return;
    case 0x050:
        s->notifies++;
        if (!live || !s->ready)
            violation(s, "notified before DRIVER_OK or with the queue off");
        else if (!s->deferred)
            sim_vblk_process(s);
        return;
    case 0x064: s->isr &= ~v; return;
    case 0x070:
        if (v == 0) {
            s->status = 0;
            s->ready = false;
            s->accepted = 0;
            s->isr = 0;
            return;
        }
        if ((v & 8) && !(s->status & 8)) {
            if ((s->accepted & ~s->offered) || !(s->accepted & F_VERSION_1)) {
                v &= ~8u; /* refused */
            }
        }
        s->status = v;
        return;
    case 0x080: set64(&s->desc, false, v); return;
    case 0x084: set64(&s->desc, true, v); return;
    case 0x090: set64(&s->driver, false, v); return;
    case 0x094: set64(&s->driver, true, v); return;
    case 0x0a0: set64(&s->device, false, v); return;
    case 0x0a4: set64(&s->device, true, v); return;
    default: violation(s, "write of a register that cannot be written"); return;
    }
}

void sim_vblk_init(struct sim_vblk *s, uint64_t sectors)
{
    free(s->disk);
    memset(s, 0, sizeof(*s));
    s->version = 2;
    s->device_id = 2;
    s->offered = F_VERSION_1 | F_SEG_MAX | F_BLK_SIZE | F_FLUSH;
    s->num_max = 1024;
    s->capacity = sectors;
    s->seg_max = 1022;
    s->blk_size = 512;
    s->disk = calloc(sectors ? sectors : 1, 512);
    sim_pd_map_device(sim_vblk_base(s), sizeof(s->window), reg_read, reg_write, s);
}

uintptr_t sim_vblk_base(struct sim_vblk *s)
{
    return (uintptr_t)s->window;
}

bool sim_vblk_irq(const struct sim_vblk *s)
{
    return s->isr != 0;
}

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

/* Carries out the request headed by `head`; returns the bytes written into the chain. */
static uint32_t execute(struct sim_vblk *s, uint16_t head)
{
    const struct desc *table = (const struct desc *)(uintptr_t)s->desc;
    struct desc chain[1024];
    unsigned n = 0;
    for (uint16_t i = head;; i = table[i].next) {
        if (i >= s->num || n >= s->num || n >= sizeof(chain) / sizeof(chain[0])) {
            violation(s, "descriptor chain runs off the table or loops");
            return 0;
        }
        chain[n++] = table[i];
        if (!(table[i].flags & 1))
            break;
    }
    if (n < 2 || chain[0].len != 16 || (chain[0].flags & 2) || chain[n - 1].len != 1 ||
        !(chain[n - 1].flags & 2)) {
        violation(s, "a request is not header (16, readable) ... status (1, writable)");
        return 0;
    }
    uint8_t *status = (uint8_t *)(uintptr_t)chain[n - 1].addr;
    const uint8_t *h = (const uint8_t *)(uintptr_t)chain[0].addr;
    uint32_t type;
    uint64_t sector;
    memcpy(&type, h, 4);
    memcpy(&sector, h + 8, 8);
    unsigned segs = n - 2;
    if (segs > s->max_segs_seen)
        s->max_segs_seen = segs;
    if (segs > s->seg_max)
        violation(s, "more data descriptors than seg_max");
    uint64_t total = 0;
    bool writes_data = type == 0 || type == 8;
    for (unsigned k = 1; k + 1 < n; k++) {
        total += chain[k].len;
        if (!!(chain[k].flags & 2) != writes_data)
            violation(s, "a data descriptor's direction does not match the request");
        if ((s->accepted & F_SIZE_MAX) && chain[k].len > s->size_max)
            violation(s, "a data descriptor larger than size_max");
    }
    s->requests++;
    uint8_t result = 0;
    uint32_t written = 1;
    bool dma_refused = false;
    for (unsigned k = 1; k + 1 < n && s->dma_check; k++) {
        if (!s->dma_check(s->dma_ctx, type, sector, chain[k].addr, chain[k].len))
            dma_refused = true;
    }
    if (dma_refused) {
        violation(s, "a data buffer the DMA check refused");
        result = 1;
    } else if (s->fail_next) {
        s->fail_next--;
        result = 1;
    } else if (type == 0 || type == 1) {
        if (total % 512 || sector > s->capacity || total / 512 > s->capacity - sector) {
            result = 1;
        } else {
            uint8_t *at = s->disk + sector * 512;
            for (unsigned k = 1; k + 1 < n; k++) {
                uint8_t *p = (uint8_t *)(uintptr_t)chain[k].addr;
                if (type == 0)
                    memcpy(p, at, chain[k].len);
                else
                    memcpy(at, p, chain[k].len);
                at += chain[k].len;
            }
            if (type == 0) {
                s->reads++;
                written += (uint32_t)total;
            } else {
                s->writes++;
            }
        }
    } else if (type == 4) {
        s->flushes++;
        if (!(s->accepted & F_FLUSH))
            violation(s, "FLUSH sent without VIRTIO_BLK_F_FLUSH");
    } else if (type == 8) {
        s->get_ids++;
        static const char id[20] = "sim-vblk-0001";
        uint32_t left = 20;
        for (unsigned k = 1; k + 1 < n && left; k++) {
            uint32_t c = chain[k].len < left ? chain[k].len : left;
            memcpy((uint8_t *)(uintptr_t)chain[k].addr, id + (20 - left), c);
            left -= c;
            written += c;
        }
    } else {
        s->unsupported++;
        result = 2;
    }
    if (s->skip_status_next)
        s->skip_status_next = false;
    else
        *status = result;
    return written;
}

bool sim_vblk_process(struct sim_vblk *s)
{
    if (!(s->status & 4) || !s->ready)
        return false;
    const volatile uint16_t *avail = (const volatile uint16_t *)(uintptr_t)s->driver;
    volatile uint8_t *used = (volatile uint8_t *)(uintptr_t)s->device;
    bool any = false;
    while (s->last_avail != avail[1]) {
        uint16_t head = avail[2 + (s->last_avail & (s->num - 1))];
        s->last_avail++;
        if (head >= s->num) {
            violation(s, "available ring names a descriptor beyond the queue");
            continue;
        }
        uint32_t written = execute(s, head);
        volatile uint8_t *e = used + 4 + 8u * (s->used_idx & (s->num - 1));
        uint32_t id = head;
        if (s->bad_used_next) {
            s->bad_used_next = false;
            id = 0xffffu;
        }
        memcpy((void *)e, &id, 4);
        memcpy((void *)(e + 4), &written, 4);
        s->used_idx++;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        *(volatile uint16_t *)(used + 2) = s->used_idx;
        any = true;
    }
    if (any)
        s->isr |= 1;
    return any;
}
