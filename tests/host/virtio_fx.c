#include "virtio_fx.h"

#include <proto/serial.h>
#include <stdio.h>
#include <string.h>

#include "sim_hyp.h"

struct vdrv_queue vdrv_q[2];
struct fake_backend fb;

uint64_t vio_access(uint32_t off, unsigned width, int write, uint64_t value)
{
    struct exit_reply r;
    sim.vcpu[0].regs.x[5] = value;
    fx_mmio(0, FX_VIRTIO_BASE + off, width, write, 5, 0, 1, &r);
    return sim.vcpu[0].regs.x[5];
}

uint32_t vio_read(uint32_t off)
{
    return (uint32_t)vio_access(off, 4, 0, 0);
}

void vio_write(uint32_t off, uint32_t value)
{
    vio_access(off, 4, 1, value);
}

uint8_t *vio_ram(uint64_t gpa)
{
    return fx.ram + (gpa - FX_RAM_BASE);
}

static void put16(uint64_t gpa, uint16_t v)
{
    memcpy(vio_ram(gpa), &v, 2);
}

static uint16_t get16(uint64_t gpa)
{
    uint16_t v;
    memcpy(&v, vio_ram(gpa), 2);
    return v;
}

static uint32_t get32(uint64_t gpa)
{
    uint32_t v;
    memcpy(&v, vio_ram(gpa), 4);
    return v;
}

uint32_t vdrv_negotiate(uint32_t feat_hi, uint32_t feat_lo)
{
    vio_write(VIO_STATUS, 0);
    vio_write(VIO_STATUS, VIO_S_ACK);
    vio_write(VIO_STATUS, VIO_S_ACK | VIO_S_DRIVER);
    vio_write(VIO_DRIVER_FEATURES_SEL, 1);
    vio_write(VIO_DRIVER_FEATURES, feat_hi);
    vio_write(VIO_DRIVER_FEATURES_SEL, 0);
    vio_write(VIO_DRIVER_FEATURES, feat_lo);
    vio_write(VIO_STATUS, VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK);
    return vio_read(VIO_STATUS);
}

void vdrv_queue_setup(unsigned q, uint16_t num)
{
    struct vdrv_queue *d = &vdrv_q[q];
    uint64_t at = VIO_QAREA(q);
    memset(d, 0, sizeof(*d));
    d->num = num;
    d->desc = at;
    d->avail = at + 16u * num;
    d->used = (d->avail + 6u + 2u * num + 3) & ~3ull;
    memset(vio_ram(at), 0, 0x10000);
    vio_write(VIO_QUEUE_SEL, q);
    vio_write(VIO_QUEUE_NUM, num);
    vio_write(VIO_QUEUE_DESC_LOW, (uint32_t)d->desc);
    vio_write(VIO_QUEUE_DESC_HIGH, (uint32_t)(d->desc >> 32));
    vio_write(VIO_QUEUE_DRIVER_LOW, (uint32_t)d->avail);
    vio_write(VIO_QUEUE_DRIVER_HIGH, (uint32_t)(d->avail >> 32));
    vio_write(VIO_QUEUE_DEVICE_LOW, (uint32_t)d->used);
    vio_write(VIO_QUEUE_DEVICE_HIGH, (uint32_t)(d->used >> 32));
    vio_write(VIO_QUEUE_READY, 1);
}

bool vdrv_setup(uint16_t num)
{
    if (!(vdrv_negotiate(VIO_F_VERSION_1_HI, 0) & VIO_S_FEATURES_OK))
        return false;
    for (unsigned q = 0; q < 2; q++) {
        vdrv_queue_setup(q, num);
        vio_write(VIO_QUEUE_SEL, q);
        if (vio_read(VIO_QUEUE_READY) != 1)
            return false;
    }
    vio_write(VIO_STATUS, VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK | VIO_S_DRIVER_OK);
    return vio_read(VIO_STATUS) == (VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK | VIO_S_DRIVER_OK);
}

void vdrv_desc(unsigned q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t *p = vio_ram(vdrv_q[q].desc + 16u * i);
    memcpy(p, &addr, 8);
    memcpy(p + 8, &len, 4);
    memcpy(p + 12, &flags, 2);
    memcpy(p + 14, &next, 2);
}

void vdrv_avail(unsigned q, uint16_t head)
{
    struct vdrv_queue *d = &vdrv_q[q];
    put16(d->avail + 4 + 2u * (d->avail_idx % d->num), head);
    d->avail_idx++;
    put16(d->avail + 2, d->avail_idx);
}

