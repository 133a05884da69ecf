/*
 * The queue protocol (proto/ring.h, proto/conn.h): order, wrap-around of the free-running
 * indices, full and empty, the notification rule as far as one thread can show it, and a peer
 * that corrupts its index.
 */
#include <proto/conn.h>
#include <stddef.h>
#include <string.h>

#include "test.h"

#define CAP 4u

static uint8_t mem[RING_HEADER_BYTES + CAP * sizeof(struct ring_entry)]
    __attribute__((aligned(64)));
static struct ring prod, cons; /* two views of one ring, as the two PDs have */

static void setup(uint32_t start)
{
    memset(mem, 0, sizeof(mem));
    ring_init(&prod, mem, CAP);
    ring_init(&cons, mem, CAP);
    ((struct ring_shm *)mem)->head = start;
    ((struct ring_shm *)mem)->tail = start;
}

static struct ring_entry entry(uint32_t i)
{
    return (struct ring_entry){ 0x1000u * i, 100u + i, i };
}

TEST(ring_layout_matches_header)
{
    CHECK_EQ(sizeof(struct ring_shm), RING_HEADER_BYTES);
    CHECK_EQ(offsetof(struct ring_shm, tail), 64);
    CHECK_EQ(sizeof(struct ring_entry), 16);
    CHECK_EQ(RING_BYTES(CAP), sizeof(mem));
    /* The four rings of a connection start on 64-byte lines and do not overlap. */
    for (uint32_t cap = 1; cap <= 1024; cap *= 2) {
        for (unsigned i = 0; i + 1 < CONN_RINGS; i++) {
            CHECK_EQ(conn_ring_offset(cap, i) % 64, 0);
            CHECK(conn_ring_offset(cap, i) + RING_BYTES(cap) <= conn_ring_offset(cap, i + 1));
        }
        CHECK(conn_ring_offset(cap, CONN_RINGS - 1) + RING_BYTES(cap) <= conn_queue_bytes(cap));
    }
}

TEST(ring_order_full_and_empty)
{
    struct ring_entry e;
    bool notify;
    setup(0);
    CHECK(!ring_pop(&cons, &e));
    CHECK(ring_empty_before_wait(&cons));
    CHECK(ring_has_room(&prod, CAP));
    for (uint32_t i = 0; i < CAP; i++)
        CHECK(ring_push(&prod, &(struct ring_entry){ 0x1000u * i, 100u + i, i }, &notify));
    /* Full: nothing more goes in, nothing is overwritten. */
    CHECK(!ring_has_room(&prod, 1));
    e = entry(99);
    CHECK(!ring_push(&prod, &e, &notify));
    CHECK(!notify);
    CHECK(!ring_empty_before_wait(&cons));
    for (uint32_t i = 0; i < CAP; i++) {
        CHECK(ring_pop(&cons, &e));
        CHECK_EQ(e.id, i);
        CHECK_EQ(e.offset, 0x1000u * i);
        CHECK_EQ(e.len, 100u + i);
    }
    CHECK(!ring_pop(&cons, &e));
    CHECK(ring_empty_before_wait(&cons));
    CHECK(!prod.corrupt && !cons.corrupt);
}

/* Indices run freely through 2^32: entries keep their order across the wrap. */
TEST(ring_wraps_around_the_index_space)
{
    struct ring_entry e;
    setup(0xfffffffdu);
    uint32_t next_in = 0, next_out = 0;
    for (unsigned round = 0; round < 40; round++) {
        unsigned n = 1 + round % CAP;
        for (unsigned i = 0; i < n; i++) {
            e = entry(next_in);
            CHECK(ring_push(&prod, &e, NULL));
            next_in++;
        }
        for (unsigned i = 0; i < n; i++) {
            CHECK(ring_pop(&cons, &e));
            CHECK_EQ(e.id, next_out);
            next_out++;
        }
    }
    const struct ring_shm *s = (const struct ring_shm *)mem;
    CHECK(s->head < 0xfffffffdu); /* it did wrap */
    CHECK_EQ(s->head, s->tail);
    /* A full ring across the wrap. */
    setup(0xfffffffeu);
    for (uint32_t i = 0; i < CAP; i++) {
        e = entry(i);
        CHECK(ring_push(&prod, &e, NULL));
    }
    e = entry(9);
    CHECK(!ring_push(&prod, &e, NULL));
    CHECK(ring_pop(&cons, &e));
    CHECK_EQ(e.id, 0);
    CHECK(!prod.corrupt && !cons.corrupt);
}

