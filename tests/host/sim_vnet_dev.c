/* The model of QEMU's virtio-net-device (see sim_vnet_dev.h). */
#include "sim_vnet_dev.h"

#include <string.h>

#include "sim_pd.h"

static uint8_t *host(uint64_t paddr)
{
    return (uint8_t *)(uintptr_t)paddr;
}

static void put16(uint64_t pa, uint16_t v)
{
    memcpy(host(pa), &v, 2);
}

static uint16_t get16(uint64_t pa)
{
    uint16_t v;
    memcpy(&v, host(pa), 2);
    return v;
}

void svd_push_used(struct sim_vnet_dev *d, unsigned q, uint32_t id, uint32_t len)
{
    struct svd_queue *s = &d->q[q];
    uint64_t e = s->used + 4 + 8u * (s->used_idx % s->num);
    memcpy(host(e), &id, 4);
    memcpy(host(e + 4), &len, 4);
    s->used_idx++;
    put16(s->used + 2, s->used_idx);
}

/* The next available descriptor of queue q: its address and length; false if none. */
static bool take_avail(struct sim_vnet_dev *d, unsigned q, uint16_t *id, uint64_t *addr,
                       uint32_t *len)
{
    struct svd_queue *s = &d->q[q];
    if (!s->ready || !(d->status & 4) || get16(s->avail + 2) == s->last_avail)
        return false;
    *id = get16(s->avail + 4 + 2u * (s->last_avail % s->num));
    s->last_avail++;
    uint8_t *desc = host(s->desc + 16u * (*id % s->num));
    memcpy(addr, desc, 8);
    memcpy(len, desc + 8, 4);
    return true;
}

static void transmit(struct sim_vnet_dev *d)
{
    uint16_t id;
    uint64_t addr;
    uint32_t len;
    while (take_avail(d, 1, &id, &addr, &len)) {
        static const uint8_t zero[12];
        if (len >= 12 && d->num_sent < SVD_FRAMES) {
            d->nonzero_header |= memcmp(host(addr), zero, 12) != 0;
            memcpy(d->sent[d->num_sent], host(addr) + 12, len - 12);
            d->sent_len[d->num_sent++] = len - 12;
        }
        svd_push_used(d, 1, id, 0);
        d->isr |= 1;
    }
}

bool svd_deliver(struct sim_vnet_dev *d, const uint8_t *frame, uint32_t len)
{
    uint16_t id;
    uint64_t addr;
    uint32_t room;
    if (!take_avail(d, 0, &id, &addr, &room) || room < 12 + len)
        return false;
    memset(host(addr), 0, 12);
    host(addr)[10] = 1;
    memcpy(host(addr) + 12, frame, len);
    svd_push_used(d, 0, id, 12 + len);
    d->isr |= 1;
    return true;
}

static uint32_t rd(void *model, uint32_t off)
{
    struct sim_vnet_dev *d = model;
    struct svd_queue *q = &d->q[d->queue_sel & 1];
    switch (off) {
    case 0x000: return 0x74726976u;
    case 0x004: return d->version;
    case 0x008: return d->device_id;
    case 0x010: return d->dev_sel < 2 ? (uint32_t)(d->features >> (32 * d->dev_sel)) : 0;
    case 0x034: return d->queue_sel < 2 ? 256 : 0;
    case 0x044: return q->ready;
    case 0x060: return d->isr;
    case 0x070: return d->status;
    case 0x100: return (uint32_t)(d->mac[0] | d->mac[1] << 8 | d->mac[2] << 16 | d->mac[3] << 24);
    case 0x104: return (uint32_t)(d->mac[4] | d->mac[5] << 8 | 1u << 16);
    default: return 0;
    }
}

static void wr(void *model, uint32_t off, uint32_t v)
{
    struct sim_vnet_dev *d = model;
    struct svd_queue *q = &d->q[d->queue_sel & 1];
    switch (off) {
    case 0x014: d->dev_sel = v; break;
    case 0x020:
        if (d->drv_sel < 2)
            d->driver_features =
                (d->driver_features & ~((uint64_t)0xffffffffu << (32 * d->drv_sel))) |
                (uint64_t)v << (32 * d->drv_sel);
        break;
    case 0x024: d->drv_sel = v; break;
    case 0x030: d->queue_sel = v; break;
    case 0x038: q->num = v; break;
    case 0x044: q->ready = v; break;
    case 0x050:
        if (v < 2)
            d->notifies[v]++;
        if (v == 1)
            transmit(d);
        break;
    case 0x064: d->isr &= ~v; break;
    case 0x070:
        if (v & 8 && d->driver_features & ~d->features)
            v &= ~8u; /* features not offered: FEATURES_OK does not stick */
        d->status = v;
        if (!v)
            memset(d->q, 0, sizeof(d->q));
        break;
    case 0x080: q->desc = (q->desc & ~0xffffffffull) | v; break;
    case 0x084: q->desc = (q->desc & 0xffffffffull) | (uint64_t)v << 32; break;
    case 0x090: q->avail = (q->avail & ~0xffffffffull) | v; break;
    case 0x094: q->avail = (q->avail & 0xffffffffull) | (uint64_t)v << 32; break;
    case 0x0a0: q->used = (q->used & ~0xffffffffull) | v; break;
    case 0x0a4: q->used = (q->used & 0xffffffffull) | (uint64_t)v << 32; break;
    default: break;
    }
}

void svd_init(struct sim_vnet_dev *d, uintptr_t base)
{
    static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    memset(d, 0, sizeof(*d));
    d->version = 2;
    d->device_id = 1;
    d->features = 1ull << 32 | 1u << 5;
    memcpy(d->mac, mac, 6);
    sim_pd_map_device(base, 0x200, rd, wr, d);
}
