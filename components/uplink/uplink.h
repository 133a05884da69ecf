/*
 * The uplink: a port of the virtual switch (pd/net_client.h) whose other side is a NIC
 * (drivers/virtio_net): frames from the switch go out on the NIC, frames the NIC receives go to
 * the switch (which lets an uplink send with the outside hosts' source MACs and learns them).
 * Nothing waits: while the switch holds every TX buffer, received frames stay in the NIC's queue
 * (the NIC drops when it has no buffer left); while the NIC's transmit queue is full, frames stay
 * in the switch's RX ring (the switch drops once it is full). Both sides interrupt or notify when
 * they have room again.
 */
#ifndef UPLINK_UPLINK_H
#define UPLINK_UPLINK_H

#include <pd/net_client.h>
#include <proto/net.h>
#include <stdbool.h>
#include <stdint.h>
#include <virtio_net/virtio_net.h>

#include "config.h"

struct uplink {
    bool ready;
    const struct uplink_config *cfg;
    struct net_client net;
    struct vnet nic;
    uint8_t frame[NET_BUF_SIZE];
};

/* Attaches to the switch and starts the NIC; says what it drives, or in one line why not. */
void uplink_init(struct uplink *u, const struct uplink_config *cfg, uint64_t dma_paddr,
                 const char *name);
/* The NIC's interrupt or the switch's notification: move what can move, both ways. */
void uplink_notified(struct uplink *u, unsigned channel);

#endif
