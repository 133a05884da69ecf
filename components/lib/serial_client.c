/* The client side of the serial protocol for native PDs (see pd/serial_client.h). */
#include <pd/serial_client.h>

bool serial_client_init(struct serial_client *c, const struct conn_config *cfg)
{
    *c = (struct serial_client){ .rx_have = false };
    bool ok = buf_client_init(&c->bc, cfg, SERIAL_BUF_SIZE);
    if (ok)
        buf_client_flush(&c->bc);
    return ok;
}

void serial_client_notified(struct serial_client *c)
{
    buf_client_take_tx(&c->bc);
}

size_t serial_client_room(struct serial_client *c)
{
    serial_client_notified(c);
    return c->bc.ended ? 0 : (size_t)__builtin_popcountll(c->bc.tx_free) * SERIAL_BUF_SIZE;
}

size_t serial_client_put(struct serial_client *c, const void *data, size_t len)
{
    const uint8_t *src = data;
    size_t done = 0;
    serial_client_notified(c);
    while (!c->bc.ended && done < len && c->bc.tx_free) {
        uint32_t i = buf_client_free_tx(&c->bc);
        uint32_t k = len - done < SERIAL_BUF_SIZE ? (uint32_t)(len - done) : SERIAL_BUF_SIZE;
        uint8_t *dst = c->bc.conn.tx_data + buf_client_offset(&c->bc, i);
        for (uint32_t j = 0; j < k; j++)
            dst[j] = src[done + j];
        if (!buf_client_queue_tx(&c->bc, i, k))
            break;
        done += k;
    }
    buf_client_ended(&c->bc);
    buf_client_flush(&c->bc);
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

/* Takes the next filled RX buffer; false if there is none (or it is not one this side lent, or
 * holds no byte or more than a buffer: that ends the connection). */
static bool next_rx(struct serial_client *c)
{
    struct ring_entry *e = &c->rx_cur;
    if (!buf_client_take_rx(&c->bc, e))
        return false;
    if (e->len < 1 || e->len > SERIAL_BUF_SIZE) {
        c->bc.ended = true;
        return false;
    }
    c->rx_have = true;
    c->rx_pos = 0;
    return true;
}

size_t serial_client_get(struct serial_client *c, void *buf, size_t max)
{
    uint8_t *dst = buf;
    size_t got = 0;
    while (got < max && !buf_client_ended(&c->bc) && (c->rx_have || next_rx(c))) {
        const uint8_t *src = c->bc.conn.rx_data + c->rx_cur.offset;
        while (got < max && c->rx_pos < c->rx_cur.len)
            dst[got++] = src[c->rx_pos++];
        if (c->rx_pos < c->rx_cur.len)
            break;
        /* Read to its end: back to the multiplexer, whole again. */
        buf_client_lend_rx(&c->bc, c->rx_cur.id);
        c->rx_have = false;
    }
    buf_client_flush(&c->bc);
    return got;
}
