/* The example client's view of its connection in serial_mux.system (the same in both
 * instances: each maps its own regions at these addresses and reaches the mux on channel 0). */
#include <hello/config.h>

const struct hello_config hello_config = {
    .serial = { .queue = 0x3000000,
                .capacity = 16,
                .tx_data = 0x3010000,
                .tx_size = 0x2000,
                .rx_data = 0x3020000,
                .rx_size = 0x1000,
                .channel = 0 },
};
