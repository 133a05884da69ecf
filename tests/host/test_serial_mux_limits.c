/* The serial multiplexer against clients that misbehave: one that never reads its input, one
 * that floods, bad entries, corrupt rings, bad configurations; and a UART slower than the
 * clients. */
#include <pd/pd.h>
#include <stdio.h>
#include <string.h>

#include "mux_fixture.h"
#include "sim_pd.h"
#include "test.h"

static void two_api_clients(bool instant)
{
    mfx_setup(2, instant);
    mfx_use_api(0);
    mfx_use_api(1);
    mfx_start();
}

/* Lets the line take everything the mux has for it. */
static void drain_all(void)
{
    for (unsigned i = 0; i < 100000 && (mfx.uart.tx_count || mfx.mux.out_head != mfx.mux.out_tail);
         i++) {
        sim_pl011_drain(&mfx.uart, 16);
        mfx_pump();
    }
}

TEST(mux_input_for_a_client_that_never_reads_is_dropped_and_counted)
{
    two_api_clients(true);
    mfx_wire_since();
    /* linux1 lent its 4 receive buffers; each keystroke fills one. */
    mfx_type("a");
    mfx_type("b");
    mfx_type("c");
    mfx_type("d");
    CHECK_EQ(mfx.mux.client[0].count.in_bytes, 4);
    CHECK(strcmp(mfx_wire_since(), "") == 0);
    mfx_type("e");
    mfx_type("f");
    CHECK_EQ(mfx.mux.client[0].count.in_dropped, 2);
    CHECK(strcmp(mfx_wire_since(), "[mux] linux1 (1): input dropped: it has no free receive "
                                   "buffer (counted: Ctrl-\\ ?)\r\n") == 0);
    for (unsigned i = 0; i < 100; i++)
        mfx_type("g");
    CHECK_EQ(mfx.mux.client[0].count.in_dropped, 102);
    CHECK_EQ(mfx_wire_count("input dropped"), 1);
    /* The other client is not held up. */
    char got[64];
    mfx_type("\x1c"
             "2hi");
    CHECK_EQ(mfx_get(1, got, sizeof(got)), 2);
    CHECK(strcmp(got, "hi") == 0);
    mfx_put(1, "still here\n");
    CHECK(strstr(mfx_wire_since(), "[linux2] still here\r\n") != NULL);
    /* linux1 reads at last: what it had is there, and input reaches it again. */
    CHECK_EQ(mfx_get(0, got, sizeof(got)), 4);
    CHECK(strcmp(got, "abcd") == 0);
    mfx_type("\x1c"
             "1z");
    CHECK_EQ(mfx_get(0, got, sizeof(got)), 1);
    CHECK(strcmp(got, "z") == 0);
    mfx_type("\x1c?");
    CHECK(strstr(mfx_wire_since(), "[mux] linux1 (1): out 0 bytes (long lines cut 0), in 5 bytes, "
                                   "in dropped 102, bad entries 0\r\n") != NULL);
}

TEST(mux_a_client_that_floods_does_not_hold_up_the_others)
{
    two_api_clients(false);
    drain_all();
    mfx_wire_since();
    unsigned next = 0;
    const unsigned lines = 400;
    /* linux1 keeps its TX ring full; linux2 says one line; the UART is far slower than both. */
    size_t linux2_at = 0, switch_at = 0, before = mfx.uart.wire_len;
    for (unsigned step = 0; step < 100000 && (next < lines || mfx.uart.tx_count); step++) {
        while (next < lines && serial_client_room(&mfx.c[0].api) >= SERIAL_BUF_SIZE) {
            char l[64];
            snprintf(l, sizeof(l), "flood line %05u of linux1, to fill the UART\n", next++);
            serial_client_puts(&mfx.c[0].api, l);
        }
        if (step == 20) {
            serial_client_puts(&mfx.c[1].api, "linux2 is not held up\n");
            linux2_at = mfx.uart.wire_len;
        }
        if (step == 40) {
            mfx_type("\x1c"
                     "2");
            switch_at = mfx.uart.wire_len;
        }
        mfx_pump();
        sim_pl011_drain(&mfx.uart, 16);
        mfx_pump();
    }
    CHECK_EQ(next, lines);
    const char *w = mfx_wire_since();
    const char *l2 = strstr(w, "[linux2] linux2 is not held up\r\n");
    const char *sw = strstr(w, "[mux] input -> linux2 (2)\r\n");
    CHECK(l2 != NULL && sw != NULL);
    /* What was ahead of them: at most the mux's output buffer and one entry. */
    CHECK((size_t)(l2 - w) + before < linux2_at + MUX_OUT_SIZE + SERIAL_BUF_SIZE + 64);
    CHECK((size_t)(sw - w) + before < switch_at + MUX_OUT_SIZE + SERIAL_BUF_SIZE + 64);
    /* Nothing of the flood was lost, and it came in order. */
    const char *p = w;
    for (unsigned i = 0; i < lines; i++) {
        char l[80];
        snprintf(l, sizeof(l), "[linux1] flood line %05u of linux1, to fill the UART\r\n", i);
        p = strstr(p, l);
        CHECK(p != NULL);
    }
    CHECK_EQ(mfx.c[0].api.out_dropped, 0);
    CHECK_EQ(mfx.mux.mux_lines_dropped, 0);
    CHECK_EQ(mfx.uart.violations, 0);
}

