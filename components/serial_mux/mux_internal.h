/* What the multiplexer's files share (see mux.h for what it does). */
#ifndef SERIAL_MUX_INTERNAL_H
#define SERIAL_MUX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mux.h"
#include <lib/text.h>

/* mux_out.c: the output stream. */
/* Prints client `idx`'s line as collected so far, ending it if `end_line`; false (and nothing
 * printed) if the output buffer has no room for it now. */
bool mux_out_client(struct mux *m, unsigned idx, bool end_line);
/* Prints "[mux] <text>" as a line of its own; if there is no room, drops and counts it. */
void mux_line(struct mux *m, const struct text *t);
/* Hands waiting output to the UART; true if it took any. */
bool mux_out_flush(struct mux *m);

/* mux_client.c: one client's connection. */
/* One step of a client's output: one line printed, or one entry taken from its TX ring, or the
 * report of its ended connection. True if it did something. */
bool mux_client_step(struct mux *m, unsigned idx);
/* True if the client has nothing queued: all taken and printed as far as lines go. */
bool mux_client_drained(struct mux *m, unsigned idx);
/* Input for the client: into its free RX buffers, the rest dropped and counted. */
void mux_client_deliver(struct mux *m, unsigned idx, const uint8_t *in, size_t n);
/* Checks a client's configuration; says what is wrong in one line and returns false. */
bool mux_client_setup(struct mux *m, unsigned idx, const struct serial_mux_client_config *cfg);

/* mux_input.c: input from the UART, the escape commands. */
void mux_input(struct mux *m, const uint8_t *in, size_t n);
/* Prints the unfinished line of the client with the input if it is not fully on the UART and
 * the client has nothing more queued (or `now`: the input just moved to it). */
bool mux_show_focus(struct mux *m, bool now);
void mux_list_clients(struct mux *m);

/* The client's name and number as lines show it: "linux1 (1)". */
void text_client(struct text *t, const struct mux *m, unsigned idx);

#endif
