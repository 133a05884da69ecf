/*
 * Split virtqueues (virtio 1.2, 2.7) in guest RAM. The guest may change anything at any time,
 * from another vCPU too: each index, descriptor and ring entry is read once into the VMM and
 * checked before use, every index is reduced to the queue, every buffer must lie inside guest
 * RAM, and a chain may hold each descriptor once (so at most QueueNum of them). A driver that
 * breaks a rule gets a decoded report and the device in DEVICE_NEEDS_RESET.
 *
 * Ordering: the available index is read with acquire semantics before the entries it covers;
 * used entries are written before the used index (release); the driver's interrupt
 * suppression flag is read after a full fence, so a driver re-enabling interrupts either sees
 * the new used entries or gets its interrupt.
 */
#include <vmm/log.h>
#include <vmm/util.h>

#include "virtio_internal.h"

static uint16_t load16(const uint8_t *p)
{
    return __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_RELAXED);
}

static uint32_t load32(const uint8_t *p)
{
    return __atomic_load_n((const uint32_t *)(const void *)p, __ATOMIC_RELAXED);
}

static uint64_t load64(const uint8_t *p)
{
    return __atomic_load_n((const uint64_t *)(const void *)p, __ATOMIC_RELAXED);
}

static void store32(uint8_t *p, uint32_t v)
{
    __atomic_store_n((uint32_t *)(void *)p, v, __ATOMIC_RELAXED);
}

/* One queue area: aligned, and inside guest RAM. */
static uint8_t *area(const struct virtio_dev *d, const char *what, uint64_t gpa, uint64_t bytes,
                     uint64_t align, char *why, size_t why_len)
{
    uint8_t *p = virtio_gpa(&d->mem, gpa, bytes);
    if (gpa & (align - 1))
        fmt_format(why, why_len, "its %s at 0x%llx is not %llu-byte aligned", what,
                   (unsigned long long)gpa, (unsigned long long)align);
    else if (!p)
        fmt_format(why, why_len,
                   "its %s (0x%llx bytes at 0x%llx) is not inside guest RAM (0x%llx bytes at "
                   "0x%llx)",
                   what, (unsigned long long)bytes, (unsigned long long)gpa,
                   (unsigned long long)d->mem.size, (unsigned long long)d->mem.base);
    else
        return p;
    return NULL;
}

bool virtq_enable(struct virtio_dev *d, struct virtq *q, char *why, size_t why_len)
{
    unsigned n = q->num, max = d->ops->queue_num_max;
    if (n == 0 || n > max || (n & (n - 1))) {
        fmt_format(why, why_len, "QueueNum %u is not a power of two from 1 to %u", n, max);
        return false;
    }
    uint8_t *desc =
        area(d, "descriptor table", q->desc, VIRTQ_DESC_BYTES(n), VIRTQ_DESC_ALIGN, why, why_len);
    uint8_t *avail = desc ? area(d, "driver area", q->driver, VIRTQ_AVAIL_BYTES(n),
                                 VIRTQ_AVAIL_ALIGN, why, why_len)
                          : NULL;
    uint8_t *used = avail ? area(d, "device area", q->device, VIRTQ_USED_BYTES(n), VIRTQ_USED_ALIGN,
                                 why, why_len)
                          : NULL;
    if (!used)
        return false;
    q->desc_p = desc;
    q->avail_p = avail;
    q->used_p = used;
    q->last_avail = q->used_idx = 0;
    q->used_any = false;
    q->ready = true;
    return true;
}

int virtq_pop_avail(struct virtio_dev *d, unsigned qi, uint16_t *head)
{
    struct virtq *q = &d->vq[qi];
    uint16_t idx =
        __atomic_load_n((const uint16_t *)(const void *)(q->avail_p + 2), __ATOMIC_ACQUIRE);
    uint16_t outstanding = (uint16_t)(idx - q->last_avail);
    if (!outstanding)
        return 0;
    if (outstanding > q->num) {
        virtio_guest_error(d, virtio_queue_name(d, qi),
                           "the available index moved to %u, %u entries past the %u taken, "
                           "more than the queue's %u",
                           idx, outstanding, q->last_avail, q->num);
        return -1;
    }
    uint16_t slot = (uint16_t)(q->last_avail & (q->num - 1));
    uint16_t h = load16(q->avail_p + 4 + 2u * slot);
    if (h >= q->num) {
        virtio_guest_error(d, virtio_queue_name(d, qi),
                           "available entry %u names descriptor %u, beyond the queue's %u", slot, h,
                           q->num);
        return -1;
    }
    q->last_avail++;
    *head = h;
    return 1;
}

void virtq_push_used(struct virtio_dev *d, unsigned qi, uint16_t head, uint32_t len)
{
    struct virtq *q = &d->vq[qi];
    uint8_t *e = q->used_p + 4 + 8u * (q->used_idx & (q->num - 1));
    store32(e, head);
    store32(e + 4, len);
    q->used_idx++;
    __atomic_store_n((uint16_t *)(void *)(q->used_p + 2), q->used_idx, __ATOMIC_RELEASE);
    q->used_any = true;
}

