/*
 * The queue protocol between protection domains: a single-producer / single-consumer ring of
 * buffer descriptors in a memory region both sides map. Every connection between a VMM and a
 * backend (serial multiplexer, block server, virtual switch) and between native PDs is built
 * from such rings plus data regions holding the buffers the descriptors name, and one Microkit
 * channel to notify the other side.
 *
 * Layout of one ring (struct ring_shm): the producer's index, the consumer's index, each on its
 * own 64-byte line, then `capacity` entries. The capacity is a power of two that both sides take
 * from their own configuration, never from shared memory. Indices run freely (mod 2^32); the
 * ring holds head - tail entries.
 *
 * Trust: the other side may write anything, at any time, into the shared region. The functions
 * here never index memory with a value read from it without reducing it modulo the capacity, and
 * report a peer whose indices make no sense (more than `capacity` entries outstanding) as
 * corrupt; callers then stop using the connection. Entries are copied out before they are used,
 * and their offsets and lengths must still be checked against the data region by the caller
 * (ring_entry_inside).
 *
 * Memory ordering (AArch64, both sides on one or several cores, normal cacheable memory):
 *   producer: write the entry; release fence; store head+1;
 *             full fence; load tail; notify if the ring was empty before this push
 *             (tail == the old head).
 *   consumer: load head; acquire fence; read the entry; release fence; store tail+1;
 *             before waiting for a notification: full fence; load head; if not empty, go on.
 * Each side stores its index, then (full fence) loads the other's, so at least one of them sees
 * the other's store: either the producer sees the ring was drained and notifies, or the consumer
 * sees the new entry before it waits. No notification is lost and none is sent while the
 * consumer is known to be busy with entries.
 */
#ifndef PROTO_RING_H
#define PROTO_RING_H

#include <stdbool.h>
#include <stdint.h>

struct ring_entry {
    uint64_t offset; /* into the data region the connection names for this ring */
    uint32_t len;
    uint32_t id; /* chosen by whoever first queued the buffer; returned unchanged */
};

struct ring_shm {
    uint32_t head; /* written by the producer only */
    uint32_t pad0[15];
    uint32_t tail; /* written by the consumer only */
    uint32_t pad1[15];
    struct ring_entry entries[];
};

#define RING_HEADER_BYTES 128u
#define RING_BYTES(capacity) (RING_HEADER_BYTES + (uint64_t)(capacity) * sizeof(struct ring_entry))

/* One side's view of a ring: where it is and how big both sides agreed it is. */
struct ring {
    struct ring_shm *shm;
    uint32_t capacity; /* power of two */
    bool corrupt;      /* the peer's index went out of range: stop using the ring */
};

static inline void ring_fence_full(void)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static inline uint32_t ring_load(const uint32_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void ring_store_release(uint32_t *p, uint32_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline bool ring_capacity_ok(uint32_t capacity)
{
    return capacity && !(capacity & (capacity - 1));
}

/* Attach to a ring at `shm` of `capacity` entries. */
static inline void ring_init(struct ring *r, void *shm, uint32_t capacity)
{
    r->shm = (struct ring_shm *)shm;
    r->capacity = capacity;
    r->corrupt = !ring_capacity_ok(capacity);
}

/* Zero both indices: only the side that sets the connection up, before the other uses it. */
static inline void ring_reset(struct ring *r)
{
    ring_store_release(&r->shm->head, 0);
    ring_store_release(&r->shm->tail, 0);
    r->corrupt = !ring_capacity_ok(r->capacity);
}

/* Entries outstanding as the producer or consumer sees them; marks the ring corrupt (and says
 * 0 or full) if the peer's index is out of range. */
static inline uint32_t ring_count(struct ring *r, uint32_t head, uint32_t tail)
{
    uint32_t n = head - tail;
    if (n > r->capacity)
        r->corrupt = true;
    return n;
}

/* Producer: queue one entry. False if the ring is full or corrupt. *notify (may be NULL) is set
 * when the consumer must be notified (the ring was empty). */
static inline bool ring_push(struct ring *r, const struct ring_entry *e, bool *notify)
{
    if (notify)
        *notify = false;
    if (r->corrupt)
        return false;
    struct ring_shm *s = r->shm;
    uint32_t head = ring_load(&s->head), tail = ring_load(&s->tail);
    if (ring_count(r, head, tail) >= r->capacity || r->corrupt)
        return false;
    s->entries[head & (r->capacity - 1)] = *e;
    ring_store_release(&s->head, head + 1);
    ring_fence_full();
    if (ring_load(&s->tail) == head && notify)
        *notify = true;
    return true;
}

/* Producer: room for n more entries? */
static inline bool ring_has_room(struct ring *r, uint32_t n)
{
    if (r->corrupt)
        return false;
    uint32_t count = ring_count(r, ring_load(&r->shm->head), ring_load(&r->shm->tail));
    return !r->corrupt && r->capacity - count >= n;
}

/* Consumer: take one entry (a copy). False if the ring is empty or corrupt. */
static inline bool ring_pop(struct ring *r, struct ring_entry *out)
{
    if (r->corrupt)
        return false;
    struct ring_shm *s = r->shm;
    uint32_t tail = ring_load(&s->tail), head = ring_load(&s->head);
    if (ring_count(r, head, tail) == 0 || r->corrupt)
        return false;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    const volatile struct ring_entry *src = &s->entries[tail & (r->capacity - 1)];
    out->offset = src->offset;
    out->len = src->len;
    out->id = src->id;
    ring_store_release(&s->tail, tail + 1);
    return true;
}

/* Consumer, before it waits for a notification: true if the ring is really empty (after the
 * fence); false means entries arrived and must be taken first. A corrupt ring counts as empty. */
static inline bool ring_empty_before_wait(struct ring *r)
{
    if (r->corrupt)
        return true;
    ring_fence_full();
    uint32_t tail = ring_load(&r->shm->tail), head = ring_load(&r->shm->head);
    return ring_count(r, head, tail) == 0 || r->corrupt;
}

/* True if [e->offset, e->offset + e->len) lies inside a data region of `size` bytes, without
 * overflow; zero-length entries are inside when their offset is. */
static inline bool ring_entry_inside(const struct ring_entry *e, uint64_t size)
{
    return e->offset <= size && e->len <= size - e->offset;
}

#endif
