/* The echo service's IPv4 stack (components/echo/echo_stack.c): ARP, ICMP echo, UDP echo, and
 * everything it must drop: short frames, bad lengths, bad checksums, fragments, other hosts. The
 * frames are built here, with a checksum written independently of the stack's. */
#include <echo/echo_stack.h>
#include <stdbool.h>
#include <string.h>

#include "test.h"

static const uint8_t my_mac[6] = { 0x02, 0x00, 0x00, 0xec, 0x00, 0x01 };
static const uint8_t my_ip[4] = { 10, 0, 0, 100 };
static const uint8_t peer_mac[6] = { 0x02, 0x00, 0x00, 0x11, 0x22, 0x33 };
static const uint8_t peer_ip[4] = { 10, 0, 0, 1 };
static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static struct echo_stack st;
static uint8_t in[2048], out[2048];

/* RFC 1071, straight from its definition: 16-bit big-endian words, end-around carry. */
static uint16_t inet_csum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i += 2) {
        uint16_t w = (uint16_t)(p[i] << 8);
        if (i + 1 < len)
            w |= p[i + 1];
        sum += w;
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void setup(void)
{
    echo_stack_init(&st, my_mac, my_ip, 7);
    memset(in, 0, sizeof(in));
    memset(out, 0xaa, sizeof(out));
}

static void eth(uint8_t *f, const uint8_t *dst, unsigned type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, peer_mac, 6);
    wr16(f + 12, type);
}

static uint32_t arp_request(const uint8_t *target_ip)
{
    eth(in, bcast_mac, 0x0806);
    uint8_t *a = in + 14;
    wr16(a, 1);
    wr16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    wr16(a + 6, 1);
    memcpy(a + 8, peer_mac, 6);
    memcpy(a + 14, peer_ip, 4);
    memset(a + 18, 0, 6);
    memcpy(a + 24, target_ip, 4);
    return 14 + 28;
}

/* An IPv4 datagram of `plen` payload bytes (already at in + 14 + ihl*4), header with `ihl`
 * words, checksummed. */
static uint32_t ip_packet(unsigned proto, uint32_t plen, unsigned ihl)
{
    eth(in, my_mac, 0x0800);
    uint8_t *ip = in + 14;
    ip[0] = (uint8_t)(0x40 | ihl);
    ip[1] = 0;
    wr16(ip + 2, ihl * 4 + plen);
    wr16(ip + 4, 0x1234);
    wr16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = (uint8_t)proto;
    wr16(ip + 10, 0);
    memcpy(ip + 12, peer_ip, 4);
    memcpy(ip + 16, my_ip, 4);
    for (unsigned i = 20; i < ihl * 4; i++)
        ip[i] = 1; /* NOP options */
    wr16(ip + 10, inet_csum(ip, ihl * 4));
    return 14 + ihl * 4 + plen;
}

static void refresh_ip_csum(void)
{
    uint8_t *ip = in + 14;
    wr16(ip + 10, 0);
    wr16(ip + 10, inet_csum(ip, (ip[0] & 0xf) * 4u));
}

static uint32_t ping(uint32_t data_len, unsigned ihl)
{
    uint8_t *icmp = in + 14 + ihl * 4;
    icmp[0] = 8;
    icmp[1] = 0;
    wr16(icmp + 2, 0);
    wr16(icmp + 4, 0xbeef);
    wr16(icmp + 6, 42);
    for (uint32_t i = 0; i < data_len; i++)
        icmp[8 + i] = (uint8_t)(i * 13 + 5);
    wr16(icmp + 2, inet_csum(icmp, 8 + data_len));
    return ip_packet(1, 8 + data_len, ihl);
}

static uint16_t udp_csum(const uint8_t *src, const uint8_t *dst, const uint8_t *udp, uint32_t len)
{
    static uint8_t buf[2048];
    memcpy(buf, src, 4);
    memcpy(buf + 4, dst, 4);
    buf[8] = 0;
    buf[9] = 17;
    wr16(buf + 10, len);
    memcpy(buf + 12, udp, len);
    return inet_csum(buf, 12 + len);
}

