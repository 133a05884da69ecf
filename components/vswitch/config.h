/*
 * The virtual switch's configuration: its name and its ports. The build tool writes it as a C
 * file defining
 *
 *     const struct vswitch_config vswitch_config = { ... };
 *
 * from the system file: one port per <virtio_net switch="..."/> of a VM and per native PD with
 * <net_client switch="..."/>, in the order the file gives them, each with the MAC the
 * declaration gives it (or the build derives from its name) and the switch's view of the
 * connection (proto/conn.h, proto/net.h: the switch is the server).
 */
#ifndef VSWITCH_CONFIG_H
#define VSWITCH_CONFIG_H

#include <proto/conn.h>
#include <stdbool.h>
#include <stdint.h>

#define VSWITCH_MAX_PORTS 16
#define VSWITCH_NAME_MAX 32 /* longest switch or port name, printable ASCII */

struct vswitch_port_config {
    const char *name; /* the VM's or the PD's name */
    uint8_t mac[6];   /* the only source address the port may send with */
    /* An uplink (a NIC driver): its frames carry the outside hosts' addresses, so it may send
     * with any unicast source MAC that is not another port's; `mac` is then only its label. */
    bool uplink;
    struct conn_config conn;
};

struct vswitch_config {
    const char *name; /* the switch's name in the system file */
    unsigned num_ports;
    struct vswitch_port_config ports[VSWITCH_MAX_PORTS];
};

extern const struct vswitch_config vswitch_config;

#endif
