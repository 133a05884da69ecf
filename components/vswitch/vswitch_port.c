/*
 * One port's connection, as the server of the network protocol (proto/net.h). Everything read
 * from the shared regions is checked before it is used: entries must lie inside their data
 * region and be of a length the protocol allows (others are dropped and counted, the first of
 * each kind reported); a ring whose indices make no sense ends the port's connection.
 */
#include "vswitch_internal.h"

bool vswitch_port_live(struct vswitch *s, unsigned p)
{
    struct vswitch_port *port = &s->port[p];
    if (!port->configured)
        return false;
    if (!port->ended) {
        for (unsigned i = 0; i < CONN_RINGS; i++) {
            if (port->conn.ring[i].corrupt) {
                port->ended = true;
                port->end_ring = i;
                break;
            }
        }
    }
    if (port->ended && !port->end_reported) {
        port->end_reported = true;
        vswitch_report_end(s, p);
    }
    return !port->ended;
}

bool vswitch_port_take(struct vswitch *s, unsigned p, struct ring_entry *e)
{
    struct vswitch_port *port = &s->port[p];
    struct ring *active = &port->conn.ring[CONN_TX_ACTIVE];
    /* With no more buffers than ring entries, as the protocol has it, TX_FREE is full only for
     * a port that does not take its buffers back: its frames wait, nobody else's do. */
    if (!ring_has_room(&port->conn.ring[CONN_TX_FREE], 1))
        return false;
    if (ring_pop(active, e))
        return true;
    /* Entries that came after the pop looked are taken in the next round. */
    return !ring_empty_before_wait(active) && ring_pop(active, e);
}

void vswitch_port_give_back(struct vswitch *s, unsigned p, const struct ring_entry *e)
{
    struct vswitch_port *port = &s->port[p];
    bool notify = false;
    ring_push(&port->conn.ring[CONN_TX_FREE], e, &notify);
    port->notify |= notify;
}

void vswitch_port_deliver(struct vswitch *s, unsigned q, const uint8_t *hdr, const uint8_t *frame,
                          uint32_t len)
{
    struct vswitch_port *port = &s->port[q];
    if (!vswitch_port_live(s, q))
        return;
    struct ring *free = &port->conn.ring[CONN_RX_FREE], *active = &port->conn.ring[CONN_RX_ACTIVE];
    /* At most one ring's worth of bad entries is skipped: a port refilling RX_FREE with them
     * from another core cannot keep the switch here. */
    for (uint32_t tries = 0; tries < free->capacity; tries++) {
        struct ring_entry e;
        if (!ring_has_room(active, 1) || !ring_pop(free, &e))
            break;
        if (!ring_entry_inside(&e, port->conn.rx_size) || e.len < len || e.len > NET_BUF_SIZE) {
            port->count.bad_entries++;
            vswitch_report_bad_entry(s, q, "RX_FREE", &e, port->conn.rx_size);
            continue;
        }
        uint8_t *dst = port->conn.rx_data + e.offset;
        /* The whole frame in one copy (both buffers are usually aligned), then the header the
         * switch checked over the one the sender's buffer may hold by now. */
        __builtin_memcpy(dst, frame, len);
        __builtin_memcpy(dst, hdr, NET_MIN_FRAME);
        e.len = len;
        bool notify = false;
        if (!ring_push(active, &e, &notify))
            break;
        port->notify |= notify;
        port->count.out_frames++;
        port->count.out_bytes += len;
        port->dropping = false;
        return;
    }
    vswitch_port_live(s, q);
    port->count.out_dropped++;
    if (!port->dropping) {
        port->dropping = true;
        vswitch_report_dropping(s, q);
    }
}