static uint32_t udp_datagram(unsigned dport, uint32_t data_len, bool with_csum)
{
    uint8_t *udp = in + 14 + 20;
    wr16(udp, 40000);
    wr16(udp + 2, dport);
    wr16(udp + 4, 8 + data_len);
    wr16(udp + 6, 0);
    for (uint32_t i = 0; i < data_len; i++)
        udp[8 + i] = (uint8_t)(i * 3 + 1);
    if (with_csum) {
        uint16_t c = udp_csum(peer_ip, my_ip, udp, 8 + data_len);
        wr16(udp + 6, c ? c : 0xffff);
    }
    return ip_packet(17, 8 + data_len, 5);
}

/* The reply's IPv4 header: from us to the peer, valid, no options, unfragmented. */
static bool ip_reply_ok(uint32_t rlen, unsigned proto)
{
    const uint8_t *ip = out + 14;
    return memcmp(out, peer_mac, 6) == 0 && memcmp(out + 6, my_mac, 6) == 0 &&
           rd16(out + 12) == 0x0800 && ip[0] == 0x45 && rd16(ip + 2) == rlen - 14 &&
           (rd16(ip + 6) & 0x3fff) == 0 && ip[8] > 0 && ip[9] == proto &&
           memcmp(ip + 12, my_ip, 4) == 0 && memcmp(ip + 16, peer_ip, 4) == 0 &&
           inet_csum(ip, 20) == 0;
}

static uint64_t drops(void)
{
    const struct echo_counters *c = &st.count;
    return c->not_for_us + c->short_frames + c->bad_length + c->bad_checksum + c->fragments +
           c->bad_header + c->unsupported + c->closed_port;
}

TEST(echo_answers_arp_for_its_address)
{
    setup();
    uint32_t len = arp_request(my_ip);
    uint32_t r = echo_stack_input(&st, in, len, out);
    CHECK_EQ(r, 42);
    CHECK(memcmp(out, peer_mac, 6) == 0);
    CHECK(memcmp(out + 6, my_mac, 6) == 0);
    CHECK_EQ(rd16(out + 12), 0x0806);
    const uint8_t *a = out + 14;
    CHECK_EQ(rd16(a), 1);
    CHECK_EQ(rd16(a + 2), 0x0800);
    CHECK(a[4] == 6 && a[5] == 4);
    CHECK_EQ(rd16(a + 6), 2);
    CHECK(memcmp(a + 8, my_mac, 6) == 0);
    CHECK(memcmp(a + 14, my_ip, 4) == 0);
    CHECK(memcmp(a + 18, peer_mac, 6) == 0);
    CHECK(memcmp(a + 24, peer_ip, 4) == 0);
    CHECK_EQ(st.count.arp_replies, 1);
    /* Padded to Ethernet's 60-byte minimum, as on a wire: the same answer. */
    CHECK_EQ(echo_stack_input(&st, in, 60, out), 42);
}

TEST(echo_ignores_arp_for_others_and_arp_replies)
{
    setup();
    const uint8_t other[4] = { 10, 0, 0, 99 };
    uint32_t len = arp_request(other);
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    CHECK_EQ(st.count.not_for_us, 1);
    arp_request(my_ip);
    wr16(in + 14 + 6, 2);
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    CHECK_EQ(st.count.unsupported, 1);
    arp_request(my_ip);
    in[14 + 4] = 8; /* hardware address length */
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    CHECK_EQ(st.count.bad_header, 1);
    CHECK_EQ(st.count.arp_replies, 0);
}

TEST(echo_answers_ping_with_the_same_data)
{
    setup();
    uint32_t sizes[] = { 0, 1, 56, 57, 1472 };
    for (unsigned k = 0; k < 5; k++) {
        uint32_t len = ping(sizes[k], 5);
        uint32_t r = echo_stack_input(&st, in, len, out);
        CHECK_EQ(r, len);
        CHECK(ip_reply_ok(r, 1));
        const uint8_t *icmp = out + 34;
        CHECK_EQ(icmp[0], 0);
        CHECK_EQ(icmp[1], 0);
        CHECK_EQ(inet_csum(icmp, 8 + sizes[k]), 0);
        CHECK(memcmp(icmp + 4, in + 34 + 4, 4 + sizes[k]) == 0); /* id, sequence, data */
    }
    CHECK_EQ(st.count.icmp_replies, 5);
    CHECK_EQ(drops(), 0);
}

