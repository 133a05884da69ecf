/* The client side of the serial protocol for native PDs (see pd/serial_client.h). */
#include <pd/pd.h>
#include <pd/serial_client.h>

static uint64_t bit(uint32_t i)
{
    return (uint64_t)1 << i;
}

static uint32_t buffers(uint64_t region_size, uint32_t capacity)
{
    uint64_t n = region_size / SERIAL_BUF_SIZE;
    if (n > capacity)
        n = capacity;
    return n > SERIAL_CLIENT_MAX_BUFS ? SERIAL_CLIENT_MAX_BUFS : (uint32_t)n;
}

static unsigned lowest_bit(uint64_t v)
{
    unsigned i = 0;
    while (!(v & 1)) {
        v >>= 1;
        i++;
    }
    return i;
}

static unsigned bits_set(uint64_t v)
{
    unsigned n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

/* True (and the client ended) if a ring was found corrupt. */
static bool ended(struct serial_client *c)
{
    for (unsigned i = 0; i < CONN_RINGS && !c->ended; i++)
        c->ended = c->conn.ring[i].corrupt;
    return c->ended;
}

bool serial_client_init(struct serial_client *c, const struct conn_config *cfg)
{
    *c = (struct serial_client){ .ended = true };
    if (!ring_capacity_ok(cfg->capacity) || !cfg->queue || !cfg->tx_data || !cfg->rx_data)
        return false;
    conn_attach(&c->conn, cfg);
    c->tx_bufs = buffers(cfg->tx_size, cfg->capacity);
    c->rx_bufs = buffers(cfg->rx_size, cfg->capacity);
    if (!c->tx_bufs || !c->rx_bufs)
        return false;
    c->ended = false;
    c->tx_free = c->tx_bufs == 64 ? ~(uint64_t)0 : bit(c->tx_bufs) - 1;
    bool notify = false;
    for (uint32_t i = 0; i < c->rx_bufs; i++) {
        struct ring_entry e = { (uint64_t)i * SERIAL_BUF_SIZE, SERIAL_BUF_SIZE, i };
        bool n = false;
        if (!ring_push(&c->conn.ring[CONN_RX_FREE], &e, &n))
            break;
        c->rx_lent |= bit(i);
        notify |= n;
    }
    if (notify)
        pd_notify(c->conn.channel);
    return !ended(c);
}

void serial_client_notified(struct serial_client *c)
{
    struct ring_entry e;
    while (!ended(c) && ring_pop(&c->conn.ring[CONN_TX_FREE], &e)) {
        /* Only the id is used (the buffer's place follows from it), and only if it is a buffer
         * this side handed out and has not had back. */
        if (e.id >= c->tx_bufs || (c->tx_free & bit(e.id))) {
            c->ended = true;
            break;
        }
        c->tx_free |= bit(e.id);
    }
}

size_t serial_client_room(struct serial_client *c)
{
    serial_client_notified(c);
    return c->ended ? 0 : (size_t)bits_set(c->tx_free) * SERIAL_BUF_SIZE;
}

size_t serial_client_put(struct serial_client *c, const void *data, size_t len)
{
    const uint8_t *src = data;
    size_t done = 0;
    bool notify = false;
    serial_client_notified(c);
    while (!c->ended && done < len && c->tx_free) {
        uint32_t i = lowest_bit(c->tx_free);
        uint32_t k = len - done < SERIAL_BUF_SIZE ? (uint32_t)(len - done) : SERIAL_BUF_SIZE;
        uint8_t *dst = c->conn.tx_data + (uint64_t)i * SERIAL_BUF_SIZE;
        for (uint32_t j = 0; j < k; j++)
            dst[j] = src[done + j];
        struct ring_entry e = { (uint64_t)i * SERIAL_BUF_SIZE, k, i };
        bool n = false;
        if (!ring_push(&c->conn.ring[CONN_TX_ACTIVE], &e, &n))
            break;
        c->tx_free &= ~bit(i);
        notify |= n;
        done += k;
    }
    ended(c);
    if (notify)
        pd_notify(c->conn.channel);
    c->out_dropped += len - done;
    return done;
}

size_t serial_client_puts(struct serial_client *c, const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return serial_client_put(c, s, n);
}

/* Takes the next filled RX buffer; false if there is none (or it is not one this side lent). */
static bool next_rx(struct serial_client *c)
{
    struct ring *active = &c->conn.ring[CONN_RX_ACTIVE];
    struct ring_entry *e = &c->rx_cur;
    while (!ring_pop(active, e)) {
        if (ended(c) || ring_empty_before_wait(active))
            return false;
    }
    if (e->id >= c->rx_bufs || !(c->rx_lent & bit(e->id)) ||
        e->offset != (uint64_t)e->id * SERIAL_BUF_SIZE || e->len < 1 || e->len > SERIAL_BUF_SIZE) {
        c->ended = true;
        return false;
    }
    c->rx_lent &= ~bit(e->id);
    c->rx_have = true;
    c->rx_pos = 0;
    return true;
}

size_t serial_client_get(struct serial_client *c, void *buf, size_t max)
{
    uint8_t *dst = buf;
    size_t got = 0;
    bool notify = false;
    while (got < max && !ended(c) && (c->rx_have || next_rx(c))) {
        const uint8_t *src = c->conn.rx_data + c->rx_cur.offset;
        while (got < max && c->rx_pos < c->rx_cur.len)
            dst[got++] = src[c->rx_pos++];
        if (c->rx_pos < c->rx_cur.len)
            break;
        /* Read to its end: back to the multiplexer, whole again. */
        struct ring_entry e = { c->rx_cur.offset, SERIAL_BUF_SIZE, c->rx_cur.id };
        bool n = false;
        if (ring_push(&c->conn.ring[CONN_RX_FREE], &e, &n))
            c->rx_lent |= bit(e.id);
        notify |= n;
        c->rx_have = false;
    }
    if (notify)
        pd_notify(c->conn.channel);
    return got;
}
