/* The client side of the network protocol for native PDs (see pd/net_client.h). */
#include <pd/net_client.h>

bool net_client_init(struct net_client *c, const struct conn_config *cfg)
{
    *c = (struct net_client){ .count = { 0, 0, 0, 0 } };
    return buf_client_init(&c->bc, cfg, NET_BUF_SIZE);
}

void net_client_notified(struct net_client *c)
{
    buf_client_take_tx(&c->bc);
}

uint32_t net_client_tx_room(struct net_client *c)
{
    net_client_notified(c);
    return c->bc.ended ? 0 : (uint32_t)__builtin_popcountll(c->bc.tx_free);
}

bool net_client_send(struct net_client *c, const uint8_t *frame, uint32_t len)
{
    net_client_notified(c);
    if (c->bc.ended || len < NET_MIN_FRAME || len > NET_MAX_FRAME || !c->bc.tx_free) {
        c->count.tx_no_buffer++;
        return false;
    }
    uint32_t i = buf_client_free_tx(&c->bc);
    uint8_t *dst = c->bc.conn.tx_data + buf_client_offset(&c->bc, i);
    for (uint32_t j = 0; j < len; j++)
        dst[j] = frame[j];
    if (!buf_client_queue_tx(&c->bc, i, len)) {
        c->count.tx_no_buffer++;
        return false;
    }
    c->count.tx_frames++;
    return true;
}

bool net_client_request_counters(struct net_client *c)
{
    net_client_notified(c);
    if (c->bc.ended || !c->bc.tx_free)
        return false;
    return buf_client_queue_tx(&c->bc, buf_client_free_tx(&c->bc), 0);
}

uint32_t net_client_recv(struct net_client *c, uint8_t *buf, uint32_t size)
{
    struct ring_entry e;
    /* At most every lent buffer once: one of a bad length is lent again and skipped. */
    for (uint32_t tries = 0; tries < c->bc.rx_bufs; tries++) {
        if (!buf_client_take_rx(&c->bc, &e))
            return 0;
        if (e.len < NET_MIN_FRAME || e.len > NET_MAX_FRAME) {
            c->count.rx_bad++;
            buf_client_lend_rx(&c->bc, e.id);
            continue;
        }
        uint32_t n = e.len < size ? e.len : size;
        const volatile uint8_t *src = c->bc.conn.rx_data + e.offset;
        for (uint32_t j = 0; j < n; j++)
            buf[j] = src[j];
        buf_client_lend_rx(&c->bc, e.id);
        c->count.rx_frames++;
        return n;
    }
    return 0;
}

void net_client_flush(struct net_client *c)
{
    buf_client_flush(&c->bc);
}
