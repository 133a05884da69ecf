/*
 * The virtual switch: an Ethernet (L2) switch between up to VSWITCH_MAX_PORTS ports, each a
 * client connected by the network protocol (proto/net.h): VMs' virtio-net devices, native PDs
 * (the echo service), a NIC driver (an uplink).
 *
 * Forwarding: a frame goes to the port its destination MAC was last seen on; a broadcast or
 * multicast destination, or a unicast one the switch does not know, floods every other port. The
 * forwarding table starts with each port's declared MAC (which cannot move: a port may send only
 * with its own) and learns the MACs seen behind uplinks, the least recently seen giving way
 * when it is full. A frame addressed to its own port goes nowhere.
 *
 * Enforcement: a frame whose source MAC is not its port's is dropped and counted (spoofed); an
 * uplink may send with any unicast source that is not another port's. Ring entries outside the
 * port's data regions or of a bad length are dropped and counted; a ring whose indices make no
 * sense ends that port's connection (one report) and the switch never touches it again.
 *
 * Nothing a port does can stall another: each is served in turn (one frame per port per round),
 * a frame for a port that has no free receive buffer is dropped and counted, and every line a
 * port can cause is rate-limited. Per-port counters are printed on request (proto/net.h: an entry
 * of length 0).
 */
#ifndef VSWITCH_VSWITCH_H
#define VSWITCH_VSWITCH_H

#include <lib/limit.h>
#include <proto/conn.h>
#include <proto/net.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#define VSWITCH_FDB_SIZE 64

struct vswitch_port_counters {
    uint64_t in_frames, in_bytes;   /* frames taken from the port and forwarded */
    uint64_t spoofed;               /* frames from it dropped: a source MAC not its own */
    uint64_t to_self;               /* frames from it addressed to itself (dropped) */
    uint64_t bad_entries;           /* ring entries outside its regions or of a bad length */
    uint64_t out_frames, out_bytes; /* frames handed to it */
    uint64_t out_dropped;           /* frames for it dropped: it had no free receive buffer */
};

struct vswitch_port {
    const struct vswitch_port_config *cfg;
    uint64_t mac; /* the declared MAC as a 48-bit number (byte 0 most significant) */
    bool configured;
    bool ended; /* a ring went corrupt: the connection is no longer touched */
    bool end_reported;
    unsigned end_ring;
    struct conn conn;
    bool notify;   /* notify the port when this pass ends */
    bool dropping; /* frames for it are being dropped (reported at the start of each episode) */
    struct vswitch_port_counters count;
};

struct vswitch_fdb_entry {
    uint64_t mac;
    uint64_t last_seen; /* the switch's frame clock */
    uint8_t port;
    bool used;
    bool fixed; /* a port's declared MAC: never moves, never gives way */
};

struct vswitch {
    bool ready;
    const char *name;
    unsigned num_ports;
    struct vswitch_port port[VSWITCH_MAX_PORTS];
    struct vswitch_fdb_entry fdb[VSWITCH_FDB_SIZE];
    uint64_t clock;        /* frames seen, for least-recently-seen replacement */
    unsigned next;         /* the port served first in the next round */
    uint64_t learned;      /* MACs learned behind uplinks (table entries made or moved) */
    uint64_t fdb_replaced; /* learned entries that gave way to newer ones */
    uint64_t passes_cut;   /* passes that stopped at their budget with frames waiting */
    char prefix[VSWITCH_NAME_MAX + 12]; /* "vswitch lan: " */
    struct pd_limit limit_spoof, limit_bad, limit_drop, limit_end;
};

/* Checks the configuration (a bad port is reported in one line and left out), attaches the
 * ports, says what it serves, and forwards what ports queued before it started. */
void vswitch_init(struct vswitch *s, const struct vswitch_config *cfg);
/* A notification on any port's channel: forward everything waiting. */
void vswitch_notified(struct vswitch *s, unsigned channel);
/* Prints every port's counters, saying who asked (a port index, or VSWITCH_MAX_PORTS). */
void vswitch_print_counters(struct vswitch *s, unsigned asked_by);
/* The forwarding table's port for a destination MAC, or -1 (flood). */
int vswitch_lookup(const struct vswitch *s, const uint8_t *mac);

#endif