TEST(mux_output_continues_on_the_tx_interrupt)
{
    two_api_clients(false);
    drain_all();
    mfx_wire_since();
    char text[2048];
    size_t n = 0;
    for (unsigned i = 0; n + 40 < sizeof(text); i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "line %u of many\n", i);
    serial_client_puts(&mfx.c[1].api, text);
    mfx_pump();
    /* The FIFO is full and the rest waits for the TX interrupt. */
    CHECK_EQ(mfx.uart.tx_count, 16);
    CHECK(mfx.uart.imsc & PL011_INT_TX);
    unsigned acks = sim_pd.irq_acks[MFX_IRQ_CH];
    drain_all();
    CHECK(sim_pd.irq_acks[MFX_IRQ_CH] > acks + 10);
    CHECK(!(mfx.uart.imsc & PL011_INT_TX));
    const char *w = mfx_wire_since();
    CHECK(strstr(w, "[linux2] line 0 of many\r\n") == w);
    CHECK(strstr(w, "[linux2] line 99 of many\r\n") != NULL);
    CHECK_EQ(mfx.uart.violations, 0);
}

/* A client driven by hand: its TX region holds "ok\n" at 0. */
static void raw_client(void)
{
    mfx_setup(2, true);
    mfx_start();
    memcpy(mfx.c[0].tx, "ok\n", 3);
    mfx_wire_since();
}

static bool given_back(unsigned i, uint64_t offset, uint32_t len, uint32_t id)
{
    struct ring_entry e;
    return ring_pop(&mfx.c[i].raw.ring[CONN_TX_FREE], &e) && e.offset == offset && e.len == len &&
           e.id == id;
}

TEST(mux_bad_tx_entries_are_dropped_counted_and_given_back)
{
    raw_client();
    const struct {
        uint64_t offset;
        uint32_t len;
    } bad[] = {
        { MFX_TX_SIZE, 1 },         /* starts at the end */
        { 0, 0 },                   /* empty */
        { 0, SERIAL_BUF_SIZE + 1 }, /* longer than a buffer */
        { ~0ull, 2 },               /* offset + len wraps */
        { MFX_TX_SIZE - 1, 2 },     /* runs past the end */
        { 1ull << 40, 8 },          /* far away */
    };
    for (unsigned k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        mfx_raw_tx(0, bad[k].offset, bad[k].len, 100 + k);
        CHECK(given_back(0, bad[k].offset, bad[k].len, 100 + k));
    }
    CHECK_EQ(mfx.mux.client[0].count.bad_entries, 6);
    CHECK_EQ(mfx.mux.client[0].count.out_bytes, 0);
    CHECK(strcmp(mfx_wire_since(),
                 "[mux] linux1 (1): bad TX entry (offset 0x1000, length 1; region 0x1000 bytes, "
                 "buffers 1-512): dropped; more are only counted (Ctrl-\\ ?)\r\n") == 0);
    /* A good one after them is printed. */
    mfx_raw_tx(0, 0, 3, 7);
    CHECK(given_back(0, 0, 3, 7));
    CHECK(strcmp(mfx_wire_since(), "[linux1] ok\r\n") == 0);
}

