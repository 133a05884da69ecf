/* PL011 UART driver (see pl011.h). */
#include "pl011.h"

#include <pd/mmio.h>

/* Polls of the busy flag before reprogramming the line control register: a character takes
 * under 100 us at 115200 baud; this bounds the wait when the hardware never clears BUSY. */
#define PL011_BUSY_POLLS 100000u

static uint32_t rd(const struct pl011 *u, uint32_t reg)
{
    return pd_mmio_read32(u->base + reg);
}

static void wr(const struct pl011 *u, uint32_t reg, uint32_t value)
{
    pd_mmio_write32(u->base + reg, value);
}

static uint32_t rx_interrupts(void)
{
    return PL011_INT_RX | PL011_INT_RT;
}

void pl011_init(struct pl011 *u, uintptr_t base)
{
    u->base = base;
    u->tx_irq = false;
    u->errors = (struct pl011_errors){ 0 };
    wr(u, PL011_IMSC, 0);
    uint32_t lcr = rd(u, PL011_LCR_H);
    if (!(lcr & PL011_LCR_H_FEN)) {
        /* The line control register may change only while the UART is disabled and idle; the
         * baud rate and frame format it holds are kept, only the FIFOs are turned on. */
        wr(u, PL011_CR, rd(u, PL011_CR) & ~PL011_CR_UARTEN);
        for (unsigned i = 0; i < PL011_BUSY_POLLS && (rd(u, PL011_FR) & PL011_FR_BUSY); i++)
            ;
        wr(u, PL011_LCR_H, lcr | PL011_LCR_H_FEN);
    }
    wr(u, PL011_IFLS, PL011_IFLS_TX_1_8 | PL011_IFLS_RX_1_2);
    wr(u, PL011_ICR, PL011_INT_ALL);
    wr(u, PL011_CR, rd(u, PL011_CR) | PL011_CR_UARTEN | PL011_CR_TXE | PL011_CR_RXE);
    wr(u, PL011_IMSC, rx_interrupts());
}

size_t pl011_tx(struct pl011 *u, const uint8_t *buf, size_t len)
{
    size_t n = 0;
    while (n < len && !(rd(u, PL011_FR) & PL011_FR_TXFF))
        wr(u, PL011_DR, buf[n++]);
    /* The TX interrupt rises when the FIFO drains through its trigger level; it is enabled only
     * while it is full, which it is now, so the drain that makes room is always seen. */
    bool want = n < len;
    if (want != u->tx_irq) {
        u->tx_irq = want;
        wr(u, PL011_IMSC, rx_interrupts() | (want ? PL011_INT_TX : 0));
    }
    return n;
}

size_t pl011_rx(struct pl011 *u, uint8_t *buf, size_t max)
{
    size_t n = 0;
    /* At most `max` reads, counting dropped characters: a device that never says its FIFO is
     * empty cannot keep the caller here. */
    for (size_t reads = 0; reads < max && !(rd(u, PL011_FR) & PL011_FR_RXFE); reads++) {
        uint32_t v = rd(u, PL011_DR);
        if (v & PL011_DR_ERRORS) {
            wr(u, PL011_RSR_ECR, 0);
            if (v & PL011_DR_OE)
                u->errors.overrun++;
            if (v & PL011_DR_BE) {
                u->errors.brk++;
                continue;
            }
            if (v & PL011_DR_FE) {
                u->errors.framing++;
                continue;
            }
            if (v & PL011_DR_PE) {
                u->errors.parity++;
                continue;
            }
        }
        buf[n++] = (uint8_t)v;
    }
    return n;
}

void pl011_irq_clear(struct pl011 *u)
{
    uint32_t mis = rd(u, PL011_MIS);
    if (mis)
        wr(u, PL011_ICR, mis);
}
