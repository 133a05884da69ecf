/* A serial multiplexer under test: the simulated PL011, up to three clients with their shared
 * regions, and a pump that delivers notifications both ways until everything is quiet. */
#ifndef MUX_FIXTURE_H
#define MUX_FIXTURE_H

#include <pd/serial_client.h>
#include <serial_mux/mux.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim_pl011.h"

#define MFX_CLIENTS 3
#define MFX_CAPACITY 8
#define MFX_TX_SIZE (8 * SERIAL_BUF_SIZE)
#define MFX_RX_SIZE (4 * SERIAL_BUF_SIZE)
#define MFX_IRQ_CH 0
#define MFX_MUX_CH(i) (1 + (i))     /* the mux's channel to client i */
#define MFX_CLIENT_CH(i) (11 + (i)) /* client i's channel to the mux */

struct mfx_conn {
    _Alignas(64) uint8_t queue[4096];
    uint8_t tx[MFX_TX_SIZE];
    uint8_t rx[MFX_RX_SIZE];
    struct conn_config client_view;
    struct serial_client api; /* when the test drives the client through the client API */
    bool uses_api;
    struct conn raw;               /* the client's rings, for entries a test makes by hand */
    void (*on_notify)(unsigned i); /* what the client does when the mux notifies it */
    unsigned notified;
};

struct mfx {
    struct sim_pl011 uart;
    struct mux mux;
    struct serial_mux_config cfg;
    struct mfx_conn c[MFX_CLIENTS];
    size_t wire_mark;
};

extern struct mfx mfx;

/* Clients named linux1, linux2, linux3 (as many as asked), UART at the model, FIFOs 16 deep,
 * the line taking output at once or only when the test drains it. The mux is not started. */
void mfx_setup(unsigned clients, bool instant_tx);
/* Starts the mux (and delivers what follows). */
void mfx_start(void);
/* Client i uses the client API (its RX buffers are lent to the mux). Call before or after
 * mfx_start. */
void mfx_use_api(unsigned i);
/* Client i prints `s` through the client API; then everything is delivered. */
void mfx_put(unsigned i, const char *s);
/* Client i queues an entry by hand (data already in its TX region) and notifies. */
void mfx_raw_tx(unsigned i, uint64_t offset, uint32_t len, uint32_t id);
/* The user types `n` bytes; the UART interrupts as the hardware would; all is delivered. */
void mfx_type_bytes(const void *bytes, size_t n);
void mfx_type(const char *s);
/* Delivers notifications (client -> mux, mux -> client, UART interrupt -> mux) until quiet. */
void mfx_pump(void);
/* Input client i received through the client API so far (NUL-terminated, at most max-1). */
size_t mfx_get(unsigned i, char *buf, size_t max);
/* Everything on the line, and what came since the last mfx_wire_since call. */
const char *mfx_wire(void);
const char *mfx_wire_since(void);
/* How many times `needle` is on the line. */
unsigned mfx_wire_count(const char *needle);

#endif
