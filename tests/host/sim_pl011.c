/* The PL011 model (see sim_pl011.h). */
#include "sim_pl011.h"

#include <pl011/pl011.h>
#include <stdio.h>
#include <string.h>

#include "sim_pd.h"

static void violation(struct sim_pl011 *u, const char *what, uint32_t offset)
{
    if (!u->violations++)
        snprintf(u->violation, sizeof(u->violation), "%s (offset 0x%x)", what, offset);
}

static unsigned depth(const struct sim_pl011 *u)
{
    return (u->lcr_h & PL011_LCR_H_FEN) ? u->depth : 1;
}

/* Trigger levels (IFLS: 0 = 1/8, 1 = 1/4, 2 = 1/2, 3 = 3/4, 4 = 7/8; without FIFOs, 1 deep). */
static unsigned level(const struct sim_pl011 *u, unsigned sel)
{
    static const unsigned eighths[] = { 1, 2, 4, 6, 7 };
    if (!(u->lcr_h & PL011_LCR_H_FEN))
        return 1;
    return u->depth * eighths[sel < 5 ? sel : 4] / 8;
}

static unsigned tx_level(const struct sim_pl011 *u)
{
    return (u->lcr_h & PL011_LCR_H_FEN) ? level(u, u->ifls & 7) : 0;
}

static unsigned rx_level(const struct sim_pl011 *u)
{
    return level(u, (u->ifls >> 3) & 7);
}

static void wire_put(struct sim_pl011 *u, uint8_t c)
{
    if (u->wire_len < SIM_PL011_WIRE) {
        u->wire[u->wire_len++] = c;
        u->wire[u->wire_len] = '\0';
    } else {
        u->wire_lost++;
    }
}

unsigned sim_pl011_drain(struct sim_pl011 *u, unsigned n)
{
    unsigned sent = 0;
    if (!(u->cr & PL011_CR_UARTEN) || !(u->cr & PL011_CR_TXE))
        return 0;
    while (sent < n && u->tx_count) {
        unsigned before = u->tx_count;
        wire_put(u, u->tx[u->tx_head]);
        u->tx_head = (u->tx_head + 1) % SIM_PL011_MAX_DEPTH;
        u->tx_count--;
        sent++;
        if (before > tx_level(u) && u->tx_count <= tx_level(u))
            u->ris |= PL011_INT_TX;
    }
    return sent;
}

static void tx_write(struct sim_pl011 *u, uint32_t value)
{
    if (u->tx_count >= depth(u)) {
        violation(u, "write to DR while the TX FIFO is full (character lost)", PL011_DR);
        return;
    }
    u->tx[(u->tx_head + u->tx_count) % SIM_PL011_MAX_DEPTH] = (uint8_t)value;
    u->tx_count++;
    if (u->tx_count > tx_level(u))
        u->ris &= ~PL011_INT_TX;
    if (u->instant_tx)
        sim_pl011_drain(u, u->tx_count);
}

static uint32_t rx_read(struct sim_pl011 *u)
{
    if (!u->rx_count)
        return 0; /* what the hardware returns from an empty FIFO is undefined; tests see 0 */
    uint16_t v = u->rx[u->rx_head];
    u->rx_head = (u->rx_head + 1) % SIM_PL011_MAX_DEPTH;
    u->rx_count--;
    u->rsr = (v >> 8) & 0xf;
    if (u->rx_count < rx_level(u))
        u->ris &= ~PL011_INT_RX;
    if (!u->rx_count)
        u->ris &= ~PL011_INT_RT;
    return v;
}

static uint32_t model_read(void *model, uint32_t offset)
{
    struct sim_pl011 *u = model;
    switch (offset) {
    case PL011_DR: return rx_read(u);
    case PL011_RSR_ECR: return u->rsr;
    case PL011_FR:
        return (u->rx_count ? 0 : PL011_FR_RXFE) | (u->tx_count >= depth(u) ? PL011_FR_TXFF : 0) |
               (u->tx_count ? PL011_FR_BUSY : (1u << 7) /* TXFE */);
    case PL011_IBRD: return u->ibrd;
    case PL011_FBRD: return u->fbrd;
    case PL011_LCR_H: return u->lcr_h;
    case PL011_CR: return u->cr;
    case PL011_IFLS: return u->ifls;
    case PL011_IMSC: return u->imsc;
    case PL011_RIS: return u->ris;
    case PL011_MIS: return u->ris & u->imsc;
    default: violation(u, "read of a register the model does not have", offset); return 0;
    }
}

