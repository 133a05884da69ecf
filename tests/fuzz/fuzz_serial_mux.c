/*
 * libFuzzer target: the serial multiplexer against hostile clients and a hostile line. The input
 * is a stream of operations: clients queue entries of any offset, length and id on their TX and
 * RX_FREE rings, write their data regions, consume (or not) what the mux gives them, set any
 * ring index to anything; one client also goes through the client API; the UART receives any
 * bytes (Ctrl-\ commands included) with or without receive errors, goes idle, drains its TX
 * FIFO at any pace; any channel is notified.
 *
 * After every call into the mux it checks what the mux did to the shared memory, not just that it
 * did not crash: it never writes a TX data region (mapped read-only while it runs, as on target);
 * in the queue regions it writes only its own indices and the entries of the rings it produces;
 * every entry it gives back on TX_FREE is one it took from TX_ACTIVE, unchanged and in order;
 * every RX_ACTIVE entry is a valid RX_FREE entry it took, in order, no longer than it was, and
 * the only RX data bytes it changed lie inside those entries; every UART interrupt is
 * acknowledged; and every line on the UART starts with '[' and ends with CR LF, with no other CR
 * or LF on it.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <pd/serial_client.h>
#include <serial_mux/mux.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sim_pd.h"
#include "sim_pl011.h"

#define CLIENTS 3
#define PAGE 4096
#define API_CH 10

static const uint32_t capacity[CLIENTS] = { 4, 8, 2 };
static const size_t tx_size[CLIENTS] = { 2 * PAGE, PAGE, PAGE };
static const size_t rx_size[CLIENTS] = { PAGE, 2 * PAGE, PAGE };
static const char *const names[CLIENTS] = { "a", "bb", "ccc" };

struct client {
    uint8_t *queue, *tx, *rx;
    struct conn raw; /* the client's view of its rings */
    uint8_t snap_queue[PAGE];
    uint8_t snap_rx[2 * PAGE];
};

static struct client cl[CLIENTS];
static struct sim_pl011 uart;
static struct mux mux;
static struct serial_mux_config cfg;
static struct serial_client api; /* client 0 through the client API as well */

static const uint8_t *in;
static size_t in_left;

static uint64_t take(unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes && in_left; i++, in_left--)
        v |= (uint64_t)*in++ << (8 * i);
    return v;
}

static void fail(const char *what, unsigned client)
{
    fprintf(stderr, "fuzz_serial_mux: client %u: %s\n", client, what);
    __builtin_trap();
}

/* ---- what the mux may touch -------------------------------------------------------------- */

static struct ring_shm *shm_of(uint8_t *queue, unsigned c, unsigned ring)
{
    return (struct ring_shm *)(queue + conn_ring_offset(capacity[c], ring));
}

static void before_mux(void)
{
    for (unsigned c = 0; c < CLIENTS; c++) {
        memcpy(cl[c].snap_queue, cl[c].queue, PAGE);
        memcpy(cl[c].snap_rx, cl[c].rx, rx_size[c]);
        if (mprotect(cl[c].tx, tx_size[c], PROT_READ))
            __builtin_trap();
    }
}

/* True if byte `at` of client c's queue region is one the mux may write. */
static bool mux_owned(unsigned c, size_t at)
{
    static const struct {
        unsigned ring;
        bool entries; /* the mux produces on this ring: its head and entries are the mux's */
    } own[] = { { CONN_TX_ACTIVE, false },
                { CONN_TX_FREE, true },
                { CONN_RX_FREE, false },
                { CONN_RX_ACTIVE, true } };
    for (unsigned k = 0; k < 4; k++) {
        size_t base = conn_ring_offset(capacity[c], own[k].ring);
        if (own[k].entries) {
            if (at >= base && at < base + 4)
                return true;
            if (at >= base + RING_HEADER_BYTES && at < base + RING_BYTES(capacity[c]))
                return true;
        } else if (at >= base + 64 && at < base + 68) {
            return true;
        }
    }
    return false;
}

