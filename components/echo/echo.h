/*
 * The echo service: a port of the virtual switch (pd/net_client.h) with an IPv4 stack of its
 * own (echo_stack.h), so a guest can ping a native seL4 component and exchange UDP with it.
 * It answers every frame waiting at each notification; a reply that finds no free TX buffer is
 * dropped and counted (the sender retries, as it would on a real network).
 */
#ifndef ECHO_ECHO_H
#define ECHO_ECHO_H

#include <pd/net_client.h>
#include <proto/net.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "echo_stack.h"

struct echo {
    bool ready;
    struct net_client net;
    struct echo_stack stack;
    uint8_t in[NET_MAX_FRAME], out[NET_MAX_FRAME];
};

/* Attaches to the switch and says where it listens; a configuration it cannot use is one line. */
void echo_init(struct echo *e, const struct echo_config *cfg, const char *name);
/* A notification on its channel: answer what came. */
void echo_notified(struct echo *e, unsigned channel);

#endif