static void model_write(void *model, uint32_t offset, uint32_t value)
{
    struct sim_pl011 *u = model;
    switch (offset) {
    case PL011_DR: tx_write(u, value); break;
    case PL011_RSR_ECR: u->rsr = 0; break;
    case PL011_LCR_H:
    case PL011_IBRD:
    case PL011_FBRD:
        if (u->cr & PL011_CR_UARTEN)
            violation(u, "line control or baud rate written while the UART is enabled", offset);
        if (offset == PL011_LCR_H) {
            if ((u->lcr_h ^ value) & PL011_LCR_H_FEN) /* the FIFOs are flushed */
                u->rx_count = u->tx_count = 0;
            u->lcr_h = value & 0xff;
        } else if (offset == PL011_IBRD) {
            u->ibrd = value & 0xffff;
        } else {
            u->fbrd = value & 0x3f;
        }
        break;
    case PL011_CR:
        if ((u->cr & PL011_CR_UARTEN) && !(value & PL011_CR_UARTEN))
            u->disables++;
        u->cr = value & 0xff87;
        break;
    case PL011_IFLS: u->ifls = value & 0x3f; break;
    case PL011_IMSC: u->imsc = value & PL011_INT_ALL; break;
    case PL011_ICR: u->ris &= ~value; break;
    default: violation(u, "write to a register the model does not have", offset); break;
    }
}

void sim_pl011_init(struct sim_pl011 *u, unsigned fifo_depth, bool instant_tx)
{
    memset(u, 0, sizeof(*u));
    u->depth = fifo_depth <= SIM_PL011_MAX_DEPTH ? fifo_depth : SIM_PL011_MAX_DEPTH;
    u->instant_tx = instant_tx;
    u->ibrd = 13; /* 115200 baud from a 24 MHz clock */
    u->fbrd = 1;
    u->lcr_h = 3u << 5; /* 8 bits, no parity, one stop bit, FIFOs off */
    u->cr = PL011_CR_UARTEN | PL011_CR_TXE | PL011_CR_RXE;
    u->ifls = 0x12; /* the reset value: 1/2 and 1/2 */
    sim_pd_map_device(sim_pl011_base(u), sizeof(u->block), model_read, model_write, u);
}

uintptr_t sim_pl011_base(struct sim_pl011 *u)
{
    return (uintptr_t)u->block;
}

void sim_pl011_receive(struct sim_pl011 *u, uint8_t c, uint32_t errors)
{
    if (!(u->cr & PL011_CR_UARTEN) || !(u->cr & PL011_CR_RXE)) {
        u->rx_lost++;
        return;
    }
    if (u->rx_count >= depth(u)) {
        u->rx_lost++;
        u->overrun_pending = true;
        u->ris |= PL011_INT_OE;
        return;
    }
    uint16_t v = (uint16_t)(c | (errors & PL011_DR_ERRORS));
    if (u->overrun_pending)
        v |= PL011_DR_OE;
    u->overrun_pending = false;
    u->rx[(u->rx_head + u->rx_count) % SIM_PL011_MAX_DEPTH] = v;
    u->rx_count++;
    if (errors & PL011_DR_FE)
        u->ris |= PL011_INT_FE;
    if (errors & PL011_DR_PE)
        u->ris |= PL011_INT_PE;
    if (errors & PL011_DR_BE)
        u->ris |= PL011_INT_BE;
    if (u->rx_count >= rx_level(u))
        u->ris |= PL011_INT_RX;
}

void sim_pl011_receive_str(struct sim_pl011 *u, const char *s)
{
    while (*s)
        sim_pl011_receive(u, (uint8_t)*s++, 0);
}

void sim_pl011_rx_idle(struct sim_pl011 *u)
{
    if (u->rx_count)
        u->ris |= PL011_INT_RT;
}

bool sim_pl011_irq(const struct sim_pl011 *u)
{
    return (u->ris & u->imsc) != 0;
}

const char *sim_pl011_wire(const struct sim_pl011 *u)
{
    return (const char *)u->wire;
}