static bool same_entry(const struct ring_entry *a, const struct ring_entry *b)
{
    return a->offset == b->offset && a->len == b->len && a->id == b->id;
}

static void check_client(unsigned c)
{
    struct client *k = &cl[c];
    if (!memcmp(k->queue, k->snap_queue, PAGE)) { /* no ring moved: no data either */
        if (memcmp(k->rx, k->snap_rx, rx_size[c]))
            fail("RX: the mux wrote data but filled no buffer", c);
        return;
    }
    for (size_t i = 0; i < PAGE; i++) {
        if (k->queue[i] != k->snap_queue[i] && !mux_owned(c, i))
            fail("the mux wrote a part of the queue region it does not own", c);
    }
    uint32_t mask = capacity[c] - 1;
    struct ring_shm *old_ta = shm_of(k->snap_queue, c, CONN_TX_ACTIVE),
                    *new_ta = shm_of(k->queue, c, CONN_TX_ACTIVE),
                    *old_tf = shm_of(k->snap_queue, c, CONN_TX_FREE),
                    *new_tf = shm_of(k->queue, c, CONN_TX_FREE);
    uint32_t pops = new_ta->tail - old_ta->tail, pushes = new_tf->head - old_tf->head;
    if (pops > capacity[c] || pushes > pops)
        fail("TX: more entries given back than taken", c);
    for (uint32_t j = 0; j < pushes; j++) {
        const struct ring_entry *took = &old_ta->entries[(old_ta->tail + j) & mask];
        const struct ring_entry *gave = &new_tf->entries[(old_tf->head + j) & mask];
        if (!same_entry(took, gave))
            fail("TX: an entry given back is not the one taken", c);
    }
    struct ring_shm *old_rf = shm_of(k->snap_queue, c, CONN_RX_FREE),
                    *new_rf = shm_of(k->queue, c, CONN_RX_FREE),
                    *old_ra = shm_of(k->snap_queue, c, CONN_RX_ACTIVE),
                    *new_ra = shm_of(k->queue, c, CONN_RX_ACTIVE);
    uint32_t taken = new_rf->tail - old_rf->tail, filled = new_ra->head - old_ra->head;
    if (taken > capacity[c] || filled > taken)
        fail("RX: more buffers filled than taken", c);
    uint32_t t = 0;
    static bool inside[2 * PAGE];
    if (filled)
        memset(inside, 0, sizeof(inside));
    for (uint32_t j = 0; j < filled; j++) {
        const struct ring_entry *f = &new_ra->entries[(old_ra->head + j) & mask];
        /* The next valid buffer it took must be this one. */
        const struct ring_entry *e = NULL;
        for (; t < taken && !e; t++) {
            const struct ring_entry *cand = &old_rf->entries[(old_rf->tail + t) & mask];
            if (cand->len >= 1 && cand->len <= SERIAL_BUF_SIZE && cand->offset <= rx_size[c] &&
                cand->len <= rx_size[c] - cand->offset)
                e = cand;
        }
        if (!e || e->offset != f->offset || e->id != f->id || f->len < 1 || f->len > e->len)
            fail("RX: a filled buffer is not a valid one taken, or grew", c);
        for (uint32_t b = 0; b < f->len; b++)
            inside[f->offset + b] = true;
    }
    for (size_t i = 0; filled && i < rx_size[c]; i++) {
        if (k->rx[i] != k->snap_rx[i] && !inside[i])
            fail("RX: the mux wrote outside the buffers it filled", c);
    }
    if (!filled && memcmp(k->rx, k->snap_rx, rx_size[c]))
        fail("RX: the mux wrote data but filled no buffer", c);
}

/* The line so far: '[' at every line start, CR only before LF, LF only after CR. */
static bool line_start = true, expect_lf;