/* The producer notifies when the ring was empty before its push, and only then. */
TEST(ring_notify_rule)
{
    struct ring_entry e = entry(1);
    bool notify;
    setup(7);
    CHECK(ring_push(&prod, &e, &notify));
    CHECK(notify); /* empty before */
    CHECK(ring_push(&prod, &e, &notify));
    CHECK(!notify); /* the consumer has one to take: it will see this one too */
    CHECK(ring_pop(&cons, &e));
    CHECK(ring_push(&prod, &e, &notify));
    CHECK(!notify); /* still not empty when pushed */
    /* The consumer drains it and checks before waiting: empty. The next push notifies. */
    while (ring_pop(&cons, &e))
        ;
    CHECK(ring_empty_before_wait(&cons));
    CHECK(ring_push(&prod, &e, &notify));
    CHECK(notify);
    /* A push the consumer has not waited for yet: its check before waiting sees it. */
    CHECK(!ring_empty_before_wait(&cons));
    CHECK(ring_pop(&cons, &e));
    /* The producer's head is stored before it looks at the tail: a consumer that looks after
     * the push sees the entry, so no notification is needed for it to make progress. */
    CHECK(ring_push(&prod, &e, NULL));
    CHECK_EQ(((struct ring_shm *)mem)->head - ((struct ring_shm *)mem)->tail, 1);
}

/* A peer's index out of range: the ring is corrupt for whoever sees it, and stays so. */
TEST(ring_corrupt_indices)
{
    struct ring_entry e = entry(3);
    struct ring_shm *s = (struct ring_shm *)mem;
    setup(0);
    /* The producer claims more entries than fit: the consumer stops. */
    s->head = CAP + 1;
    CHECK(!ring_pop(&cons, &e));
    CHECK(cons.corrupt);
    CHECK(ring_empty_before_wait(&cons));
    s->head = 1; /* making sense again does not revive it */
    CHECK(!ring_pop(&cons, &e));
    /* The consumer's tail ahead of the head: the producer stops. */
    setup(100);
    s->tail = 101;
    CHECK(!ring_push(&prod, &e, NULL));
    CHECK(prod.corrupt);
    CHECK(!ring_has_room(&prod, 1));
    /* Exactly full is not corrupt; one more is. */
    setup(50);
    s->head = 50 + CAP;
    CHECK(ring_pop(&cons, &e));
    CHECK(!cons.corrupt);
    setup(50);
    s->head = 50 + CAP + 1;
    CHECK(!ring_pop(&cons, &e));
    CHECK(cons.corrupt);
    /* A capacity that is not a power of two is refused before anything is read. */
    struct ring bad;
    ring_init(&bad, mem, 3);
    CHECK(bad.corrupt);
    CHECK(!ring_push(&bad, &e, NULL));
    CHECK(!ring_pop(&bad, &e));
    ring_init(&bad, mem, 0);
    CHECK(bad.corrupt);
}

/* Entries index the ring modulo its capacity, whatever the indices say. */
TEST(ring_entries_stay_inside_the_ring)
{
    struct ring_entry e = entry(5);
    struct ring_shm *s = (struct ring_shm *)mem;
    for (uint32_t start = 0xfffffff0u; start != 0x10u; start++) {
        setup(start);
        CHECK(ring_push(&prod, &e, NULL));
        CHECK_EQ(s->entries[start % CAP].id, 5);
        struct ring_entry out;
        CHECK(ring_pop(&cons, &out));
        CHECK_EQ(out.id, 5);
    }
}

TEST(ring_entry_inside_bounds)
{
    const uint64_t size = 4096;
    struct ring_entry e = { 0, 4096, 0 };
    CHECK(ring_entry_inside(&e, size));
    e = (struct ring_entry){ 4096, 0, 0 };
    CHECK(ring_entry_inside(&e, size));
    e = (struct ring_entry){ 4096, 1, 0 };
    CHECK(!ring_entry_inside(&e, size));
    e = (struct ring_entry){ 4097, 0, 0 };
    CHECK(!ring_entry_inside(&e, size));
    e = (struct ring_entry){ 1, 4096, 0 };
    CHECK(!ring_entry_inside(&e, size));
    e = (struct ring_entry){ UINT64_MAX - 10, 20, 0 }; /* would wrap */
    CHECK(!ring_entry_inside(&e, size));
    e = (struct ring_entry){ UINT64_MAX, 0xffffffffu, 0 };
    CHECK(!ring_entry_inside(&e, UINT64_MAX));
}
