/*
 * The serial multiplexer's configuration: which UART it drives and who its clients are. The build
 * tool writes it as a C file defining
 *
 *     const struct serial_mux_config serial_mux_config = { ... };
 *
 * from the board's device tree (the UART's registers, its interrupt, its driver chosen by
 * `compatible`) and the system file (one client per virtio console or native client PD, each
 * with its view of the connection, proto/conn.h). Client numbers, which the user types after
 * Ctrl-\ to give a client the input, are the client's index + 1.
 */
#ifndef SERIAL_MUX_CONFIG_H
#define SERIAL_MUX_CONFIG_H

#include <proto/conn.h>
#include <stdint.h>

/* The UART drivers the multiplexer has, by the device tree `compatible` they serve. 0 is no
 * driver: a board whose UART has none is refused by the build; the multiplexer refuses it too. */
enum serial_driver_kind {
    SERIAL_DRIVER_NONE = 0,
    SERIAL_DRIVER_PL011 = 1, /* "arm,pl011" */
};

/* Clients are numbered 1..9 (one keystroke after Ctrl-\). */
#define SERIAL_MUX_MAX_CLIENTS 9
/* Longest client name (printed before each of its lines: "[name] "), printable ASCII. */
#define SERIAL_MUX_NAME_MAX 32

struct serial_mux_client_config {
    const char *name;
    struct conn_config conn; /* the multiplexer's view: it is the server */
};

struct serial_mux_config {
    uintptr_t uart_regs;       /* the UART's register block, mapped uncached in the mux */
    unsigned uart_irq_channel; /* the Microkit channel of the UART's interrupt */
    unsigned driver;           /* enum serial_driver_kind */
    unsigned num_clients;
    unsigned first_input; /* index of the client that has the input at start */
    struct serial_mux_client_config clients[SERIAL_MUX_MAX_CLIENTS];
};

extern const struct serial_mux_config serial_mux_config;

#endif