static void check_wire(void)
{
    static int show = -1; /* FUZZ_SERIAL_MUX_SHOW=1: the line goes to stderr (to read a seed) */
    if (show < 0)
        show = getenv("FUZZ_SERIAL_MUX_SHOW") != NULL;
    if (show)
        fwrite(uart.wire, 1, uart.wire_len, stderr);
    for (size_t i = 0; i < uart.wire_len; i++) {
        uint8_t b = uart.wire[i];
        if (expect_lf) {
            if (b != '\n')
                fail("UART: CR not followed by LF", 0);
            expect_lf = false;
            line_start = true;
        } else if (b == '\r') {
            expect_lf = true;
        } else if (b == '\n') {
            fail("UART: LF without CR", 0);
        } else if (line_start) {
            if (b != '[')
                fail("UART: a line that does not start with a name", 0);
            line_start = false;
        }
    }
    uart.wire_len = 0;
    if (uart.violations)
        fail(uart.violation, 0);
}

static void after_mux(void)
{
    for (unsigned c = 0; c < CLIENTS; c++) {
        if (mprotect(cl[c].tx, tx_size[c], PROT_READ | PROT_WRITE))
            __builtin_trap();
        check_client(c);
    }
    check_wire();
}

static void notify_mux(unsigned channel)
{
    unsigned acks = sim_pd.irq_acks[0];
    before_mux();
    mux_notified(&mux, channel);
    after_mux();
    if (channel == 0 && mux.ready && sim_pd.irq_acks[0] != acks + 1)
        fail("UART interrupt not acknowledged", 0);
}

/* ---- the clients' and the line's moves --------------------------------------------------- */

static uint64_t pick_offset(size_t size)
{
    switch (take(1) & 3) {
    case 0: return (take(1) % (size / SERIAL_BUF_SIZE)) * SERIAL_BUF_SIZE;
    case 1: return take(2) % (size + 64);
    case 2: return take(8);
    default: return size - (take(1) & 7);
    }
}

static uint32_t pick_len(void)
{
    switch (take(1) & 3) {
    case 0: return (uint32_t)(take(1) % 64);
    case 1: return SERIAL_BUF_SIZE;
    case 2: return (uint32_t)take(4);
    default: return (uint32_t)(take(2) % (SERIAL_BUF_SIZE + 2));
    }
}

static void push(unsigned c, unsigned ring, size_t size)
{
    struct ring_entry e;
    e.offset = pick_offset(size);
    e.len = pick_len();
    e.id = (uint32_t)take(1);
    ring_push(&cl[c].raw.ring[ring], &e, NULL);
}

static void write_tx_data(unsigned c)
{
    size_t at = take(2) % tx_size[c], n = take(1) % 64;
    for (size_t i = 0; i < n && at + i < tx_size[c]; i++) {
        uint8_t b = (uint8_t)take(1);
        cl[c].tx[at + i] = (b & 0xc0) == 0xc0 ? "\n\r\n\r"[b & 3] : b;
    }
}

static void consume(unsigned c)
{
    struct ring_entry e;
    unsigned n = (unsigned)take(1);
    for (unsigned i = 0; i < (n & 7); i++)
        ring_pop(&cl[c].raw.ring[CONN_RX_ACTIVE], &e);
    for (unsigned i = 0; i < (n >> 3 & 7); i++)
        ring_pop(&cl[c].raw.ring[CONN_TX_FREE], &e);
    if (n & 0x40) { /* and give RX buffers back where they were */
        while (ring_pop(&cl[c].raw.ring[CONN_RX_ACTIVE], &e)) {
            e.len = SERIAL_BUF_SIZE;
            ring_push(&cl[c].raw.ring[CONN_RX_FREE], &e, NULL);
        }
    }
}

static void set_index(unsigned c)
{
    unsigned what = (unsigned)take(1);
    struct ring_shm *s = cl[c].raw.ring[what % CONN_RINGS].shm;
    uint32_t v = (uint32_t)take(4);
    if (what & 0x80)
        v = (what & 0x40 ? s->head : s->tail) + (v & 0xf) - 8; /* near the other index */
    if (what & 4)
        s->head = v;
    else
        s->tail = v;
}

