/*
 * The serial protocol over a connection (proto/conn.h) between a client (a VMM's virtio console,
 * or a native PD through pd/serial_client.h) and the serial multiplexer
 * (components/serial_mux).
 *
 * TX: the client's output. Each TX_ACTIVE entry names 1..SERIAL_BUF_SIZE bytes of the TX data
 * region, raw bytes in order; the multiplexer gives the buffer back on TX_FREE (same offset and
 * id, len unchanged) once it has taken the bytes, whether it could print them or had to drop
 * them (it counts what it drops).
 * RX: the client's input. The client queues empty buffers (len = their size, at most
 * SERIAL_BUF_SIZE) on RX_FREE; the multiplexer fills one with 1..len bytes, sets len to the
 * bytes filled and queues it on RX_ACTIVE. Input for a client with no free RX buffer is dropped
 * and counted.
 * Either side notifies the other on the connection's channel as proto/ring.h says. Offsets and
 * lengths are checked by the receiving side (ring_entry_inside); a bad one is dropped and
 * counted, and a corrupt ring ends the connection.
 */
#ifndef PROTO_SERIAL_H
#define PROTO_SERIAL_H

#define SERIAL_BUF_SIZE 512u

#endif
