/*
 * One client's connection, as the server of the serial protocol (proto/serial.h). Everything
 * read from the shared regions is checked before it is used: entries must lie inside their data
 * region and hold 1..SERIAL_BUF_SIZE bytes (others are dropped, counted, and the first of each
 * kind reported); a ring whose indices make no sense ends the connection, with one report.
 */
#include "mux_internal.h"

static const char *const ring_names[CONN_RINGS] = { "TX_ACTIVE", "TX_FREE", "RX_FREE",
                                                    "RX_ACTIVE" };

/* True (and the connection ended) if one of the client's rings was found corrupt. */
static bool ended_now(struct mux_client *c)
{
    if (c->ended)
        return true;
    for (unsigned i = 0; i < CONN_RINGS; i++) {
        if (c->conn.ring[i].corrupt) {
            c->ended = true;
            c->end_ring = i;
            return true;
        }
    }
    return false;
}

static bool entry_ok(const struct ring_entry *e, uint64_t region_size)
{
    return e->len >= 1 && e->len <= SERIAL_BUF_SIZE && ring_entry_inside(e, region_size);
}

static void report_bad_entry(struct mux *m, unsigned idx, const char *ring,
                             const struct ring_entry *e, uint64_t region_size, bool *reported)
{
    m->client[idx].count.bad_entries++;
    if (*reported)
        return;
    *reported = true;
    struct text t = { .len = 0 };
    text_client(&t, m, idx);
    text_bad_entry(&t, ring, e, region_size);
    text_str(&t, " bytes, buffers 1-");
    text_u64(&t, SERIAL_BUF_SIZE);
    text_str(&t, "): dropped; more are only counted (Ctrl-\\ ?)");
    mux_line(m, &t);
}

static void report_end(struct mux *m, unsigned idx)
{
    struct mux_client *c = &m->client[idx];
    const struct ring *r = &c->conn.ring[c->end_ring];
    struct text t = { .len = 0 };
    text_client(&t, m, idx);
    text_ring_corrupt(&t, ring_names[c->end_ring], r);
    text_str(&t, "; its input is dropped from now on");
    mux_line(m, &t);
}

/* Collects staged bytes into the line; prints at most one line (or one full line buffer). */
static bool print_staged(struct mux *m, unsigned idx)
{
    struct mux_client *c = &m->client[idx];
    bool did = false;
    while (c->staged_pos < c->staged_len) {
        uint8_t b = c->staged[c->staged_pos];
        if (b == '\r') {
            c->staged_pos++;
            did = true;
        } else if (b == '\n') {
            if (!mux_out_client(m, idx, true))
                return did;
            c->staged_pos++;
            return true;
        } else if (c->line_len == MUX_LINE_MAX) {
            if (!mux_out_client(m, idx, false))
                return did;
            /* The piece is on the UART and the line stays open: what follows continues it. */
            c->line_len = c->shown = 0;
            c->count.long_lines++;
            return true;
        } else {
            c->line[c->line_len++] = b;
            c->staged_pos++;
            did = true;
        }
    }
    return did;
}

/* Takes one entry from the client's TX ring: its bytes are copied out and the buffer given back
 * at once. Waits (false) while TX_FREE has no room: with no more buffers than ring entries, as
 * the protocol has it, that happens only to a client that does not take its buffers back. */
static bool take_entry(struct mux *m, unsigned idx)
{
    struct mux_client *c = &m->client[idx];
    struct ring *active = &c->conn.ring[CONN_TX_ACTIVE], *free = &c->conn.ring[CONN_TX_FREE];
    if (!ring_has_room(free, 1))
        return ended_now(c);
    struct ring_entry e;
    if (!ring_pop(active, &e)) {
        if (ended_now(c))
            return true;
        /* Entries that came after the pop looked are taken in the next round. */
        return !ring_empty_before_wait(active) || ended_now(c);
    }
    if (entry_ok(&e, c->conn.tx_size)) {
        const volatile uint8_t *src = c->conn.tx_data + e.offset;
        for (uint32_t i = 0; i < e.len; i++)
            c->staged[i] = src[i];
        c->staged_len = e.len;
        c->staged_pos = 0;
        c->count.out_bytes += e.len;
    } else {
        report_bad_entry(m, idx, "TX", &e, c->conn.tx_size, &c->bad_tx_reported);
    }
    bool notify = false;
    ring_push(free, &e, &notify);
    c->notify |= notify;
    ended_now(c);
    return true;
}

bool mux_client_step(struct mux *m, unsigned idx)
{
    struct mux_client *c = &m->client[idx];
    if (!c->configured)
        return false;
    if (c->staged_pos < c->staged_len)
        return print_staged(m, idx);
    if (!ended_now(c))
        return take_entry(m, idx);
    /* Ended: what was taken is printed, its last line closed, then the report. */
    if (c->line_len || (m->line_open && m->line_owner == idx))
        return mux_out_client(m, idx, true);
    if (!c->end_reported) {
        c->end_reported = true;
        report_end(m, idx);
        return true;
    }
    return false;
}

