/* The driver side of virtio-mmio and split virtqueues (see virtio_mmio.h). */
#include "virtio_mmio.h"

#include <pd/mmio.h>

static uint32_t rd(uintptr_t regs, unsigned off)
{
    return pd_mmio_read32(regs + off);
}

static void wr(uintptr_t regs, unsigned off, uint32_t v)
{
    pd_mmio_write32(regs + off, v);
}

const char *vmmio_probe(uintptr_t regs, uint32_t device_id)
{
    if (rd(regs, VMMIO_MAGIC) != VMMIO_MAGIC_VALUE)
        return "no virtio-mmio device there (bad magic value)";
    uint32_t version = rd(regs, VMMIO_VERSION);
    if (version == 1)
        return "the device has the legacy interface (version 1) only; QEMU needs "
               "-global virtio-mmio.force-legacy=false";
    if (version != 2)
        return "the device's interface version is not 2";
    uint32_t id = rd(regs, VMMIO_DEVICE_ID);
    if (id == 0)
        return "no device is plugged into that virtio-mmio slot (device ID 0)";
    if (id != device_id)
        return "the device there is of another type";
    return NULL;
}

const char *vmmio_negotiate(uintptr_t regs, uint64_t required, uint64_t wanted, uint64_t *accepted)
{
    wr(regs, VMMIO_STATUS, 0);
    /* A reset is complete when Status reads back 0. */
    for (unsigned i = 0; rd(regs, VMMIO_STATUS) != 0; i++) {
        if (i > 1000)
            return "the device does not come out of reset";
    }
    wr(regs, VMMIO_STATUS, VMMIO_S_ACKNOWLEDGE);
    wr(regs, VMMIO_STATUS, VMMIO_S_ACKNOWLEDGE | VMMIO_S_DRIVER);
    uint64_t offered = 0;
    for (unsigned w = 0; w < 2; w++) {
        wr(regs, VMMIO_DEVICE_FEATURES_SEL, w);
        offered |= (uint64_t)rd(regs, VMMIO_DEVICE_FEATURES) << (32 * w);
    }
    if ((offered & required) != required) {
        vmmio_fail(regs);
        return "the device does not offer the features the driver needs";
    }
    uint64_t take = offered & (wanted | required);
    for (unsigned w = 0; w < 2; w++) {
        wr(regs, VMMIO_DRIVER_FEATURES_SEL, w);
        wr(regs, VMMIO_DRIVER_FEATURES, (uint32_t)(take >> (32 * w)));
    }
    wr(regs, VMMIO_STATUS, VMMIO_S_ACKNOWLEDGE | VMMIO_S_DRIVER | VMMIO_S_FEATURES_OK);
    if (!(rd(regs, VMMIO_STATUS) & VMMIO_S_FEATURES_OK)) {
        vmmio_fail(regs);
        return "the device refused the features the driver accepted (FEATURES_OK clear)";
    }
    *accepted = take;
    return NULL;
}

void vmmio_driver_ok(uintptr_t regs)
{
    wr(regs, VMMIO_STATUS,
       VMMIO_S_ACKNOWLEDGE | VMMIO_S_DRIVER | VMMIO_S_FEATURES_OK | VMMIO_S_DRIVER_OK);
}

void vmmio_fail(uintptr_t regs)
{
    wr(regs, VMMIO_STATUS, rd(regs, VMMIO_STATUS) | VMMIO_S_FAILED);
}

bool vmmio_needs_reset(uintptr_t regs)
{
    return (rd(regs, VMMIO_STATUS) & VMMIO_S_NEEDS_RESET) != 0;
}

/* The configuration space, read until ConfigGeneration holds still across the read. */
uint32_t vmmio_config_read32(uintptr_t regs, unsigned offset)
{
    uint32_t gen, v;
    do {
        gen = rd(regs, VMMIO_CONFIG_GENERATION);
        v = rd(regs, VMMIO_CONFIG + offset);
    } while (rd(regs, VMMIO_CONFIG_GENERATION) != gen);
    return v;
}

uint64_t vmmio_config_read64(uintptr_t regs, unsigned offset)
{
    uint32_t gen, lo, hi;
    do {
        gen = rd(regs, VMMIO_CONFIG_GENERATION);
        lo = rd(regs, VMMIO_CONFIG + offset);
        hi = rd(regs, VMMIO_CONFIG + offset + 4);
    } while (rd(regs, VMMIO_CONFIG_GENERATION) != gen);
    return (uint64_t)hi << 32 | lo;
}

uint32_t vmmio_irq_ack(uintptr_t regs)
{
    uint32_t bits = rd(regs, VMMIO_INTERRUPT_STATUS);
    if (bits)
        wr(regs, VMMIO_INTERRUPT_ACK, bits);
    return bits;
}

void vmmio_notify(uintptr_t regs, unsigned queue)
{
    pd_dma_fence(); /* the available index before the notification */
    wr(regs, VMMIO_QUEUE_NOTIFY, queue);
}

/* ---- split virtqueues --------------------------------------------------------------------- */

/* Layout in the DMA memory: descriptors, then the available ring, then (4-byte aligned, on the
 * next 4 KiB page as the legacy layout would have it) the used ring. */
static size_t avail_offset(unsigned num)
{
    return 16u * num;
}

