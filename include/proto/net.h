/*
 * The network protocol over a connection (proto/conn.h) between a client (a VMM's virtio-net, a
 * native PD such as the echo service, a NIC driver) and the virtual switch (components/vswitch),
 * where the client is one port.
 *
 * TX (client -> switch): each TX_ACTIVE entry names one Ethernet frame (destination MAC, source
 * MAC, EtherType, payload; no preamble, no FCS, no virtio-net header) of NET_MIN_FRAME..
 * NET_MAX_FRAME bytes in the TX data region; the switch gives the buffer back on TX_FREE once it
 * has copied the frame (forwarded or dropped).
 * An entry of length 0 carries no frame: it asks the switch to print its per-port counters in
 * its log (a VMM sends one when its guest resets its network device or the VM stops); it is
 * given back like any other.
 * RX (switch -> client): the client queues empty buffers of NET_BUF_SIZE bytes on RX_FREE; the
 * switch copies one frame into one, sets len to the frame's length and queues it on RX_ACTIVE.
 * A port with no free RX buffer loses the frame (the switch counts it); it never stalls others.
 * A port may send only with the MAC the system file gives it; the switch drops (and counts)
 * anything else. A NIC driver's port (an uplink) carries the outside hosts' addresses instead:
 * it may send with any unicast source MAC that is not one of the other ports'.
 */
#ifndef PROTO_NET_H
#define PROTO_NET_H

#include <stdbool.h>
#include <stdint.h>

#define NET_BUF_SIZE 2048u
#define NET_MIN_FRAME 14u   /* an Ethernet header */
#define NET_MAX_FRAME 1514u /* 1500-byte MTU + header */
#define NET_MTU 1500u
#define NET_MAC_LEN 6u

/* Where the addresses are in a frame. */
#define NET_DST_MAC 0u
#define NET_SRC_MAC 6u
#define NET_ETHERTYPE 12u

/* The group bit: broadcast and multicast destinations (and never a valid source). */
static inline bool net_mac_is_group(const uint8_t *mac)
{
    return mac[0] & 1;
}

static inline bool net_mac_equal(const uint8_t *a, const uint8_t *b)
{
    for (unsigned i = 0; i < NET_MAC_LEN; i++) {
        if (a[i] != b[i])
            return false;
    }
    return true;
}

#endif
