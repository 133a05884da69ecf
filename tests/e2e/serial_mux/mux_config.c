/* The serial multiplexer's configuration for serial_mux.system, written by hand as the build
 * tool will generate it: the PL011 mapped at 0x2000000 with its interrupt on channel 0, and
 * two clients whose regions and channels are those of the system file. */
#include <serial_mux/config.h>

#define CLIENT(name_, base_, channel_)    \
    {                                     \
        .name = name_, .conn = {          \
            .queue = (base_),             \
            .capacity = 16,               \
            .tx_data = (base_) + 0x10000, \
            .tx_size = 0x2000,            \
            .rx_data = (base_) + 0x20000, \
            .rx_size = 0x1000,            \
            .channel = (channel_)         \
        }                                 \
    }

const struct serial_mux_config serial_mux_config = {
    .uart_regs = 0x2000000,
    .uart_irq_channel = 0,
    .driver = SERIAL_DRIVER_PL011,
    .num_clients = 2,
    .first_input = 0,
    .clients = { CLIENT("hello1", 0x3000000, 1), CLIENT("hello2", 0x3100000, 2) },
};