TEST(echo_answers_ping_with_ip_options_without_them)
{
    setup();
    uint32_t len = ping(32, 7);
    uint32_t r = echo_stack_input(&st, in, len, out);
    CHECK_EQ(r, len - 8);
    CHECK(ip_reply_ok(r, 1));
    CHECK(memcmp(out + 34 + 4, in + 14 + 28 + 4, 4 + 32) == 0);
}

TEST(echo_ping_to_the_broadcast_mac_is_answered_to_the_sender)
{
    setup();
    uint32_t len = ping(8, 5);
    memcpy(in, bcast_mac, 6);
    CHECK_EQ(echo_stack_input(&st, in, len, out), len);
    CHECK(ip_reply_ok(len, 1));
}

TEST(echo_echoes_udp_on_its_port)
{
    setup();
    uint32_t sizes[] = { 0, 1, 5, 100, 1472 };
    for (unsigned k = 0; k < 5; k++) {
        for (int sum = 0; sum < 2; sum++) {
            uint32_t len = udp_datagram(7, sizes[k], sum);
            uint32_t r = echo_stack_input(&st, in, len, out);
            CHECK_EQ(r, len);
            CHECK(ip_reply_ok(r, 17));
            const uint8_t *udp = out + 34;
            CHECK_EQ(rd16(udp), 7);
            CHECK_EQ(rd16(udp + 2), 40000);
            CHECK_EQ(rd16(udp + 4), 8 + sizes[k]);
            CHECK(rd16(udp + 6) != 0);
            CHECK_EQ(udp_csum(my_ip, peer_ip, udp, 8 + sizes[k]), 0);
            CHECK(memcmp(udp + 8, in + 34 + 8, sizes[k]) == 0);
        }
    }
    CHECK_EQ(st.count.udp_replies, 10);
}

TEST(echo_udp_length_shorter_than_the_packet_echoes_what_it_says)
{
    setup();
    uint32_t len = udp_datagram(7, 20, false);
    wr16(in + 34 + 4, 8 + 10); /* the rest is padding as far as UDP goes */
    uint32_t r = echo_stack_input(&st, in, len, out);
    CHECK_EQ(r, 14 + 20 + 18);
    CHECK(ip_reply_ok(r, 17));
    CHECK(memcmp(out + 42, in + 42, 10) == 0);
}

TEST(echo_drops_udp_to_other_ports)
{
    setup();
    uint32_t len = udp_datagram(9, 10, true);
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    CHECK_EQ(st.count.closed_port, 1);
}

TEST(echo_drops_bad_checksums)
{
    setup();
    /* The IPv4 header's. */
    uint32_t len = ping(16, 5);
    in[14 + 10] ^= 1;
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    /* ICMP's. */
    len = ping(16, 5);
    in[34 + 8] ^= 0x40;
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    /* UDP's (when it is not 0). */
    len = udp_datagram(7, 16, true);
    in[42 + 3] ^= 0x10;
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    CHECK_EQ(st.count.bad_checksum, 3);
    CHECK_EQ(st.count.icmp_replies + st.count.udp_replies, 0);
    /* Unchecked UDP (checksum 0) with changed data is taken. */
    len = udp_datagram(7, 16, false);
    in[42 + 3] ^= 0x10;
    CHECK_EQ(echo_stack_input(&st, in, len, out), len);
}

TEST(echo_drops_fragments)
{
    setup();
    unsigned frags[] = { 0x2000, 0x0001, 0x2010, 0x1fff, 0x6000 };
    for (unsigned k = 0; k < 5; k++) {
        uint32_t len = ping(16, 5);
        wr16(in + 14 + 6, frags[k]);
        refresh_ip_csum();
        CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    }
    CHECK_EQ(st.count.fragments, 5);
    /* DF alone is not a fragment. */
    uint32_t len = ping(16, 5);
    wr16(in + 14 + 6, 0x4000);
    refresh_ip_csum();
    CHECK_EQ(echo_stack_input(&st, in, len, out), len);
}

