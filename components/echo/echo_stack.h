/*
 * The echo service's IPv4 stack: one frame in, at most one reply out, nothing kept between
 * frames but counters. It answers
 *   - ARP requests for its address (RFC 826), probes included;
 *   - ICMP echo requests to its address (RFC 792) with echo replies;
 *   - UDP datagrams to its address and port with the same payload back (RFC 768, RFC 862).
 * Replies go to the Ethernet and IP source of the request; there is no ARP cache and no
 * routing. Everything else is dropped and counted by reason: frames for another host, frames
 * too short for their headers, length fields that disagree with the frame, bad checksums (the
 * IPv4 header's, ICMP's, UDP's when it is not 0), fragments (the stack does not reassemble),
 * malformed headers (IP version, header length, ARP types, group or unusable source addresses),
 * protocols and messages it does not serve, and UDP to another port.
 */
#ifndef ECHO_ECHO_STACK_H
#define ECHO_ECHO_STACK_H

#include <stdint.h>

#define ETHERTYPE_IPV4 0x0800u
#define ETHERTYPE_ARP 0x0806u
#define IP_PROTO_ICMP 1u
#define IP_PROTO_UDP 17u

struct echo_counters {
    uint64_t frames; /* frames looked at */
    uint64_t arp_replies, icmp_replies, udp_replies;
    uint64_t not_for_us;   /* another host's MAC or IP, an ARP request for another address */
    uint64_t short_frames; /* shorter than the headers they need */
    uint64_t bad_length;   /* IP total length or UDP length disagreeing with the frame */
    uint64_t bad_checksum; /* IPv4 header, ICMP, UDP */
    uint64_t fragments;    /* IPv4 fragments (MF set or an offset): not reassembled */
    uint64_t bad_header;   /* IP version or header length, ARP types, unusable sources */
    uint64_t unsupported;  /* other EtherTypes, IP protocols, ICMP messages, ARP operations */
    uint64_t closed_port;  /* UDP to a port that is not the echo port */
};

struct echo_stack {
    uint8_t mac[6];
    uint8_t ip[4];
    uint16_t udp_port;
    uint16_t ip_id; /* identification of the next IPv4 reply */
    struct echo_counters count;
};

void echo_stack_init(struct echo_stack *st, const uint8_t *mac, const uint8_t *ip,
                     uint16_t udp_port);
/* Looks at one Ethernet frame (no FCS) and writes the reply, if any, into `out` (room for
 * NET_MAX_FRAME bytes); returns the reply's length, 0 for none. */
uint32_t echo_stack_input(struct echo_stack *st, const uint8_t *frame, uint32_t len, uint8_t *out);
/* The Internet checksum (RFC 1071) of `len` bytes added to a running sum, unfolded. */
uint32_t echo_csum_add(uint32_t sum, const uint8_t *p, uint32_t len);
/* The folded, complemented checksum of a running sum. */
uint16_t echo_csum_fold(uint32_t sum);

#endif