void virtq_signal(struct virtio_dev *d, unsigned qi)
{
    struct virtq *q = &d->vq[qi];
    if (!q->used_any)
        return;
    q->used_any = false;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!(load16(q->avail_p) & VIRTQ_AVAIL_F_NO_INTERRUPT))
        virtio_interrupt(d, VIRTIO_INT_USED);
}

void virtq_chain_start(struct virtq_chain *c, struct virtio_dev *d, unsigned q, uint16_t head,
                       enum virtq_dir dir)
{
    c->d = d;
    c->q = q;
    c->head = c->next = head;
    c->dir = dir;
    c->done = c->in_writable = false;
    c->count = 0;
    c->total = 0;
    c->table = d->vq[q].desc_p;
    c->table_num = d->vq[q].num;
    c->indirect = false;
    vmm_memset(c->seen, 0, sizeof(c->seen));
}

/* Descriptor `i` (with `addr`, `len`, `flags`) is indirect: check its table and read the rest of
 * the chain from it. NULL, or why it cannot be. */
static const char *enter_indirect(struct virtq_chain *c, uint64_t addr, uint32_t len,
                                  uint16_t flags)
{
    const uint8_t *table;
    if (!((c->d->driver_features >> VIRTIO_F_INDIRECT_DESC) & 1))
        return "is indirect, and VIRTIO_F_INDIRECT_DESC was not negotiated";
    if (c->indirect)
        return "is indirect inside an indirect table";
    if (flags & VIRTQ_DESC_F_NEXT)
        return "is indirect and has NEXT too";
    if (len == 0 || len % 16 || len / 16 > VIRTQ_MAX_SIZE)
        return "is an indirect table whose size is not 1 to 512 descriptors of 16 bytes";
    if (addr & 7)
        return "is an indirect table not aligned to 8 bytes";
    if (!(table = virtio_gpa(&c->d->mem, addr, len)))
        return "is an indirect table not inside guest RAM";
    c->table = table;
    c->table_num = len / 16;
    c->indirect = true;
    c->next = 0;
    vmm_memset(c->seen, 0, sizeof(c->seen));
    return NULL;
}

static const char *flag_names(uint16_t flags)
{
    static const char *const names[8] = {
        "",         "NEXT",          "WRITE",          "NEXT|WRITE",
        "INDIRECT", "NEXT|INDIRECT", "WRITE|INDIRECT", "NEXT|WRITE|INDIRECT"
    };
    return names[flags & 7];
}

int virtq_chain_next(struct virtq_chain *c, struct virtq_seg *seg)
{
    if (c->done)
        return 0;
    struct virtio_dev *d = c->d;
    const char *qn = virtio_queue_name(d, c->q);
    const char *kind = c->indirect ? "indirect descriptor" : "descriptor";
    uint16_t i = c->next;
    if (i >= c->table_num) {
        virtio_guest_error(d, qn,
                           "chain from descriptor %u: %s %u is beyond the %s's %u (after %u "
                           "descriptors)",
                           c->head, kind, i, c->indirect ? "indirect table" : "queue", c->table_num,
                           c->count);
        return -1;
    }
    if (c->seen[i / 32] & (1u << (i % 32))) {
        if (!c->indirect && c->count == c->table_num)
            virtio_guest_error(d, qn,
                               "chain from descriptor %u goes on after all %u descriptors of the "
                               "queue, back to descriptor %u",
                               c->head, c->table_num, i);
        else
            virtio_guest_error(d, qn,
                               "chain from descriptor %u loops back to %s %u after %u "
                               "descriptors",
                               c->head, kind, i, c->count);
        return -1;
    }
    c->seen[i / 32] |= 1u << (i % 32);
    c->count++;
    /* Each field read once: what is checked is what is used. */
    const uint8_t *p = c->table + 16u * i;
    uint64_t addr = load64(p);
    uint32_t len = load32(p + 8);
    uint32_t flags_next = load32(p + 12);
    uint16_t flags = (uint16_t)(flags_next & 0xffff), next = (uint16_t)(flags_next >> 16);
    bool writable = flags & VIRTQ_DESC_F_WRITE;
    const char *why = NULL;
    if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (!(why = enter_indirect(c, addr, len, flags)))
            return virtq_chain_next(c, seg); /* once: an indirect table holds no other */
    } else if (writable && c->dir == VIRTQ_DEVICE_READS)
        why = "is device-writable in a queue of buffers the device only reads";
    else if (!writable && c->dir == VIRTQ_DEVICE_WRITES)
        why = "is device-readable in a queue of buffers the device only writes";
    else if (!writable && c->in_writable)
        why = "is device-readable after a device-writable one";
    else if (!(seg->ptr = virtio_gpa(&d->mem, addr, len)))
        why = "is not inside guest RAM";
    else if ((c->total += len) > 0xffffffffu)
        why = "makes the chain longer than 4 GiB";
    if (why) {
        virtio_guest_error(d, qn,
                           "chain from descriptor %u: %s %u (0x%x bytes at 0x%llx, flags 0x%x %s) "
                           "%s",
                           c->head, kind, i, len, (unsigned long long)addr, flags,
                           flag_names(flags), why);
        return -1;
    }
    c->in_writable = writable;
    seg->len = len;
    seg->writable = writable;
    if (flags & VIRTQ_DESC_F_NEXT)
        c->next = next;
    else
        c->done = true;
    return 1;
}