TEST(mux_bad_rx_buffers_are_skipped_and_counted)
{
    raw_client();
    struct ring *free = &mfx.c[0].raw.ring[CONN_RX_FREE];
    struct ring_entry bad1 = { MFX_RX_SIZE, 10, 1 }, bad2 = { 0, 0, 2 },
                      bad3 = { 0, SERIAL_BUF_SIZE + 1, 3 }, good = { 512, 4, 4 };
    CHECK(ring_push(free, &bad1, NULL) && ring_push(free, &bad2, NULL) &&
          ring_push(free, &bad3, NULL) && ring_push(free, &good, NULL));
    memset(mfx.c[0].rx, '.', sizeof(mfx.c[0].rx));
    mfx_type("hello");
    struct ring_entry e;
    CHECK(ring_pop(&mfx.c[0].raw.ring[CONN_RX_ACTIVE], &e));
    CHECK(e.offset == 512 && e.len == 4 && e.id == 4);
    CHECK(memcmp(mfx.c[0].rx + 512, "hell", 4) == 0);
    /* Nothing else in the region was written. */
    for (unsigned i = 0; i < MFX_RX_SIZE; i++)
        CHECK(i >= 512 && i < 516 ? 1 : mfx.c[0].rx[i] == '.');
    CHECK(!ring_pop(&mfx.c[0].raw.ring[CONN_RX_ACTIVE], &e));
    CHECK_EQ(mfx.mux.client[0].count.bad_entries, 3);
    CHECK_EQ(mfx.mux.client[0].count.in_bytes, 4);
    CHECK_EQ(mfx.mux.client[0].count.in_dropped, 1);
    CHECK_EQ(mfx_wire_count("bad RX entry"), 1);
}

TEST(mux_rx_buffers_are_filled_no_further_than_their_length)
{
    raw_client();
    struct ring_entry small = { 100, 3, 9 };
    CHECK(ring_push(&mfx.c[0].raw.ring[CONN_RX_FREE], &small, NULL));
    memset(mfx.c[0].rx, '.', sizeof(mfx.c[0].rx));
    mfx_type("abcdef");
    CHECK(memcmp(mfx.c[0].rx + 99, ".abc.", 5) == 0);
    CHECK_EQ(mfx.mux.client[0].count.in_dropped, 3);
}

/* Corrupts one ring index of client 0 by hand. */
static void corrupt(unsigned ring, bool head, uint32_t value)
{
    struct ring_shm *s = mfx.c[0].raw.ring[ring].shm;
    if (head)
        s->head = value;
    else
        s->tail = value;
}

TEST(mux_a_corrupt_tx_ring_ends_that_connection_with_one_report)
{
    two_api_clients(true);
    mfx_put(0, "partial");
    mfx_wire_since();
    corrupt(CONN_TX_ACTIVE, true, 1000);
    pd_notify(MFX_CLIENT_CH(0));
    mfx_pump();
    CHECK(mfx.mux.client[0].ended);
    CHECK(
        strcmp(mfx_wire_since(),
               "\r\n[mux] linux1 (1): connection ended: its TX_ACTIVE ring is corrupt (head 1000, "
               "tail 1, capacity 8); its input is dropped from now on\r\n") == 0);
    /* Its rings are not touched again, whatever it does. */
    corrupt(CONN_TX_ACTIVE, true, 2); /* sane again: too late */
    uint8_t snapshot[sizeof(mfx.c[0].queue)];
    memcpy(snapshot, mfx.c[0].queue, sizeof(snapshot));
    for (unsigned i = 0; i < 5; i++) {
        pd_notify(MFX_CLIENT_CH(0));
        mfx_pump();
    }
    mfx_type("typed");
    CHECK(memcmp(snapshot, mfx.c[0].queue, sizeof(snapshot)) == 0);
    CHECK_EQ(mfx_wire_count("connection ended"), 1);
    CHECK_EQ(mfx.mux.client[0].count.in_dropped, 5);
    CHECK(strstr(mfx_wire_since(), "[mux] linux1 (1): input dropped: it has no connection") !=
          NULL);
    /* The other client goes on. */
    mfx_put(1, "fine\n");
    CHECK(strcmp(mfx_wire_since(), "[linux2] fine\r\n") == 0);
    mfx_type("\x1c"
             "1");
    CHECK(strstr(mfx_wire_since(), "[mux] input -> linux1 (1): its connection has ended, input to "
                                   "it is dropped\r\n") != NULL);
}

