/* The client API of the serial protocol (pd/serial_client.h), against a server played by hand:
 * buffers lent and taken back, output cut into buffers, input read in pieces, and what it does
 * with buffers it never lent. */
#include <pd/serial_client.h>
#include <string.h>

#include "sim_pd.h"
#include "test.h"

#define CH 5
#define CAP 8

static struct {
    _Alignas(64) uint8_t queue[4096];
    uint8_t tx[CAP * SERIAL_BUF_SIZE];
    uint8_t rx[4 * SERIAL_BUF_SIZE];
    struct conn_config cfg;
    struct conn server; /* the other side's view of the same rings */
    struct serial_client c;
} f;

static bool start(void)
{
    memset(&f, 0, sizeof(f));
    sim_pd_reset();
    f.cfg = (struct conn_config){
        (uintptr_t)f.queue, CAP, (uintptr_t)f.tx, sizeof(f.tx), (uintptr_t)f.rx, sizeof(f.rx), CH
    };
    conn_attach(&f.server, &f.cfg);
    return serial_client_init(&f.c, &f.cfg);
}

/* The server fills the next free RX buffer with `s` and hands it over. */
static bool server_send(const char *s)
{
    struct ring_entry e;
    if (!ring_pop(&f.server.ring[CONN_RX_FREE], &e) || strlen(s) > e.len)
        return false;
    memcpy(f.rx + e.offset, s, strlen(s));
    e.len = (uint32_t)strlen(s);
    return ring_push(&f.server.ring[CONN_RX_ACTIVE], &e, NULL);
}

TEST(serial_client_lends_every_rx_buffer_at_start)
{
    CHECK(start());
    CHECK_EQ(f.c.bc.rx_bufs, 4);
    CHECK_EQ(f.c.bc.tx_bufs, 8);
    CHECK_EQ(sim_pd.notifies[CH], 1);
    for (uint32_t i = 0; i < 4; i++) {
        struct ring_entry e;
        CHECK(ring_pop(&f.server.ring[CONN_RX_FREE], &e));
        CHECK(e.offset == i * SERIAL_BUF_SIZE && e.len == SERIAL_BUF_SIZE && e.id == i);
    }
    struct ring_entry e;
    CHECK(!ring_pop(&f.server.ring[CONN_RX_FREE], &e));
    CHECK_EQ(serial_client_room(&f.c), 8 * SERIAL_BUF_SIZE);
}

TEST(serial_client_refuses_a_connection_it_cannot_use)
{
    start();
    f.cfg.capacity = 6;
    CHECK(!serial_client_init(&f.c, &f.cfg));
    CHECK(f.c.bc.ended);
    CHECK_EQ(serial_client_put(&f.c, "x", 1), 0);
    CHECK_EQ(f.c.out_dropped, 1);
    char b[4];
    CHECK_EQ(serial_client_get(&f.c, b, sizeof(b)), 0);
    CHECK_EQ(serial_client_room(&f.c), 0);
    start();
    f.cfg.rx_size = SERIAL_BUF_SIZE - 1; /* not one buffer */
    CHECK(!serial_client_init(&f.c, &f.cfg));
    start();
    f.cfg.tx_data = 0;
    CHECK(!serial_client_init(&f.c, &f.cfg));
}

TEST(serial_client_output_is_cut_into_buffers_that_come_back)
{
    CHECK(start());
    uint8_t out[1000];
    for (unsigned i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i * 7);
    sim_pd_take_notify(CH);
    CHECK_EQ(serial_client_put(&f.c, out, sizeof(out)), sizeof(out));
    CHECK_EQ(sim_pd_take_notify(CH), 1); /* one notification: the ring was empty */
    CHECK_EQ(serial_client_room(&f.c), 6 * SERIAL_BUF_SIZE);
    struct ring_entry a, b;
    CHECK(ring_pop(&f.server.ring[CONN_TX_ACTIVE], &a));
    CHECK(ring_pop(&f.server.ring[CONN_TX_ACTIVE], &b));
    CHECK(a.len == SERIAL_BUF_SIZE && b.len == 1000 - SERIAL_BUF_SIZE && a.id != b.id);
    CHECK(memcmp(f.tx + a.offset, out, a.len) == 0);
    CHECK(memcmp(f.tx + b.offset, out + a.len, b.len) == 0);
    CHECK(ring_push(&f.server.ring[CONN_TX_FREE], &a, NULL));
    CHECK(ring_push(&f.server.ring[CONN_TX_FREE], &b, NULL));
    serial_client_notified(&f.c);
    CHECK(!f.c.bc.ended);
    CHECK_EQ(serial_client_room(&f.c), 8 * SERIAL_BUF_SIZE);
}