static size_t used_offset(unsigned num)
{
    return (avail_offset(num) + 6u + 2u * num + 4095u) & ~(size_t)4095u;
}

size_t vq_bytes(unsigned num)
{
    return used_offset(num) + 6u + 8u * num;
}

_Static_assert(VQ_BYTES(8u) == 4096u + 6u + 64u && VQ_BYTES(1024u) == 20480u + 6u + 8192u,
               "VQ_BYTES is vq_bytes' layout");

static void wr64(uintptr_t regs, unsigned low, uint64_t v)
{
    wr(regs, low, (uint32_t)v);
    wr(regs, low + 4, (uint32_t)(v >> 32));
}

const char *vq_setup(uintptr_t regs, unsigned index, struct vq *q, void *mem, uint64_t paddr,
                     size_t size, unsigned want)
{
    wr(regs, VMMIO_QUEUE_SEL, index);
    if (rd(regs, VMMIO_QUEUE_READY))
        return "the queue is already in use";
    uint32_t max = rd(regs, VMMIO_QUEUE_NUM_MAX);
    if (max == 0)
        return "the device has no such queue";
    unsigned num = want < VQ_MAX_NUM ? want : VQ_MAX_NUM;
    while (num > max)
        num /= 2;
    if (num < 4 || (num & (num - 1)))
        return "the device's queues are too small (fewer than 4 entries)";
    if (vq_bytes(num) > size)
        return "the DMA region is too small for the queue";
    volatile uint8_t *m = mem;
    for (size_t i = 0; i < vq_bytes(num); i++)
        m[i] = 0;
    q->num = (uint16_t)num;
    q->desc = (volatile struct vq_desc *)mem;
    q->avail = (volatile uint16_t *)(m + avail_offset(num));
    q->used = m + used_offset(num);
    q->avail_idx = q->last_used = 0;
    q->bad_used = 0;
    q->num_free = (uint16_t)num;
    q->free_head = 0;
    for (unsigned i = 0; i < num; i++) {
        q->next[i] = (uint16_t)(i + 1);
        q->chain_len[i] = 0;
    }
    pd_dma_fence();
    wr(regs, VMMIO_QUEUE_NUM, num);
    wr64(regs, VMMIO_QUEUE_DESC_LOW, paddr);
    wr64(regs, VMMIO_QUEUE_DRIVER_LOW, paddr + avail_offset(num));
    wr64(regs, VMMIO_QUEUE_DEVICE_LOW, paddr + used_offset(num));
    wr(regs, VMMIO_QUEUE_READY, 1);
    return NULL;
}

int vq_alloc(struct vq *q, unsigned n)
{
    if (n == 0 || n > q->num_free)
        return -1;
    uint16_t head = q->free_head, last = head;
    for (unsigned k = 1; k < n; k++)
        last = q->next[last];
    q->free_head = q->next[last];
    q->num_free = (uint16_t)(q->num_free - n);
    q->chain_len[head] = (uint16_t)n;
    q->fill_at = head;
    q->fill_k = 0;
    return head;
}

void vq_set(struct vq *q, uint16_t head, unsigned k, uint64_t paddr, uint32_t len, bool writable)
{
    /* Buffers are set in order: follow the chain's own links from where the last one went. */
    if (k == 0 || (unsigned)q->fill_k + 1u != k) {
        q->fill_at = head;
        for (unsigned i = 0; i < k; i++)
            q->fill_at = q->next[q->fill_at];
    } else {
        q->fill_at = q->next[q->fill_at];
    }
    q->fill_k = (uint16_t)k;
    volatile struct vq_desc *d = &q->desc[q->fill_at];
    bool more = k + 1 < q->chain_len[head];
    d->addr = paddr;
    d->len = len;
    d->next = more ? q->next[q->fill_at] : 0;
    d->flags = (uint16_t)((writable ? VQ_DESC_F_WRITE : 0) | (more ? VQ_DESC_F_NEXT : 0));
}

void vq_add_chain(struct vq *q, uint16_t head)
{
    q->avail[2 + (q->avail_idx & (q->num - 1))] = head;
    q->avail_idx++;
}

void vq_publish(struct vq *q)
{
    pd_dma_fence(); /* descriptors and ring entries before the index */
    q->avail[1] = q->avail_idx;
}

int vq_take_used(struct vq *q, uint16_t *head, uint32_t *len)
{
    uint16_t idx = *(volatile uint16_t *)(q->used + 2);
    if (idx == q->last_used)
        return 0;
    pd_dma_fence(); /* the index before the entries it covers */
    volatile uint8_t *e = q->used + 4 + 8u * (q->last_used & (q->num - 1));
    uint32_t id = *(volatile uint32_t *)e;
    uint32_t n = *(volatile uint32_t *)(e + 4);
    q->last_used++;
    if (id >= q->num || !q->chain_len[id]) {
        q->bad_used++;
        return -1;
    }
    /* Back to the free list, by the driver's own links. */
    uint16_t last = (uint16_t)id;
    for (unsigned k = 1; k < q->chain_len[id]; k++)
        last = q->next[last];
    q->next[last] = q->free_head;
    q->free_head = (uint16_t)id;
    q->num_free = (uint16_t)(q->num_free + q->chain_len[id]);
    q->chain_len[id] = 0;
    *head = (uint16_t)id;
    *len = n;
    return 1;
}
