/*
 * What the native clients of the serial and the network protocols share (pd/serial_client.h,
 * pd/net_client.h): a connection (proto/conn.h) whose data regions are cut into buffers of one
 * size (at most the ring capacity, at most BUF_CLIENT_MAX_BUFS of each), which TX buffers this
 * side may fill and which RX buffers it has lent the peer, and the checks of what the peer gives
 * back: an entry that names no buffer this side handed out (its id, and its offset, which follows
 * from the id), or a corrupt ring, ends the connection.
 */
#ifndef PD_BUF_CLIENT_H
#define PD_BUF_CLIENT_H

#include <proto/conn.h>
#include <stdbool.h>
#include <stdint.h>

#define BUF_CLIENT_MAX_BUFS 64

struct buf_client {
    struct conn conn;
    bool ended; /* the connection is unusable (corrupt ring, bad buffer, bad configuration) */
    uint32_t buf_size;
    uint32_t tx_bufs, rx_bufs;
    uint64_t tx_free; /* bit i: TX buffer i is this side's to fill */
    uint64_t rx_lent; /* bit i: RX buffer i is with the peer */
    bool notify;      /* a ring the peer reads went from empty to not: notify it */
};

/* Attaches to the connection and lends the peer every RX buffer (b->notify says whether to tell
 * it). False (and the client ended) if the configuration leaves no buffer or has a bad capacity. */
bool buf_client_init(struct buf_client *b, const struct conn_config *cfg, uint32_t buf_size);
/* Notifies the peer if a ring it reads went from empty to not since the last call. */
void buf_client_flush(struct buf_client *b);
/* True (and the client ended) if it had ended or a ring is found corrupt now. */
bool buf_client_ended(struct buf_client *b);
uint64_t buf_client_offset(const struct buf_client *b, uint32_t i);
/* Takes back the TX buffers the peer returned (TX_FREE). */
void buf_client_take_tx(struct buf_client *b);
/* The lowest TX buffer this side may fill; call only with b->tx_free not 0. */
uint32_t buf_client_free_tx(const struct buf_client *b);
/* Queues TX buffer `i` holding `len` bytes; false (nothing queued) if the ring takes none. */
bool buf_client_queue_tx(struct buf_client *b, uint32_t i, uint32_t len);
/* Lends RX buffer `i` to the peer again. */
void buf_client_lend_rx(struct buf_client *b, uint32_t i);
/* The next filled RX buffer (RX_ACTIVE) into *e, no longer lent: true; false if none is waiting
 * or the connection ended (an entry naming no lent buffer ends it). Its length is not checked. */
bool buf_client_take_rx(struct buf_client *b, struct ring_entry *e);

#endif