TEST(mux_a_corrupt_ring_is_seen_on_every_ring)
{
    static const struct {
        unsigned ring;
        bool head;
        const char *name;
        const char *act; /* "put", "notify" or "type" */
    } cases[] = {
        { CONN_TX_ACTIVE, false, "TX_ACTIVE", "notify" }, /* the mux's own index moved */
        { CONN_TX_FREE, false, "TX_FREE", "put" },        /* the client's index ahead of the head */
        { CONN_RX_FREE, true, "RX_FREE", "type" },
        { CONN_RX_ACTIVE, false, "RX_ACTIVE", "type" },
    };
    for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        two_api_clients(true);
        mfx_put(0, "x\n");
        mfx_wire_since();
        corrupt(cases[k].ring, cases[k].head, 0x80000000u);
        if (!strcmp(cases[k].act, "put")) {
            mfx_put(0, "y\n");
        } else if (!strcmp(cases[k].act, "notify")) {
            pd_notify(MFX_CLIENT_CH(0));
            mfx_pump();
        } else {
            mfx_type("q");
        }
        CHECK(mfx.mux.client[0].ended);
        CHECK_EQ(mfx.mux.client[0].end_ring, cases[k].ring);
        char want[64];
        snprintf(want, sizeof(want), "connection ended: its %s ring is corrupt", cases[k].name);
        CHECK(strstr(mfx_wire_since(), want) != NULL);
    }
}

TEST(mux_a_client_that_keeps_its_tx_buffers_only_stops_itself)
{
    /* A client that never takes back its TX buffers: once TX_FREE is full the mux takes no more
     * of its output, and the other client is served as before. */
    raw_client();
    for (unsigned i = 0; i < MFX_CAPACITY; i++)
        mfx_raw_tx(0, 0, 3, i);
    CHECK_EQ(mfx_wire_count("[linux1] ok\r\n"), MFX_CAPACITY);
    mfx_raw_tx(0, 0, 3, 99);
    CHECK_EQ(mfx_wire_count("[linux1] ok\r\n"), MFX_CAPACITY);
    mfx_use_api(1);
    mfx_put(1, "other\n");
    CHECK(strstr(mfx_wire(), "[linux2] other\r\n") != NULL);
    /* It takes them back: the waiting entry is taken at the next notification. */
    struct ring_entry e;
    while (ring_pop(&mfx.c[0].raw.ring[CONN_TX_FREE], &e))
        ;
    pd_notify(MFX_CLIENT_CH(0));
    mfx_pump();
    CHECK_EQ(mfx_wire_count("[linux1] ok\r\n"), MFX_CAPACITY + 1);
}

TEST(mux_output_queued_before_it_started_is_printed)
{
    mfx_setup(2, true);
    mfx_use_api(1);
    serial_client_puts(&mfx.c[1].api, "early bird\n");
    sim_pd_take_notify(MFX_CLIENT_CH(1)); /* the notification came before the mux was there */
    mux_init(&mfx.mux, &mfx.cfg);
    CHECK(strstr(mfx_wire(), "[linux2] early bird\r\n") != NULL);
}

TEST(mux_refuses_a_uart_without_a_driver_in_one_line)
{
    mfx_setup(2, true);
    mfx.cfg.driver = 7;
    mfx_start();
    CHECK(strcmp(sim_pd.console, "serial_mux: error: the UART's driver kind 7 is not one this "
                                 "multiplexer has (1 = pl011): no console\n") == 0);
    CHECK_EQ(sim_pd.mmio_reads + sim_pd.mmio_writes, 0);
    CHECK(!mfx.mux.ready);
    mux_notified(&mfx.mux, MFX_IRQ_CH);
    mux_notified(&mfx.mux, MFX_MUX_CH(0));
    CHECK_EQ(sim_pd.mmio_reads + sim_pd.mmio_writes, 0);
    CHECK_EQ(mfx.uart.wire_len, 0);
    mfx_setup(2, true);
    mfx.cfg.driver = SERIAL_DRIVER_NONE;
    mfx_start();
    CHECK(sim_pd_console_has("the UART's driver kind 0 is not one this multiplexer has"));
}

