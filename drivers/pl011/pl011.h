/*
 * A driver for the Arm PL011 UART (device tree compatible "arm,pl011"), over the register block
 * mapped at `base` (uncached). Register access goes through include/pd/mmio.h.
 *
 * The driver does not program the baud rate or the frame format: it keeps what firmware (or
 * QEMU) set up, turns the FIFOs on, and enables the receiver, the transmitter and the receive
 * interrupts (RX level and RX timeout). Output is written while the TX FIFO has room; when it
 * fills, the TX interrupt is enabled so that the caller hears (an interrupt) when there is room
 * again, and it is disabled again once a write fits.
 */
#ifndef DRIVERS_PL011_H
#define DRIVERS_PL011_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Register offsets. */
#define PL011_DR 0x000
#define PL011_RSR_ECR 0x004
#define PL011_FR 0x018
#define PL011_IBRD 0x024
#define PL011_FBRD 0x028
#define PL011_LCR_H 0x02c
#define PL011_CR 0x030
#define PL011_IFLS 0x034
#define PL011_IMSC 0x038
#define PL011_RIS 0x03c
#define PL011_MIS 0x040
#define PL011_ICR 0x044

/* DR: receive error bits above the data byte. */
#define PL011_DR_FE (1u << 8)
#define PL011_DR_PE (1u << 9)
#define PL011_DR_BE (1u << 10)
#define PL011_DR_OE (1u << 11)
#define PL011_DR_ERRORS (PL011_DR_FE | PL011_DR_PE | PL011_DR_BE | PL011_DR_OE)

/* FR */
#define PL011_FR_BUSY (1u << 3)
#define PL011_FR_RXFE (1u << 4)
#define PL011_FR_TXFF (1u << 5)

/* LCR_H */
#define PL011_LCR_H_FEN (1u << 4)

/* CR */
#define PL011_CR_UARTEN (1u << 0)
#define PL011_CR_TXE (1u << 8)
#define PL011_CR_RXE (1u << 9)

/* IFLS: TX interrupt when the TX FIFO drains to 1/8 full, RX when it fills to 1/2. */
#define PL011_IFLS_TX_1_8 (0u << 0)
#define PL011_IFLS_RX_1_2 (2u << 3)

/* Interrupt bits (IMSC, RIS, MIS, ICR). */
#define PL011_INT_RX (1u << 4)
#define PL011_INT_TX (1u << 5)
#define PL011_INT_RT (1u << 6)
#define PL011_INT_FE (1u << 7)
#define PL011_INT_PE (1u << 8)
#define PL011_INT_BE (1u << 9)
#define PL011_INT_OE (1u << 10)
#define PL011_INT_ALL 0x7ffu

/* Receive errors, counted as the characters carrying them are read. */
struct pl011_errors {
    uint64_t framing, parity, brk, overrun;
};

struct pl011 {
    uintptr_t base;
    bool tx_irq; /* TX interrupt enabled: output is waiting for room in the FIFO */
    struct pl011_errors errors;
};

void pl011_init(struct pl011 *u, uintptr_t base);
/* Writes bytes while the TX FIFO has room; returns how many. Fewer than `len` means the FIFO
 * filled: the TX interrupt is then enabled (and disabled by the next write that fits). */
size_t pl011_tx(struct pl011 *u, const uint8_t *buf, size_t len);
/* Reads received bytes while the RX FIFO has any, up to `max`; returns how many it stored.
 * Characters received with a framing or parity error, and breaks, are dropped and counted; an
 * overrun (characters lost before this one) is counted and the character kept. */
size_t pl011_rx(struct pl011 *u, uint8_t *buf, size_t max);
/* Clears the interrupts that are pending now (before the caller services the FIFOs). */
void pl011_irq_clear(struct pl011 *u);

#endif
