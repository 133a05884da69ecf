/* The echo service's IPv4 stack (see echo_stack.h). Every offset is checked against the frame's
 * length before the byte at it is read; multi-byte fields are big-endian on the wire. */
#include <proto/net.h>

#include "echo_stack.h"

#define ETH_HDR 14u
#define ARP_LEN 28u
#define IP_HDR_MIN 20u
#define ICMP_HDR 8u
#define UDP_HDR 8u
#define ICMP_ECHO_REPLY 0u
#define ICMP_ECHO_REQUEST 8u
#define ARP_REQUEST 1u
#define ARP_REPLY 2u
#define IP_FLAG_DF 0x4000u
#define IP_FRAG_MASK 0x3fffu /* MF and the fragment offset */
#define REPLY_TTL 64u

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void copy(uint8_t *dst, const uint8_t *src, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        dst[i] = src[i];
}

static int same(const uint8_t *a, const uint8_t *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (a[i] != b[i])
            return 0;
    }
    return 1;
}

uint32_t echo_csum_add(uint32_t sum, const uint8_t *p, uint32_t len)
{
    uint64_t s = sum;
    uint32_t i = 0;
    for (; i + 1 < len; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (i < len)
        s += (uint32_t)p[i] << 8;
    while (s >> 32)
        s = (s & 0xffffffffu) + (s >> 32);
    return (uint32_t)s;
}

uint16_t echo_csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

void echo_stack_init(struct echo_stack *st, const uint8_t *mac, const uint8_t *ip,
                     uint16_t udp_port)
{
    *st = (struct echo_stack){ .udp_port = udp_port, .ip_id = 1 };
    copy(st->mac, mac, 6);
    copy(st->ip, ip, 4);
}

/* The reply's Ethernet header: to the request's source, from us. */
static void eth_reply(const struct echo_stack *st, const uint8_t *in, uint8_t *out, uint16_t type)
{
    copy(out + NET_DST_MAC, in + NET_SRC_MAC, 6);
    copy(out + NET_SRC_MAC, st->mac, 6);
    put16(out + NET_ETHERTYPE, type);
}

static uint32_t arp(struct echo_stack *st, const uint8_t *in, uint32_t len, uint8_t *out)
{
    if (len < ETH_HDR + ARP_LEN) {
        st->count.short_frames++;
        return 0;
    }
    const uint8_t *a = in + ETH_HDR;
    if (get16(a) != 1 || get16(a + 2) != ETHERTYPE_IPV4 || a[4] != 6 || a[5] != 4) {
        st->count.bad_header++; /* not Ethernet / IPv4 */
        return 0;
    }
    if (get16(a + 6) != ARP_REQUEST) {
        st->count.unsupported++; /* replies: this stack never asks */
        return 0;
    }
    if (!same(a + 24, st->ip, 4)) {
        st->count.not_for_us++;
        return 0;
    }
    eth_reply(st, in, out, ETHERTYPE_ARP);
    uint8_t *r = out + ETH_HDR;
    copy(r, a, 6); /* htype, ptype, hlen, plen */
    put16(r + 6, ARP_REPLY);
    copy(r + 8, st->mac, 6); /* sender: us */
    copy(r + 14, st->ip, 4);
    copy(r + 18, a + 8, 10); /* target: who asked (its MAC and address, 0.0.0.0 for a probe) */
    st->count.arp_replies++;
    return ETH_HDR + ARP_LEN;
}

/* A source we may answer: not 0.0.0.0, loopback, multicast, reserved or broadcast. */
static int usable_source(const uint8_t *ip)
{
    return ip[0] != 0 && ip[0] != 127 && ip[0] < 224;
}

/* The reply's IPv4 header (20 bytes, no options) for `payload` bytes to the request's source. */
static void ip_reply(struct echo_stack *st, const uint8_t *req, uint8_t *ip, uint32_t payload,
                     uint8_t proto)
{
    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 2, IP_HDR_MIN + payload);
    put16(ip + 4, st->ip_id++);
    put16(ip + 6, IP_FLAG_DF);
    ip[8] = REPLY_TTL;
    ip[9] = proto;
    put16(ip + 10, 0);
    copy(ip + 12, st->ip, 4);
    copy(ip + 16, req + 12, 4);
    put16(ip + 10, echo_csum_fold(echo_csum_add(0, ip, IP_HDR_MIN)));
}

static uint32_t icmp(struct echo_stack *st, const uint8_t *ip, const uint8_t *msg, uint32_t mlen,
                     uint8_t *out)
{
    if (mlen < ICMP_HDR) {
        st->count.short_frames++;
        return 0;
    }
    if (echo_csum_fold(echo_csum_add(0, msg, mlen)) != 0) {
        st->count.bad_checksum++;
        return 0;
    }
    if (msg[0] != ICMP_ECHO_REQUEST || msg[1] != 0) {
        st->count.unsupported++;
        return 0;
    }
    uint8_t *r = out + ETH_HDR + IP_HDR_MIN;
    copy(r, msg, mlen);
    r[0] = ICMP_ECHO_REPLY;
    put16(r + 2, 0);
    put16(r + 2, echo_csum_fold(echo_csum_add(0, r, mlen)));
    ip_reply(st, ip, out + ETH_HDR, mlen, IP_PROTO_ICMP);
    st->count.icmp_replies++;
    return ETH_HDR + IP_HDR_MIN + mlen;
}

