/* The example client's configuration: its view of its connection to the serial multiplexer
 * (it is the client). The build writes `const struct hello_config hello_config`. */
#ifndef HELLO_CONFIG_H
#define HELLO_CONFIG_H

#include <proto/conn.h>

struct hello_config {
    struct conn_config serial;
};

extern const struct hello_config hello_config;

#endif
