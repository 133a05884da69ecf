/* The UART drivers the multiplexer can drive, chosen at run time by the kind its configuration
 * names (the build tool picks it from the board DTB's `compatible`): one table, no #if. */
#ifndef SERIAL_MUX_UART_H
#define SERIAL_MUX_UART_H

#include <pl011/pl011.h>
#include <stddef.h>
#include <stdint.h>

union uart_state {
    struct pl011 pl011;
};

/* Characters received with errors, as every driver counts them. */
struct uart_rx_errors {
    uint64_t framing, parity, brk, overrun;
};

struct uart_driver {
    const char *name;
    void (*init)(union uart_state *s, uintptr_t regs);
    /* Writes what fits now; when not everything fits, the driver arranges an interrupt for when
     * there is room again. */
    size_t (*tx)(union uart_state *s, const uint8_t *buf, size_t len);
    size_t (*rx)(union uart_state *s, uint8_t *buf, size_t max);
    void (*irq_clear)(union uart_state *s);
    struct uart_rx_errors (*errors)(const union uart_state *s);
};

/* The driver for `kind` (enum serial_driver_kind), or NULL if there is none. */
const struct uart_driver *uart_driver_find(unsigned kind);
/* One more than the highest kind with a driver (to list them in an error message). */
unsigned uart_driver_kinds(void);

#endif