uint16_t vdrv_chain(unsigned q, const uint64_t *gpa, const uint32_t *len, unsigned n, bool writable)
{
    struct vdrv_queue *d = &vdrv_q[q];
    uint16_t head = d->next_desc;
    for (unsigned i = 0; i < n; i++) {
        uint16_t at = (uint16_t)((head + i) % d->num), next = (uint16_t)((head + i + 1) % d->num);
        vdrv_desc(q, at, gpa[i], len[i],
                  (uint16_t)((writable ? VIO_D_WRITE : 0) | (i + 1 < n ? VIO_D_NEXT : 0)), next);
    }
    d->next_desc = (uint16_t)((head + n) % d->num);
    vdrv_avail(q, head);
    return head;
}

void vdrv_notify(unsigned q)
{
    vio_write(VIO_QUEUE_NOTIFY, q);
}

uint16_t vdrv_used_idx(unsigned q)
{
    return get16(vdrv_q[q].used + 2);
}

bool vdrv_next_used(unsigned q, uint32_t *id, uint32_t *len)
{
    struct vdrv_queue *d = &vdrv_q[q];
    if (vdrv_used_idx(q) == d->used_seen)
        return false;
    uint64_t e = d->used + 4 + 8u * (d->used_seen % d->num);
    *id = get32(e);
    *len = get32(e + 4);
    d->used_seen++;
    return true;
}

bool vio_line(void)
{
    return (fx.vm.gic.spi[FX_VIRTIO_IRQ / 32].line >> (FX_VIRTIO_IRQ % 32)) & 1;
}

/* ---- fake backend ---- */

void fb_attach(void)
{
    memset(&fb, 0, sizeof(fb));
    conn_attach(&fb.conn, &fx.virtio[0].conn);
    fb.auto_notify = true;
}

void fb_notify_vmm(void)
{
    fb.notified++;
    vm_notified(&fx.vm, FX_VIRTIO_CH);
}

bool fb_push(unsigned ring, uint64_t offset, uint32_t len, uint32_t id)
{
    struct ring_entry e = { offset, len, id };
    bool notify;
    if (!ring_push(&fb.conn.ring[ring], &e, &notify))
        return false;
    if (notify && fb.auto_notify)
        fb_notify_vmm();
    return true;
}

unsigned fb_take_output(unsigned max, bool give_back)
{
    struct ring_entry e;
    unsigned n = 0;
    while (n < max && ring_pop(&fb.conn.ring[CONN_TX_ACTIVE], &e)) {
        n++;
        if (ring_entry_inside(&e, fb.conn.tx_size) && e.len <= sizeof(fb.out) - fb.out_len) {
            memcpy(fb.out + fb.out_len, fb.conn.tx_data + e.offset, e.len);
            fb.out_len += e.len;
        }
        if (give_back)
            fb_push(CONN_TX_FREE, e.offset, e.len, e.id);
    }
    return n;
}

bool fb_send_input(const void *data, uint32_t len)
{
    struct ring_entry e;
    if (!ring_pop(&fb.conn.ring[CONN_RX_FREE], &e))
        return false;
    if (!ring_entry_inside(&e, fb.conn.rx_size) || len > e.len)
        return false;
    memcpy(fb.conn.rx_data + e.offset, data, len);
    return fb_push(CONN_RX_ACTIVE, e.offset, len, e.id);
}

uint32_t fb_count(unsigned ring)
{
    const struct ring_shm *s = fb.conn.ring[ring].shm;
    return ring_load(&s->head) - ring_load(&s->tail);
}

bool vio_buffers_accounted(const struct virtio_bufconn *b, int tx_fill)
{
    uint64_t all_tx = (1ull << b->tx_bufs) - 1, all_rx = (1ull << b->rx_bufs) - 1, held = 0;
    for (unsigned i = 0; i < b->rx_held_count; i++)
        held |= 1ull << b->rx_held[(b->rx_held_first + i) % VIRTIO_BUFCONN_MAX_BUFS];
    uint64_t fill = tx_fill >= 0 ? 1ull << tx_fill : 0;
    bool ok = !(b->tx_free & b->tx_lent) && !(fill & (b->tx_free | b->tx_lent)) &&
              (b->tx_free | b->tx_lent | fill) == all_tx && !(b->rx_lent & b->rx_idle) &&
              !(held & (b->rx_lent | b->rx_idle)) && (b->rx_lent | b->rx_idle | held) == all_rx &&
              b->rx_held_count <= b->rx_bufs;
    if (!ok)
        printf("    buffers: tx free 0x%llx lent 0x%llx fill %d; rx lent 0x%llx idle 0x%llx held "
               "0x%llx (%u)\n",
               (unsigned long long)b->tx_free, (unsigned long long)b->tx_lent, tx_fill,
               (unsigned long long)b->rx_lent, (unsigned long long)b->rx_idle,
               (unsigned long long)held, b->rx_held_count);
    return ok;
}
