/*
 * The client side of the serial protocol (proto/serial.h) for native protection domains: how a
 * PD prints through the serial multiplexer and reads the input the user gives it.
 *
 * The data regions are cut into buffers of SERIAL_BUF_SIZE bytes (pd/buf_client.h). Every RX buffer
 * is handed to the multiplexer at start; TX buffers are filled by serial_client_put and come back
 * once the multiplexer has taken their bytes. Nothing here waits: output that finds no free buffer
 * is dropped and counted (call serial_client_room first to avoid that), and what comes back from
 * the multiplexer is checked (a buffer this client did not hand out, or a corrupt ring, ends the
 * connection).
 *
 * The connection's regions must start zeroed (as Microkit creates regions without phys_addr):
 * neither side resets the rings, so neither can lose what the other queued first.
 */
#ifndef PD_SERIAL_CLIENT_H
#define PD_SERIAL_CLIENT_H

#include <pd/buf_client.h>
#include <proto/serial.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct serial_client {
    struct buf_client bc;
    struct ring_entry rx_cur; /* the RX buffer being read, rx_pos bytes of it so far */
    uint32_t rx_pos;
    bool rx_have;
    uint64_t out_dropped; /* bytes serial_client_put could not queue */
};

/* Attaches to the connection and gives the multiplexer every RX buffer. False (and the client
 * unusable) if the configuration leaves no buffer or has a bad capacity. */
bool serial_client_init(struct serial_client *c, const struct conn_config *cfg);
/* Queues up to `len` bytes of output; returns how many (the rest is dropped and counted). */
size_t serial_client_put(struct serial_client *c, const void *data, size_t len);
size_t serial_client_puts(struct serial_client *c, const char *s);
/* Bytes serial_client_put would take now. */
size_t serial_client_room(struct serial_client *c);
/* Copies up to `max` bytes of input into `buf`; returns how many (0: none waiting). Buffers
 * read to their end go back to the multiplexer. */
size_t serial_client_get(struct serial_client *c, void *buf, size_t max);
/* Call when notified on the connection's channel: takes back the TX buffers the multiplexer
 * returned (serial_client_put and serial_client_room do that too). */
void serial_client_notified(struct serial_client *c);

#endif
