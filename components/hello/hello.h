/*
 * An example native PD that is a client of the serial multiplexer (pd/serial_client.h). It greets
 * at start, shows a prompt, echoes what it is typed, and answers each line with what it got.
 * Two lines are commands, for trying the multiplexer's limits: "flood N" prints N numbered lines
 * as fast as the multiplexer takes them, "deaf" makes it stop reading its input for good.
 */
#ifndef HELLO_HELLO_H
#define HELLO_HELLO_H

#include <pd/serial_client.h>
#include <stdbool.h>
#include <stdint.h>

#define HELLO_LINE_MAX 64

struct hello {
    struct serial_client serial;
    const char *name;
    char line[HELLO_LINE_MAX];
    uint32_t line_len;
    bool deaf;
    uint32_t flood_left, flood_total;
    /* Output collected during one notification, put in one go. */
    char out[SERIAL_BUF_SIZE];
    uint32_t out_len;
};

void hello_init(struct hello *h, const struct conn_config *serial, const char *name);
void hello_notified(struct hello *h, unsigned channel);

#endif