bool mux_client_drained(struct mux *m, unsigned idx)
{
    struct mux_client *c = &m->client[idx];
    if (c->staged_pos < c->staged_len)
        return false;
    return ended_now(c) || ring_empty_before_wait(&c->conn.ring[CONN_TX_ACTIVE]);
}

void mux_client_deliver(struct mux *m, unsigned idx, const uint8_t *in, size_t n)
{
    if (idx >= m->num_clients)
        return; /* no clients at all */
    struct mux_client *c = &m->client[idx];
    size_t done = 0;
    if (c->configured && !ended_now(c)) {
        struct ring *free = &c->conn.ring[CONN_RX_FREE], *active = &c->conn.ring[CONN_RX_ACTIVE];
        /* At most one ring's worth of entries: a client refilling RX_FREE with bad entries from
         * another core cannot keep the multiplexer here. */
        for (uint32_t tries = 0; done < n && tries < free->capacity; tries++) {
            struct ring_entry e;
            if (!ring_has_room(active, 1) || !ring_pop(free, &e))
                break;
            if (!entry_ok(&e, c->conn.rx_size)) {
                report_bad_entry(m, idx, "RX", &e, c->conn.rx_size, &c->bad_rx_reported);
                continue;
            }
            uint32_t k = n - done < e.len ? (uint32_t)(n - done) : e.len;
            volatile uint8_t *dst = c->conn.rx_data + e.offset;
            for (uint32_t i = 0; i < k; i++)
                dst[i] = in[done + i];
            e.len = k;
            bool notify = false;
            ring_push(active, &e, &notify);
            c->notify |= notify;
            done += k;
            c->count.in_bytes += k;
        }
        ended_now(c);
    }
    if (done == n) {
        if (n)
            c->input_drop_reported = false;
        return;
    }
    c->count.in_dropped += n - done;
    if (c->input_drop_reported)
        return;
    c->input_drop_reported = true;
    struct text t = { .len = 0 };
    text_client(&t, m, idx);
    text_str(&t, c->ended || !c->configured ? ": input dropped: it has no connection"
                                            : ": input dropped: it has no free receive buffer");
    text_str(&t, " (counted: Ctrl-\\ ?)");
    mux_line(m, &t);
}

static bool printable_name(const char *s, unsigned *len)
{
    unsigned n = 0;
    if (!s)
        return false;
    for (; n <= SERIAL_MUX_NAME_MAX && s[n]; n++) {
        if (s[n] < 0x21 || s[n] > 0x7e)
            return false;
    }
    *len = n;
    return n >= 1 && n <= SERIAL_MUX_NAME_MAX;
}

/* What is wrong with a client's connection as configured, or NULL. */
static const char *conn_problem(const struct mux *m, const struct conn_config *cc)
{
    if (!ring_capacity_ok(cc->capacity))
        return "its ring capacity is not a power of two";
    if (!cc->queue || !cc->tx_data || !cc->rx_data)
        return "a region of its connection has no address";
    if (!cc->tx_size || !cc->rx_size)
        return "a data region of its connection is empty";
    if (cc->channel > 61 || cc->channel == m->irq_channel)
        return "its channel is not a channel of its own (0-61, not the UART's)";
    return NULL;
}

bool mux_client_setup(struct mux *m, unsigned idx, const struct serial_mux_client_config *cfg)
{
    struct mux_client *c = &m->client[idx];
    const struct conn_config *cc = &cfg->conn;
    const char *why = NULL;
    c->configured = false;
    unsigned len = 0;
    if (printable_name(cfg->name, &len)) {
        c->name = cfg->name;
        c->name_len = len;
        why = conn_problem(m, cc);
    } else {
        c->name = "?";
        c->name_len = 1;
        why = "its name is missing, empty, longer than 32 characters or not printable ASCII";
    }
    for (unsigned j = 0; !why && j < idx; j++) {
        if (m->client[j].configured && m->client[j].conn.channel == cc->channel)
            why = "its channel is another client's";
    }
    if (why) {
        struct text t = { .len = 0 };
        text_str(&t, "error: client ");
        text_u64(&t, idx + 1);
        if (len) {
            text_str(&t, " (");
            text_mem(&t, cfg->name, len);
            text_str(&t, ")");
        }
        text_str(&t, ": ");
        text_str(&t, why);
        text_str(&t, ": client left out");
        mux_line(m, &t);
        return false;
    }
    conn_attach(&c->conn, cc);
    c->configured = true;
    return true;
}
