/*
 * The serial multiplexer: one UART shared by up to nine clients (VMs' virtio consoles, native
 * PDs), each connected by the serial protocol (proto/serial.h).
 *
 * Output: each client's bytes are collected into lines and printed with its name in front
 * ("[linux1] ..."), so lines of different clients never mix. A client's unfinished line is
 * printed as it stands when that client has the input and has nothing more queued (a shell
 * prompt), when its line buffer fills, and when the input moves to it; another client's line
 * that comes while one is open starts on a new line, and the open line is shown again after it.
 * Carriage returns from clients are dropped; every line ends with CR LF.
 * Input: goes to one client at a time. Ctrl-\ (0x1c) then a client's number (1-9) gives that
 * client the input, Ctrl-\ Ctrl-\ sends one 0x1c, Ctrl-\ ? prints per-client counters, anything
 * else after Ctrl-\ lists the clients.
 *
 * Nothing a client does can hold up another client or the multiplexer: every buffer is bounded,
 * the clients take turns one line at a time, input for a client with no free receive buffer is
 * dropped and counted, and a client whose ring is corrupt loses its connection (one report). A
 * client's output waits (stays in its TX ring) only while the UART is busy; it is never dropped.
 */
#ifndef SERIAL_MUX_MUX_H
#define SERIAL_MUX_MUX_H

#include <proto/conn.h>
#include <proto/serial.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "uart.h"

#define MUX_ESCAPE 0x1c       /* Ctrl-\ */
#define MUX_LINE_MAX 256      /* a longer line is printed in pieces */
#define MUX_OUT_SIZE 4096     /* bytes waiting for the UART */
#define MUX_OUT_MUX_ONLY 1024 /* of which clients may not use the last ones: the mux's own */
#define MUX_RX_BATCH 64       /* bytes read from the UART at a time */

struct mux_client_counters {
    uint64_t out_bytes;   /* output taken from the client */
    uint64_t long_lines;  /* times its line buffer filled and was printed unfinished */
    uint64_t in_bytes;    /* input delivered to it */
    uint64_t in_dropped;  /* input dropped: no free receive buffer, or no connection */
    uint64_t bad_entries; /* ring entries outside its data regions or of a bad length */
};

struct mux_client {
    const char *name;
    unsigned name_len;
    bool configured; /* its configuration passed the checks at start */
    bool ended;      /* its connection ended (a ring was corrupt): rings no longer touched */
    bool end_reported;
    unsigned end_ring; /* the corrupt ring (enum conn_ring_id) */
    struct conn conn;
    /* The entry taken last, copied out of the shared region. */
    uint8_t staged[SERIAL_BUF_SIZE];
    uint32_t staged_len, staged_pos;
    /* The line being collected; `shown` of its bytes are on the UART when its line is open. */
    uint8_t line[MUX_LINE_MAX];
    uint32_t line_len, shown;
    bool notify; /* the client must be notified when this round ends */
    bool bad_tx_reported, bad_rx_reported, input_drop_reported;
    struct mux_client_counters count;
};

struct mux {
    bool ready;
    const struct uart_driver *uart;
    union uart_state uart_state;
    unsigned irq_channel;
    unsigned num_clients;
    struct mux_client client[SERIAL_MUX_MAX_CLIENTS];
    unsigned focus; /* the client with the input */
    bool escape;    /* Ctrl-\ seen, its command not yet */
    unsigned next;  /* the client that goes first in the next round */
    /* The output stream: bytes for the UART (indices run freely), and the line it is in. */
    uint8_t out[MUX_OUT_SIZE];
    uint32_t out_head, out_tail;
    bool line_open;      /* the last line written has not ended */
    unsigned line_owner; /* whose line that is: a client index, or MUX_OWNER_SELF */
    uint64_t mux_lines_dropped;
};

#define MUX_OWNER_SELF SERIAL_MUX_MAX_CLIENTS

/* Checks the configuration, starts the UART, says who has the input, and serves what clients
 * queued before it started. A configuration it cannot use is reported in one line. */
void mux_init(struct mux *m, const struct serial_mux_config *cfg);
/* A notification: the UART's interrupt or any client's channel. */
void mux_notified(struct mux *m, unsigned channel);

#endif
