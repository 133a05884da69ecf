/*
 * The client side of the network protocol (proto/net.h) for native protection domains: how a PD
 * (the echo service, a NIC driver) is a port of the virtual switch.
 *
 * The data regions are cut into buffers of NET_BUF_SIZE bytes (pd/buf_client.h). Every RX buffer is
 * lent to the switch at start and lent again as soon as its frame has been copied out; TX buffers
 * are filled by net_client_send and come back once the switch has copied the frame. Nothing here
 * waits: a frame that finds no free TX buffer is dropped and counted (as a NIC drops when its ring
 * is full). What comes back from the switch is checked: a buffer this side did not lend (or an
 * entry of another buffer's offset) ends the connection, as does a corrupt ring; an RX entry of a
 * bad length is counted and its buffer lent again.
 *
 * The connection's regions must start zeroed (as Microkit creates regions without phys_addr):
 * neither side resets the rings.
 */
#ifndef PD_NET_CLIENT_H
#define PD_NET_CLIENT_H

#include <pd/buf_client.h>
#include <proto/net.h>
#include <stdbool.h>
#include <stdint.h>

struct net_client_counters {
    uint64_t rx_frames, tx_frames;
    uint64_t tx_no_buffer; /* frames net_client_send dropped: every TX buffer at the switch */
    uint64_t rx_bad;       /* RX entries of a bad length (their buffers lent again) */
};

struct net_client {
    struct buf_client bc; /* bc.notify: the switch must be notified (net_client_flush) */
    struct net_client_counters count;
};

/* Attaches to the connection and lends the switch every RX buffer (notified at the next
 * net_client_flush). False (and the client unusable) if the configuration leaves no buffer or
 * has a bad capacity. */
bool net_client_init(struct net_client *c, const struct conn_config *cfg);
/* Copies the next received frame into `buf` and lends its buffer again; returns the frame's
 * length, 0 if none is waiting. A frame longer than `size` is cut to `size`. */
uint32_t net_client_recv(struct net_client *c, uint8_t *buf, uint32_t size);
/* Queues a copy of one frame of NET_MIN_FRAME..NET_MAX_FRAME bytes; false (counted) if no TX
 * buffer is free, the length is wrong or the connection ended. */
bool net_client_send(struct net_client *c, const uint8_t *frame, uint32_t len);
/* Asks the switch to print its counters (proto/net.h: an entry of length 0). */
bool net_client_request_counters(struct net_client *c);
/* TX buffers free now (after taking back those the switch returned). */
uint32_t net_client_tx_room(struct net_client *c);
/* Call when notified on the connection's channel: takes back the TX buffers the switch
 * returned (net_client_send does that too). */
void net_client_notified(struct net_client *c);
/* Notifies the switch if what was queued since the last flush needs it. */
void net_client_flush(struct net_client *c);

#endif
