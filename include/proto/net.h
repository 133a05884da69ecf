/*
 * The network protocol over a connection (proto/conn.h) between a client (a VMM's virtio-net, a
 * native PD such as the echo service, a NIC driver) and the virtual switch (components/vswitch),
 * where the client is one port.
 *
 * TX (client -> switch): each TX_ACTIVE entry names one Ethernet frame (destination MAC, source
 * MAC, EtherType, payload; no preamble, no FCS, no virtio-net header) of NET_MIN_FRAME..
 * NET_MAX_FRAME bytes in the TX data region; the switch gives the buffer back on TX_FREE once it
 * has copied the frame (forwarded or dropped).
 * RX (switch -> client): the client queues empty buffers of NET_BUF_SIZE bytes on RX_FREE; the
 * switch copies one frame into one, sets len to the frame's length and queues it on RX_ACTIVE.
 * A port with no free RX buffer loses the frame (the switch counts it); it never stalls others.
 * A port may send only with the MAC the system file gives it; the switch drops (and counts)
 * anything else.
 */
#ifndef PROTO_NET_H
#define PROTO_NET_H

#define NET_BUF_SIZE 2048u
#define NET_MIN_FRAME 14u   /* an Ethernet header */
#define NET_MAX_FRAME 1514u /* 1500-byte MTU + header */
#define NET_MTU 1500u

#endif