TEST(mux_refuses_a_uart_without_an_address_or_channel)
{
    mfx_setup(1, true);
    mfx.cfg.uart_regs = 0;
    mfx_start();
    CHECK(strcmp(sim_pd.console,
                 "serial_mux: error: the UART has no register address: no console\n") == 0);
    mfx_setup(1, true);
    mfx.cfg.uart_irq_channel = 62;
    mfx_start();
    CHECK(strcmp(sim_pd.console,
                 "serial_mux: error: the UART's interrupt channel 62 is not 0-61: no console\n") ==
          0);
    CHECK_EQ(sim_pd.mmio_reads + sim_pd.mmio_writes, 0);
}

TEST(mux_leaves_out_a_badly_configured_client_and_serves_the_others)
{
    mfx_setup(3, true);
    mfx.cfg.clients[1].conn.capacity = 12;
    mfx.cfg.clients[2].conn.channel = MFX_MUX_CH(0);
    mfx.cfg.first_input = 1;
    mfx_use_api(0);
    mfx_start();
    const char *w = mfx_wire_since();
    CHECK(strstr(w, "[mux] error: client 2 (linux2): its ring capacity is not a power of two: "
                    "client left out\r\n") != NULL);
    CHECK(strstr(w, "[mux] error: client 3 (linux3): its channel is another client's: client "
                    "left out\r\n") != NULL);
    CHECK(strstr(w, "input -> linux1 (1)") != NULL);
    CHECK(strstr(w, "[mux] 2 linux2 (left out: bad configuration)\r\n") != NULL);
    CHECK_EQ(mfx.mux.focus, 0);
    mfx_put(0, "works\n");
    CHECK(strcmp(mfx_wire_since(), "[linux1] works\r\n") == 0);
    mfx_type("\x1c"
             "2");
    CHECK(strstr(mfx_wire_since(), "[mux] no client 2; the clients are:") != NULL);
    CHECK_EQ(mfx.mux.focus, 0);
}

TEST(mux_checks_every_field_of_a_clients_configuration)
{
    static const char *const why[] = {
        "its name is missing",
        "its name is missing",
        "its name is missing",
        "a region of its connection has no address",
        "a data region of its connection is empty",
        "its channel is not a channel of its own",
        "its channel is not a channel of its own",
    };
    for (unsigned k = 0; k < sizeof(why) / sizeof(why[0]); k++) {
        mfx_setup(2, true);
        struct serial_mux_client_config *c = &mfx.cfg.clients[1];
        switch (k) {
        case 0: c->name = NULL; break;
        case 1: c->name = "has space"; break;
        case 2: c->name = "a_name_that_is_longer_than_32_chars"; break;
        case 3: c->conn.rx_data = 0; break;
        case 4: c->conn.tx_size = 0; break;
        case 5: c->conn.channel = 62; break;
        case 6: c->conn.channel = MFX_IRQ_CH; break;
        }
        mfx_start();
        CHECK(!mfx.mux.client[1].configured);
        CHECK(mfx.mux.client[0].configured);
        CHECK(strstr(mfx_wire(), why[k]) != NULL);
    }
}

TEST(mux_serves_nine_clients_at_most)
{
    mfx_setup(1, true);
    mfx.cfg.num_clients = 10;
    for (unsigned i = 1; i < SERIAL_MUX_MAX_CLIENTS; i++)
        mfx.cfg.clients[i] = mfx.cfg.clients[0];
    mfx_start();
    CHECK(strstr(mfx_wire(), "[mux] error: 10 clients configured, at most 9 served") != NULL);
    CHECK_EQ(mfx.mux.num_clients, 9);
}

TEST(mux_with_no_clients_drops_input_and_says_so)
{
    mfx_setup(0, true);
    mfx_start();
    CHECK(strcmp(mfx_wire(), "[mux] serial multiplexer on pl011: 0 clients\r\n") == 0);
    mfx_wire_since();
    mfx_type("abc\x1c"
             "1");
    CHECK(strcmp(mfx_wire_since(), "[mux] no client 1; the clients are:\r\n"
                                   "[mux] no clients: input is dropped\r\n") == 0);
}