static void receive(void)
{
    unsigned n = (unsigned)take(1) % 40, err = (unsigned)take(1);
    for (unsigned i = 0; i < n && in_left; i++) {
        uint8_t b = (uint8_t)take(1);
        if ((b & 0xe0) == 0xe0)
            b = (uint8_t) "\x1c\x1c?123490x\r"[b % 12];
        sim_pl011_receive(&uart, b, (err & 0x80) && i == (err & 31) ? (err & 0xf) << 8 : 0);
    }
}

static void api_move(void)
{
    unsigned what = (unsigned)take(1);
    if (what & 1) {
        char buf[700];
        size_t n = take(2) % sizeof(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)(i % 37 == 36 ? '\n' : 'a' + i % 26);
        serial_client_put(&api, buf, n);
    } else {
        char buf[64];
        serial_client_get(&api, buf, what % sizeof(buf));
    }
}

static void setup(uint8_t mode)
{
    static bool mapped;
    for (unsigned c = 0; c < CLIENTS; c++) {
        if (!mapped) {
            cl[c].queue =
                mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            cl[c].tx =
                mmap(NULL, tx_size[c], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            cl[c].rx =
                mmap(NULL, rx_size[c], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (cl[c].queue == MAP_FAILED || cl[c].tx == MAP_FAILED || cl[c].rx == MAP_FAILED)
                __builtin_trap();
        }
        memset(cl[c].queue, 0, PAGE);
        memset(cl[c].tx, 0, tx_size[c]);
        memset(cl[c].rx, 0, rx_size[c]);
    }
    mapped = true;
    sim_pd_reset();
    sim_pl011_init(&uart, mode & 2 ? 32 : 16, mode & 1);
    line_start = true;
    expect_lf = false;
    cfg = (struct serial_mux_config){ .uart_regs = sim_pl011_base(&uart),
                                      .uart_irq_channel = 0,
                                      .driver = SERIAL_DRIVER_PL011,
                                      .num_clients = CLIENTS,
                                      .first_input = (mode >> 2) & 3 };
    for (unsigned c = 0; c < CLIENTS; c++) {
        struct conn_config v = { (uintptr_t)cl[c].queue,
                                 capacity[c],
                                 (uintptr_t)cl[c].tx,
                                 tx_size[c],
                                 (uintptr_t)cl[c].rx,
                                 rx_size[c],
                                 1 + c };
        cfg.clients[c] = (struct serial_mux_client_config){ names[c], v };
        conn_attach(&cl[c].raw, &v);
        if (c == 0) {
            v.channel = API_CH;
            serial_client_init(&api, &v);
        }
    }
    before_mux();
    mux_init(&mux, &cfg);
    after_mux();
    if (!mux.ready)
        fail("the mux did not start", 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in = data;
    in_left = size;
    setup((uint8_t)take(1));
    while (in_left) {
        unsigned op = (unsigned)take(1), c = (unsigned)take(1) % CLIENTS;
        switch (op % 12) {
        case 0: push(c, CONN_TX_ACTIVE, tx_size[c]); break;
        case 1: write_tx_data(c); break;
        case 2: push(c, CONN_RX_FREE, rx_size[c]); break;
        case 3: consume(c); break;
        case 4: set_index(c); break;
        case 5: receive(); break;
        case 6: sim_pl011_rx_idle(&uart); break;
        case 7: sim_pl011_drain(&uart, (unsigned)take(1)); break;
        case 8: notify_mux((unsigned)take(1) % 16); break;
        case 9: notify_mux(1 + c); break;
        case 10:
            if (sim_pl011_irq(&uart))
                notify_mux(0);
            break;
        default: api_move(); break;
        }
    }
    /* The line takes everything; the mux is told until it is quiet. */
    for (unsigned i = 0; i < 64 && (uart.tx_count || mux.out_head != mux.out_tail); i++) {
        sim_pl011_drain(&uart, SIM_PL011_MAX_DEPTH);
        notify_mux(0);
    }
    return 0;
}
