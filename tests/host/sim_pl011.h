/*
 * A model of a PL011 UART for host tests: the register block a driver is given, with a receive
 * FIFO the test fills from "the line", a transmit FIFO the line drains at the pace the test sets,
 * and the interrupts as the hardware raises them (the TX interrupt only when the FIFO drains
 * through its trigger level, RX at the RX trigger level, RX timeout when the test says the line
 * went idle). Accesses reach it through sim_pd's device routing. It records what the driver does
 * wrong (writing a full TX FIFO, changing the line control register while enabled, touching a
 * register that does not exist).
 */
#ifndef SIM_PL011_H
#define SIM_PL011_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_PL011_MAX_DEPTH 32
#define SIM_PL011_WIRE 262144

struct sim_pl011 {
    uint32_t block[0x1000 / 4]; /* the address the driver gets; never read or written */
    unsigned depth;             /* FIFO depth while FEN is set (1 without) */
    bool instant_tx;            /* the line takes every byte at once, as QEMU's PL011 does */
    uint32_t lcr_h, cr, ifls, imsc, ris, ibrd, fbrd, rsr;
    uint16_t rx[SIM_PL011_MAX_DEPTH];
    unsigned rx_head, rx_count;
    bool overrun_pending; /* the next character stored carries OE */
    uint8_t tx[SIM_PL011_MAX_DEPTH];
    unsigned tx_head, tx_count;
    /* What left on the line, from the start (wire_lost counts bytes that did not fit). */
    uint8_t wire[SIM_PL011_WIRE + 1];
    size_t wire_len;
    unsigned long wire_lost;
    unsigned rx_lost;  /* characters the line brought while the receiver was off or full */
    unsigned disables; /* writes to CR that turned the UART off */
    unsigned violations;
    char violation[160]; /* the first one */
};

/* Set up the model as firmware leaves a PL011 (enabled, 115200 8N1, FIFOs off, interrupts
 * masked) and route its block's addresses to it. */
void sim_pl011_init(struct sim_pl011 *u, unsigned depth, bool instant_tx);
uintptr_t sim_pl011_base(struct sim_pl011 *u);
/* The line brings one character, with receive error bits (PL011_DR_FE...) if any. */
void sim_pl011_receive(struct sim_pl011 *u, uint8_t c, uint32_t errors);
void sim_pl011_receive_str(struct sim_pl011 *u, const char *s);
/* The line has been idle for 32 bit periods: the RX timeout interrupt rises if data waits. */
void sim_pl011_rx_idle(struct sim_pl011 *u);
/* The line sends up to n bytes from the TX FIFO; returns how many. */
unsigned sim_pl011_drain(struct sim_pl011 *u, unsigned n);
/* The interrupt line (raw status & mask). */
bool sim_pl011_irq(const struct sim_pl011 *u);
/* The line output as a NUL-terminated string. */
const char *sim_pl011_wire(const struct sim_pl011 *u);

#endif
