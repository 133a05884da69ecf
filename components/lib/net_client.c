/* The client side of the network protocol for native PDs (see pd/net_client.h). */
#include <pd/net_client.h>
#include <pd/pd.h>

static uint64_t bit(uint32_t i)
{
    return (uint64_t)1 << i;
}

static uint64_t buf_offset(uint32_t i)
{
    return (uint64_t)i * NET_BUF_SIZE;
}

static uint32_t buffers(uint64_t region_size, uint32_t capacity)
{
    uint64_t n = region_size / NET_BUF_SIZE;
    if (n > capacity)
        n = capacity;
    return n > NET_CLIENT_MAX_BUFS ? NET_CLIENT_MAX_BUFS : (uint32_t)n;
}

static unsigned lowest_bit(uint64_t v)
{
    return (unsigned)__builtin_ctzll(v);
}

/* True (and the client ended) if a ring was found corrupt. */
static bool ended(struct net_client *c)
{
    for (unsigned i = 0; i < CONN_RINGS && !c->ended; i++)
        c->ended = c->conn.ring[i].corrupt;
    return c->ended;
}

static void lend_rx(struct net_client *c, uint32_t i)
{
    struct ring_entry e = { buf_offset(i), NET_BUF_SIZE, i };
    bool n = false;
    if (ring_push(&c->conn.ring[CONN_RX_FREE], &e, &n))
        c->rx_lent |= bit(i);
    c->notify |= n;
}

bool net_client_init(struct net_client *c, const struct conn_config *cfg)
{
    *c = (struct net_client){ .ended = true };
    if (!ring_capacity_ok(cfg->capacity) || !cfg->queue || !cfg->tx_data || !cfg->rx_data)
        return false;
    conn_attach(&c->conn, cfg);
    c->tx_bufs = buffers(cfg->tx_size, cfg->capacity);
    c->rx_bufs = buffers(cfg->rx_size, cfg->capacity);
    if (!c->tx_bufs || !c->rx_bufs)
        return false;
    c->ended = false;
    c->tx_free = c->tx_bufs == 64 ? ~(uint64_t)0 : bit(c->tx_bufs) - 1;
    for (uint32_t i = 0; i < c->rx_bufs; i++)
        lend_rx(c, i);
    return !ended(c);
}

void net_client_notified(struct net_client *c)
{
    struct ring_entry e;
    while (!ended(c) && ring_pop(&c->conn.ring[CONN_TX_FREE], &e)) {
        /* Only the id is used (the buffer's place follows from it), and only if it is a buffer
         * this side handed out and has not had back. */
        if (e.id >= c->tx_bufs || (c->tx_free & bit(e.id)) || e.offset != buf_offset(e.id)) {
            c->ended = true;
            break;
        }
        c->tx_free |= bit(e.id);
    }
}

uint32_t net_client_tx_room(struct net_client *c)
{
    net_client_notified(c);
    return c->ended ? 0 : (uint32_t)__builtin_popcountll(c->tx_free);
}

/* Queues TX buffer `i` holding `len` bytes. */
static bool queue_tx(struct net_client *c, uint32_t i, uint32_t len)
{
    struct ring_entry e = { buf_offset(i), len, i };
    bool n = false;
    if (!ring_push(&c->conn.ring[CONN_TX_ACTIVE], &e, &n)) {
        ended(c);
        return false;
    }
    c->tx_free &= ~bit(i);
    c->notify |= n;
    return true;
}

bool net_client_send(struct net_client *c, const uint8_t *frame, uint32_t len)
{
    net_client_notified(c);
    if (c->ended || len < NET_MIN_FRAME || len > NET_MAX_FRAME || !c->tx_free) {
        c->count.tx_no_buffer++;
        return false;
    }
    uint32_t i = lowest_bit(c->tx_free);
    uint8_t *dst = c->conn.tx_data + buf_offset(i);
    for (uint32_t j = 0; j < len; j++)
        dst[j] = frame[j];
    if (!queue_tx(c, i, len)) {
        c->count.tx_no_buffer++;
        return false;
    }
    c->count.tx_frames++;
    return true;
}

bool net_client_request_counters(struct net_client *c)
{
    net_client_notified(c);
    if (c->ended || !c->tx_free)
        return false;
    return queue_tx(c, lowest_bit(c->tx_free), 0);
}

uint32_t net_client_recv(struct net_client *c, uint8_t *buf, uint32_t size)
{
    struct ring *active = &c->conn.ring[CONN_RX_ACTIVE];
    struct ring_entry e;
    for (uint32_t tries = 0; tries < c->rx_bufs && !ended(c); tries++) {
        if (!ring_pop(active, &e)) {
            if (ended(c) || ring_empty_before_wait(active))
                return 0;
            continue;
        }
        if (e.id >= c->rx_bufs || !(c->rx_lent & bit(e.id)) || e.offset != buf_offset(e.id)) {
            c->ended = true;
            return 0;
        }
        c->rx_lent &= ~bit(e.id);
        if (e.len < NET_MIN_FRAME || e.len > NET_MAX_FRAME) {
            c->count.rx_bad++;
            lend_rx(c, e.id);
            continue;
        }
        uint32_t n = e.len < size ? e.len : size;
        const volatile uint8_t *src = c->conn.rx_data + e.offset;
        for (uint32_t j = 0; j < n; j++)
            buf[j] = src[j];
        lend_rx(c, e.id);
        c->count.rx_frames++;
        return n;
    }
    return 0;
}

void net_client_flush(struct net_client *c)
{
    if (!c->notify)
        return;
    c->notify = false;
    pd_notify(c->conn.channel);
}
