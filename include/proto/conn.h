/*
 * A connection between a client (a VMM's device front end, or a native PD) and a server (a
 * backend PD): one queue region holding four rings (proto/ring.h), two data regions and one
 * Microkit channel. The build tool (tools/vmm-system.py) creates the regions, maps them into
 * both PDs and writes each side's view (addresses, sizes, ring capacity, channel) into that
 * side's generated configuration.
 *
 *   TX (client -> server): the client fills buffers in the TX data region and queues them on
 *     TX_ACTIVE; the server consumes them and gives them back on TX_FREE.
 *   RX (server -> client): the client queues empty buffers of the RX data region on RX_FREE;
 *     the server fills them and queues them on RX_ACTIVE.
 * Only the client writes TX data and only the server writes RX data, so each data region is
 * mapped read-write on one side and read-only on the other. Request/response protocols (the
 * block device) use TX_ACTIVE for requests and RX_ACTIVE for responses and say so in their own
 * header.
 */
#ifndef PROTO_CONN_H
#define PROTO_CONN_H

#include <proto/ring.h>

enum conn_ring_id {
    CONN_TX_ACTIVE,
    CONN_TX_FREE,
    CONN_RX_FREE,
    CONN_RX_ACTIVE,
    CONN_RINGS,
};

/* Offset of ring `id` in the queue region (each ring starts on a 64-byte line). */
static inline uint64_t conn_ring_offset(uint32_t capacity, unsigned id)
{
    return id * ((RING_BYTES(capacity) + 63) & ~(uint64_t)63);
}

/* Bytes of queue region a connection with rings of `capacity` entries needs. */
static inline uint64_t conn_queue_bytes(uint32_t capacity)
{
    return conn_ring_offset(capacity, CONN_RINGS);
}

/* One side's view of a connection, filled from its generated configuration. */
struct conn_config {
    uintptr_t queue;   /* queue region, as mapped in this PD */
    uint32_t capacity; /* entries per ring, a power of two */
    uintptr_t tx_data; /* TX data region */
    uint64_t tx_size;
    uintptr_t rx_data; /* RX data region */
    uint64_t rx_size;
    unsigned channel; /* Microkit channel to the other side */
};

struct conn {
    struct ring ring[CONN_RINGS];
    uint8_t *tx_data, *rx_data;
    uint64_t tx_size, rx_size;
    unsigned channel;
};

static inline void conn_attach(struct conn *c, const struct conn_config *cfg)
{
    for (unsigned i = 0; i < CONN_RINGS; i++)
        ring_init(&c->ring[i], (uint8_t *)cfg->queue + conn_ring_offset(cfg->capacity, i),
                  cfg->capacity);
    c->tx_data = (uint8_t *)cfg->tx_data;
    c->rx_data = (uint8_t *)cfg->rx_data;
    c->tx_size = cfg->tx_size;
    c->rx_size = cfg->rx_size;
    c->channel = cfg->channel;
}

#endif
