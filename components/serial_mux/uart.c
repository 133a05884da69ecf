/* The multiplexer's UART driver table (see uart.h). */
#include "uart.h"

#include "config.h"

static void pl011_init_op(union uart_state *s, uintptr_t regs)
{
    pl011_init(&s->pl011, regs);
}

static size_t pl011_tx_op(union uart_state *s, const uint8_t *buf, size_t len)
{
    return pl011_tx(&s->pl011, buf, len);
}

static size_t pl011_rx_op(union uart_state *s, uint8_t *buf, size_t max)
{
    return pl011_rx(&s->pl011, buf, max);
}

static void pl011_irq_clear_op(union uart_state *s)
{
    pl011_irq_clear(&s->pl011);
}

static struct uart_rx_errors pl011_errors_op(const union uart_state *s)
{
    const struct pl011_errors *e = &s->pl011.errors;
    return (struct uart_rx_errors){ e->framing, e->parity, e->brk, e->overrun };
}

static const struct uart_driver drivers[] = {
    [SERIAL_DRIVER_PL011] = { "pl011", pl011_init_op, pl011_tx_op, pl011_rx_op, pl011_irq_clear_op,
                              pl011_errors_op },
};

const struct uart_driver *uart_driver_find(unsigned kind)
{
    if (kind >= sizeof(drivers) / sizeof(drivers[0]) || !drivers[kind].name)
        return NULL;
    return &drivers[kind];
}

unsigned uart_driver_kinds(void)
{
    return sizeof(drivers) / sizeof(drivers[0]);
}