/* The UDP checksum's sum: the pseudo-header (source, destination, protocol, length) and the
 * datagram. */
static uint32_t udp_sum(const uint8_t *src, const uint8_t *dst, const uint8_t *udp, uint32_t ulen)
{
    uint8_t pseudo[12];
    copy(pseudo, src, 4);
    copy(pseudo + 4, dst, 4);
    pseudo[8] = 0;
    pseudo[9] = IP_PROTO_UDP;
    put16(pseudo + 10, ulen);
    return echo_csum_add(echo_csum_add(0, pseudo, sizeof(pseudo)), udp, ulen);
}

static uint32_t udp(struct echo_stack *st, const uint8_t *ip, const uint8_t *dgram, uint32_t avail,
                    uint8_t *out)
{
    if (avail < UDP_HDR) {
        st->count.short_frames++;
        return 0;
    }
    uint32_t ulen = get16(dgram + 4);
    if (ulen < UDP_HDR || ulen > avail) {
        st->count.bad_length++;
        return 0;
    }
    if (get16(dgram + 6) != 0 && echo_csum_fold(udp_sum(ip + 12, ip + 16, dgram, ulen)) != 0) {
        st->count.bad_checksum++;
        return 0;
    }
    if (get16(dgram + 2) != st->udp_port) {
        st->count.closed_port++;
        return 0;
    }
    uint8_t *r = out + ETH_HDR + IP_HDR_MIN;
    copy(r, dgram + 2, 2); /* source port: ours */
    copy(r + 2, dgram, 2); /* destination: theirs */
    put16(r + 4, ulen);
    put16(r + 6, 0);
    copy(r + UDP_HDR, dgram + UDP_HDR, ulen - UDP_HDR);
    ip_reply(st, ip, out + ETH_HDR, ulen, IP_PROTO_UDP);
    uint16_t c = echo_csum_fold(udp_sum(st->ip, ip + 12, r, ulen));
    put16(r + 6, c ? c : 0xffff); /* 0 would mean "no checksum" */
    st->count.udp_replies++;
    return ETH_HDR + IP_HDR_MIN + ulen;
}

static uint32_t ipv4(struct echo_stack *st, const uint8_t *in, uint32_t len, uint8_t *out)
{
    if (len < ETH_HDR + IP_HDR_MIN) {
        st->count.short_frames++;
        return 0;
    }
    const uint8_t *ip = in + ETH_HDR;
    uint32_t room = len - ETH_HDR; /* the frame may be padded beyond the datagram */
    uint32_t hlen = (ip[0] & 0xfu) * 4u, total = get16(ip + 2);
    if (ip[0] >> 4 != 4 || hlen < IP_HDR_MIN) {
        st->count.bad_header++;
        return 0;
    }
    if (hlen > room) {
        st->count.short_frames++;
        return 0;
    }
    if (total < hlen || total > room) {
        st->count.bad_length++;
        return 0;
    }
    if (echo_csum_fold(echo_csum_add(0, ip, hlen)) != 0) {
        st->count.bad_checksum++;
        return 0;
    }
    if (get16(ip + 6) & IP_FRAG_MASK) {
        st->count.fragments++;
        return 0;
    }
    if (!same(ip + 16, st->ip, 4)) {
        st->count.not_for_us++;
        return 0;
    }
    if (!usable_source(ip + 12)) {
        st->count.bad_header++;
        return 0;
    }
    eth_reply(st, in, out, ETHERTYPE_IPV4);
    if (ip[9] == IP_PROTO_ICMP)
        return icmp(st, ip, ip + hlen, total - hlen, out);
    if (ip[9] == IP_PROTO_UDP)
        return udp(st, ip, ip + hlen, total - hlen, out);
    st->count.unsupported++;
    return 0;
}

static const uint8_t broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

uint32_t echo_stack_input(struct echo_stack *st, const uint8_t *frame, uint32_t len, uint8_t *out)
{
    st->count.frames++;
    if (len < ETH_HDR) {
        st->count.short_frames++;
        return 0;
    }
    if (len > NET_MAX_FRAME) {
        st->count.bad_length++;
        return 0;
    }
    if (!same(frame + NET_DST_MAC, st->mac, 6) && !same(frame + NET_DST_MAC, broadcast, 6)) {
        st->count.not_for_us++;
        return 0;
    }
    if (net_mac_is_group(frame + NET_SRC_MAC)) {
        st->count.bad_header++;
        return 0;
    }
    uint16_t type = get16(frame + NET_ETHERTYPE);
    if (type == ETHERTYPE_ARP)
        return arp(st, frame, len, out);
    if (type == ETHERTYPE_IPV4)
        return ipv4(st, frame, len, out);
    st->count.unsupported++;
    return 0;
}