TEST(serial_client_drops_and_counts_output_with_no_buffer)
{
    CHECK(start());
    static uint8_t big[5000];
    CHECK_EQ(serial_client_put(&f.c, big, sizeof(big)), 8 * SERIAL_BUF_SIZE);
    CHECK_EQ(f.c.out_dropped, sizeof(big) - 8 * SERIAL_BUF_SIZE);
    CHECK_EQ(serial_client_puts(&f.c, "more"), 0);
    CHECK_EQ(f.c.out_dropped, sizeof(big) - 8 * SERIAL_BUF_SIZE + 4);
    CHECK(!f.c.bc.ended);
}

TEST(serial_client_reads_input_in_pieces_and_gives_buffers_back)
{
    CHECK(start());
    CHECK(server_send("hello world"));
    CHECK(server_send("!"));
    struct ring_entry held[2]; /* the server keeps the other two */
    CHECK(ring_pop(&f.server.ring[CONN_RX_FREE], &held[0]));
    CHECK(ring_pop(&f.server.ring[CONN_RX_FREE], &held[1]));
    char b[8];
    CHECK_EQ(serial_client_get(&f.c, b, 4), 4);
    CHECK(memcmp(b, "hell", 4) == 0);
    struct ring_entry e;
    CHECK(!ring_pop(&f.server.ring[CONN_RX_FREE], &e)); /* still being read */
    sim_pd_take_notify(CH);
    CHECK_EQ(serial_client_get(&f.c, b, 8), 8);
    CHECK(memcmp(b, "o world!", 8) == 0);
    CHECK_EQ(sim_pd_take_notify(CH), 1);
    CHECK(ring_pop(&f.server.ring[CONN_RX_FREE], &e));
    CHECK(e.offset == 0 && e.len == SERIAL_BUF_SIZE && e.id == 0);
    CHECK(ring_pop(&f.server.ring[CONN_RX_FREE], &e));
    CHECK(e.offset == SERIAL_BUF_SIZE && e.len == SERIAL_BUF_SIZE && e.id == 1);
    CHECK_EQ(serial_client_get(&f.c, b, 8), 0);
}

TEST(serial_client_ends_the_connection_on_a_tx_buffer_it_did_not_lend)
{
    CHECK(start());
    struct ring_entry e = { 0, 1, 9 }; /* there are 8 */
    CHECK(ring_push(&f.server.ring[CONN_TX_FREE], &e, NULL));
    serial_client_notified(&f.c);
    CHECK(f.c.bc.ended);
    CHECK_EQ(serial_client_puts(&f.c, "x"), 0);
    /* A buffer it has already (given back twice). */
    CHECK(start());
    CHECK_EQ(serial_client_puts(&f.c, "x"), 1);
    CHECK(ring_pop(&f.server.ring[CONN_TX_ACTIVE], &e));
    CHECK(ring_push(&f.server.ring[CONN_TX_FREE], &e, NULL));
    CHECK(ring_push(&f.server.ring[CONN_TX_FREE], &e, NULL));
    serial_client_notified(&f.c);
    CHECK(f.c.bc.ended);
}

TEST(serial_client_ends_the_connection_on_an_rx_buffer_it_did_not_lend)
{
    static const struct ring_entry bad[] = {
        { 0, 4, 7 },                   /* id never lent */
        { SERIAL_BUF_SIZE, 4, 0 },     /* not where buffer 0 is */
        { 0, 0, 0 },                   /* empty */
        { 0, SERIAL_BUF_SIZE + 1, 0 }, /* longer than a buffer */
    };
    for (unsigned k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        CHECK(start());
        struct ring_entry e;
        CHECK(ring_pop(&f.server.ring[CONN_RX_FREE], &e));
        CHECK(ring_push(&f.server.ring[CONN_RX_ACTIVE], &bad[k], NULL));
        char b[8];
        CHECK_EQ(serial_client_get(&f.c, b, sizeof(b)), 0);
        CHECK(f.c.bc.ended);
    }
    /* One it has not lent again: the server made RX_FREE look full, so buffer 0 stayed. */
    CHECK(start());
    CHECK(server_send("a"));
    struct ring_shm *free = f.server.ring[CONN_RX_FREE].shm;
    free->tail = free->head - CAP;
    char b[8];
    CHECK_EQ(serial_client_get(&f.c, b, sizeof(b)), 1);
    CHECK(!f.c.bc.ended);
    struct ring_entry again = { 0, 1, 0 };
    CHECK(ring_push(&f.server.ring[CONN_RX_ACTIVE], &again, NULL));
    CHECK_EQ(serial_client_get(&f.c, b, sizeof(b)), 0);
    CHECK(f.c.bc.ended);
}

TEST(serial_client_ends_the_connection_on_a_corrupt_ring)
{
    CHECK(start());
    f.server.ring[CONN_RX_ACTIVE].shm->head = 1000;
    char b[8];
    CHECK_EQ(serial_client_get(&f.c, b, sizeof(b)), 0);
    CHECK(f.c.bc.ended);
}
