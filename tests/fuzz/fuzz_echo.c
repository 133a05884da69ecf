/*
 * libFuzzer target: the echo service's IPv4 stack on any frame. The first byte picks a start: a
 * valid ARP request, ping or UDP datagram for the stack (with correct checksums), or the input
 * itself; then (for the templates) the second and third bytes say how many of the following
 * bytes overwrite the template and where, so mutations reach the checks deep in each header.
 * The frame handed to the stack is exactly as long as it says (a heap copy, so ASan sees any read
 * past it); a template may also be cut short (fourth selector bit).
 *
 * Checks: one outcome per frame (a reply or exactly one drop counter); a reply fits an Ethernet
 * frame, goes to the request's source MAC from the stack's own, and is well formed: an ARP reply
 * names the stack's MAC and address; an IPv4 reply comes from the stack's address to the
 * request's source, with a valid header checksum, no fragment bits, and a valid ICMP or UDP
 * checksum (checked here independently of the stack).
 */
#include <echo/echo_stack.h>
#include <proto/net.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t my_mac[6] = { 0x02, 0, 0, 0xec, 0, 1 }, my_ip[4] = { 10, 0, 0, 100 };
static const uint8_t peer_mac[6] = { 0x02, 0, 0, 0x11, 0x22, 0x33 }, peer_ip[4] = { 10, 0, 0, 1 };

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_echo: %s\n", what);
    __builtin_trap();
}

static uint16_t csum(const uint8_t *p, size_t len, uint32_t sum)
{
    for (size_t i = 0; i < len; i += 2) {
        sum += (uint32_t)(p[i] << 8) | (i + 1 < len ? p[i + 1] : 0);
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

/* Template `kind` into f; its length. */
static size_t template(unsigned kind, uint8_t *f)
{
    memcpy(f, kind == 0 ? (const uint8_t[6]){ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } : my_mac, 6);
    memcpy(f + 6, peer_mac, 6);
    if (kind == 0) {
        static const uint8_t arp[28] = { 0,  1, 8, 0, 6, 4, 0, 1, 2, 0, 0,  0x11, 0x22, 0x33,
                                         10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0,    0,    100 };
        wr16(f + 12, 0x0806);
        memcpy(f + 14, arp, 28);
        return 42;
    }
    wr16(f + 12, 0x0800);
    uint8_t *ip = f + 14, *l4 = f + 34;
    size_t plen = 8 + 32;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    wr16(ip + 2, 20 + plen);
    ip[8] = 64;
    ip[9] = kind == 1 ? 1 : 17;
    memcpy(ip + 12, peer_ip, 4);
    memcpy(ip + 16, my_ip, 4);
    wr16(ip + 10, csum(ip, 20, 0));
    for (size_t i = 8; i < plen; i++)
        l4[i] = (uint8_t)i;
    if (kind == 1) {
        memset(l4, 0, 8);
        l4[0] = 8;
        wr16(l4 + 2, csum(l4, plen, 0));
    } else {
        wr16(l4, 1234);
        wr16(l4 + 2, 7);
        wr16(l4 + 4, plen);
        wr16(l4 + 6, 0);
        uint8_t pseudo[12] = { 10, 0, 0, 1, 10, 0, 0, 100, 0, 17 };
        wr16(pseudo + 10, plen);
        uint16_t c = csum(l4, plen, (uint16_t)~csum(pseudo, 12, 0));
        wr16(l4 + 6, c ? c : 0xffff);
    }
    return 34 + plen;
}

static void check_reply(const uint8_t *req, const uint8_t *r, uint32_t n)
{
    if (n < 42 || n > NET_MAX_FRAME)
        fail("a reply of a bad length");
    if (memcmp(r, req + 6, 6) || memcmp(r + 6, my_mac, 6))
        fail("a reply not from the stack's MAC to the request's source");
    if (rd16(r + 12) == 0x0806) {
        if (n != 42 || rd16(r + 20) != 2 || memcmp(r + 22, my_mac, 6) || memcmp(r + 28, my_ip, 4))
            fail("a malformed ARP reply");
        return;
    }
    const uint8_t *ip = r + 14, *l4 = r + 34;
    uint32_t total = rd16(ip + 2);
    if (rd16(r + 12) != 0x0800 || ip[0] != 0x45 || total != n - 14 || csum(ip, 20, 0) ||
        (rd16(ip + 6) & 0x3fff) || memcmp(ip + 12, my_ip, 4) || memcmp(ip + 16, req + 26, 4))
        fail("a malformed IPv4 reply");
    uint32_t plen = total - 20;
    if (ip[9] == 1) {
        if (plen < 8 || l4[0] != 0 || csum(l4, plen, 0))
            fail("a malformed ICMP reply");
    } else if (ip[9] == 17) {
        uint8_t pseudo[12];
        memcpy(pseudo, my_ip, 4);
        memcpy(pseudo + 4, ip + 16, 4);
        pseudo[8] = 0;
        pseudo[9] = 17;
        wr16(pseudo + 10, plen);
        if (plen < 8 || rd16(l4 + 4) != plen || rd16(l4) != 7 || rd16(l4 + 6) == 0 ||
            csum(l4, plen, (uint16_t)~csum(pseudo, 12, 0)))
            fail("a malformed UDP reply");
    } else {
        fail("a reply of another protocol");
    }
}

static uint64_t outcomes(const struct echo_counters *c)
{
    return c->arp_replies + c->icmp_replies + c->udp_replies + c->not_for_us + c->short_frames +
           c->bad_length + c->bad_checksum + c->fragments + c->bad_header + c->unsupported +
           c->closed_port;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct echo_stack st;
    static uint8_t work[2048], out[2048];
    if (!size)
        return 0;
    size_t len;
    unsigned kind = data[0] & 3;
    if (kind == 3) {
        len = size - 1 < sizeof(work) ? size - 1 : sizeof(work);
        memcpy(work, data + 1, len);
    } else {
        len = template(kind, work);
        if (size >= 3) {
            size_t n = data[1], at = data[2];
            for (size_t i = 0; i < n && 3 + i < size && at + i < sizeof(work); i++)
                work[at + i] = data[3 + i];
            if ((data[0] & 4) && at < len)
                len = at;
            else if ((data[0] & 8) && at + n > len && at + n <= sizeof(work))
                len = at + n;
        }
    }
    uint8_t *frame = malloc(len ? len : 1);
    if (!frame)
        abort();
    memcpy(frame, work, len);
    echo_stack_init(&st, my_mac, my_ip, 7);
    uint32_t r = echo_stack_input(&st, frame, (uint32_t)len, out);
    if (st.count.frames != 1 || outcomes(&st.count) != 1)
        fail("not exactly one outcome for the frame");
    if ((r != 0) != (st.count.arp_replies + st.count.icmp_replies + st.count.udp_replies == 1))
        fail("a reply without a reply counted, or the other way round");
    if (r)
        check_reply(frame, out, r);
    free(frame);
    return 0;
}