TEST(echo_drops_bad_lengths)
{
    setup();
    /* Total length beyond the frame. */
    uint32_t len = ping(16, 5);
    wr16(in + 16, 20 + 24 + 1);
    refresh_ip_csum();
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    /* Total length shorter than the header. */
    len = ping(16, 5);
    wr16(in + 16, 19);
    refresh_ip_csum();
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    /* UDP length beyond the datagram, and below its header. */
    len = udp_datagram(7, 16, false);
    wr16(in + 34 + 4, 8 + 17);
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    len = udp_datagram(7, 16, false);
    wr16(in + 34 + 4, 7);
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    /* A frame longer than an Ethernet frame. */
    CHECK_EQ(echo_stack_input(&st, in, 1515, out), 0);
    CHECK_EQ(st.count.bad_length, 5);
    CHECK_EQ(st.count.icmp_replies + st.count.udp_replies, 0);
}

TEST(echo_drops_every_truncation)
{
    for (unsigned kind = 0; kind < 3; kind++) {
        setup();
        uint32_t full = kind == 0   ? arp_request(my_ip)
                        : kind == 1 ? ping(24, 6)
                                    : udp_datagram(7, 24, true);
        static uint8_t copy[2048];
        memcpy(copy, in, full);
        for (uint32_t len = 0; len < full; len++) {
            /* Only the first len bytes exist: a copy exactly that long, so ASan sees any read
             * past it. */
            uint8_t *f = (uint8_t *)__builtin_alloca(len ? len : 1);
            memcpy(f, copy, len);
            uint64_t before = drops();
            CHECK_EQ(echo_stack_input(&st, f, len, out), 0);
            CHECK_EQ(drops(), before + 1);
        }
        CHECK_EQ(st.count.arp_replies + st.count.icmp_replies + st.count.udp_replies, 0);
    }
}

TEST(echo_drops_what_is_not_for_it)
{
    setup();
    uint32_t len = ping(8, 5);
    in[0] ^= 0x04; /* another host's MAC */
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    len = ping(8, 5);
    in[0] = 0x01; /* a multicast MAC */
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    len = ping(8, 5);
    in[14 + 19] = 101; /* another IP */
    refresh_ip_csum();
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    CHECK_EQ(st.count.not_for_us, 3);
}

TEST(echo_drops_malformed_and_unsupported_packets)
{
    setup();
    uint32_t len = ping(8, 5);
    in[14] = 0x65; /* IP version 6 */
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    len = ping(8, 5);
    in[14] = 0x44; /* header length 16 bytes */
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    len = ping(8, 5);
    in[6] = 0x01; /* a group source MAC */
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    const uint8_t bad_sources[][4] = {
        { 0, 0, 0, 0 }, { 255, 255, 255, 255 }, { 224, 0, 0, 1 }, { 127, 0, 0, 1 }
    };
    for (unsigned k = 0; k < 4; k++) {
        len = ping(8, 5);
        memcpy(in + 14 + 12, bad_sources[k], 4);
        refresh_ip_csum();
        CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    }
    CHECK_EQ(st.count.bad_header, 7);
    /* TCP, an ICMP timestamp request, IPv6, an ICMP echo reply. */
    len = ip_packet(6, 20, 5);
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    len = ping(8, 5);
    in[34] = 13;
    wr16(in + 36, 0);
    wr16(in + 36, inet_csum(in + 34, 16));
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    len = ping(8, 5);
    wr16(in + 12, 0x86dd);
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    len = ping(8, 5);
    in[34] = 0;
    wr16(in + 36, 0);
    wr16(in + 36, inet_csum(in + 34, 16));
    CHECK_EQ(echo_stack_input(&st, in, len, out), 0);
    CHECK_EQ(st.count.unsupported, 4);
    CHECK_EQ(st.count.icmp_replies, 0);
}

TEST(echo_checksum_helpers_match_rfc1071)
{
    /* RFC 1071's example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2 (checksum 0x220d). */
    const uint8_t ex[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
    CHECK_EQ(echo_csum_fold(echo_csum_add(0, ex, 8)), 0x220d);
    CHECK_EQ(echo_csum_fold(echo_csum_add(0, ex, 7)), inet_csum(ex, 7));
    uint8_t big[1500];
    for (unsigned i = 0; i < sizeof(big); i++)
        big[i] = 0xff;
    CHECK_EQ(echo_csum_fold(echo_csum_add(0, big, sizeof(big))), inet_csum(big, sizeof(big)));
}
