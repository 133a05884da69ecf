/* The buffers of a native client's connection (see pd/buf_client.h). */
#include <pd/buf_client.h>
#include <pd/pd.h>

static uint64_t bit(uint32_t i)
{
    return (uint64_t)1 << i;
}

static uint32_t buffers(uint64_t region_size, uint32_t buf_size, uint32_t capacity)
{
    uint64_t n = region_size / buf_size;
    if (n > capacity)
        n = capacity;
    return n > BUF_CLIENT_MAX_BUFS ? BUF_CLIENT_MAX_BUFS : (uint32_t)n;
}

bool buf_client_ended(struct buf_client *b)
{
    for (unsigned i = 0; i < CONN_RINGS && !b->ended; i++)
        b->ended = b->conn.ring[i].corrupt;
    return b->ended;
}

void buf_client_flush(struct buf_client *b)
{
    if (!b->notify)
        return;
    b->notify = false;
    pd_notify(b->conn.channel);
}

uint64_t buf_client_offset(const struct buf_client *b, uint32_t i)
{
    return (uint64_t)i * b->buf_size;
}

void buf_client_lend_rx(struct buf_client *b, uint32_t i)
{
    struct ring_entry e = { buf_client_offset(b, i), b->buf_size, i };
    bool n = false;
    if (ring_push(&b->conn.ring[CONN_RX_FREE], &e, &n))
        b->rx_lent |= bit(i);
    b->notify |= n;
}

bool buf_client_init(struct buf_client *b, const struct conn_config *cfg, uint32_t buf_size)
{
    *b = (struct buf_client){ .ended = true, .buf_size = buf_size };
    if (!buf_size || !ring_capacity_ok(cfg->capacity) || !cfg->queue || !cfg->tx_data ||
        !cfg->rx_data)
        return false;
    conn_attach(&b->conn, cfg);
    b->tx_bufs = buffers(cfg->tx_size, buf_size, cfg->capacity);
    b->rx_bufs = buffers(cfg->rx_size, buf_size, cfg->capacity);
    if (!b->tx_bufs || !b->rx_bufs)
        return false;
    b->ended = false;
    b->tx_free = b->tx_bufs == 64 ? ~(uint64_t)0 : bit(b->tx_bufs) - 1;
    for (uint32_t i = 0; i < b->rx_bufs && !buf_client_ended(b); i++)
        buf_client_lend_rx(b, i);
    return !buf_client_ended(b);
}

void buf_client_take_tx(struct buf_client *b)
{
    struct ring_entry e;
    while (!buf_client_ended(b) && ring_pop(&b->conn.ring[CONN_TX_FREE], &e)) {
        /* Only a buffer this side handed out and has not had back. */
        if (e.id >= b->tx_bufs || (b->tx_free & bit(e.id)) ||
            e.offset != buf_client_offset(b, e.id)) {
            b->ended = true;
            break;
        }
        b->tx_free |= bit(e.id);
    }
}

uint32_t buf_client_free_tx(const struct buf_client *b)
{
    return (uint32_t)__builtin_ctzll(b->tx_free);
}

bool buf_client_queue_tx(struct buf_client *b, uint32_t i, uint32_t len)
{
    struct ring_entry e = { buf_client_offset(b, i), len, i };
    bool n = false;
    if (!ring_push(&b->conn.ring[CONN_TX_ACTIVE], &e, &n)) {
        buf_client_ended(b);
        return false;
    }
    b->tx_free &= ~bit(i);
    b->notify |= n;
    return true;
}

bool buf_client_take_rx(struct buf_client *b, struct ring_entry *e)
{
    struct ring *active = &b->conn.ring[CONN_RX_ACTIVE];
    while (!ring_pop(active, e)) {
        if (buf_client_ended(b) || ring_empty_before_wait(active))
            return false;
    }
    if (e->id >= b->rx_bufs || !(b->rx_lent & bit(e->id)) ||
        e->offset != buf_client_offset(b, e->id)) {
        b->ended = true;
        return false;
    }
    b->rx_lent &= ~bit(e->id);
    return true;
}
