/* The echo service PD (components/echo/echo.c) as a port of the switch, and the native client
 * API it uses (pd/net_client.h): frames through the switch both ways, a burst larger than its
 * buffers, and a switch that hands back what it should not. */
#include <echo/echo.h>
#include <string.h>

#include "net_fixture.h"
#include "sim_pd.h"
#include "test.h"

static struct echo echo_pd;
static struct echo_config echo_cfg;
static uint8_t frame[NET_BUF_SIZE], got[NET_BUF_SIZE];
static const uint8_t echo_ip[4] = { 10, 0, 0, 100 }, peer_ip[4] = { 10, 0, 0, 1 };

static void echo_on_notify(unsigned i)
{
    echo_notified(&echo_pd, NFX_CLIENT_CH(i));
}

/* Port 1 is a test client, port 2 the echo PD (its MAC 02:00:00:00:00:02). */
static void setup(void)
{
    nfx_setup(2, 0);
    echo_cfg = (struct echo_config){ .net = nfx.p[1].client_view, .udp_port = 7 };
    nfx_mac(1, echo_cfg.mac);
    memcpy(echo_cfg.ip, echo_ip, 4);
    nfx.p[1].on_notify = echo_on_notify;
    net_client_init(&nfx.p[0].cl, &nfx.p[0].client_view);
    net_client_flush(&nfx.p[0].cl);
    echo_init(&echo_pd, &echo_cfg, "echo");
    vswitch_init(&nfx.sw, &nfx.cfg);
    nfx_pump();
}

static uint16_t csum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    for (size_t i = 0; i < len; i += 2)
        s += (uint32_t)(p[i] << 8 | (i + 1 < len ? p[i + 1] : 0));
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* A UDP datagram to the echo's port 7 from port 1, `n` bytes of data tagged `tag`, no UDP
 * checksum. */
static uint32_t udp_to_echo(uint32_t n, uint8_t tag)
{
    nfx_mac(1, frame);
    nfx_mac(0, frame + 6);
    frame[12] = 0x08;
    frame[13] = 0x00;
    uint8_t *ip = frame + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    ip[2] = (uint8_t)((28 + n) >> 8);
    ip[3] = (uint8_t)(28 + n);
    ip[8] = 64;
    ip[9] = 17;
    memcpy(ip + 12, peer_ip, 4);
    memcpy(ip + 16, echo_ip, 4);
    uint16_t c = csum(ip, 20);
    ip[10] = (uint8_t)(c >> 8);
    ip[11] = (uint8_t)c;
    uint8_t *udp = ip + 20;
    udp[0] = 0x9c;
    udp[1] = 0x40;
    udp[2] = 0;
    udp[3] = 7;
    udp[4] = (uint8_t)((8 + n) >> 8);
    udp[5] = (uint8_t)(8 + n);
    udp[6] = udp[7] = 0;
    for (uint32_t i = 0; i < n; i++)
        udp[8 + i] = (uint8_t)(tag + i);
    return 14 + 28 + n;
}

TEST(echo_pd_greets_with_its_address)
{
    setup();
    CHECK(echo_pd.ready);
    CHECK(sim_pd_console_has("echo: echo service at 10.0.0.100 (02:00:00:00:00:02): ARP, ICMP "
                             "echo, UDP echo on port 7\n"));
}

TEST(echo_pd_answers_udp_through_the_switch)
{
    setup();
    uint32_t len = udp_to_echo(100, 1);
    CHECK(nfx_send(0, frame, len));
    uint32_t r = nfx_recv(0, got);
    CHECK_EQ(r, len);
    uint8_t mine[6];
    nfx_mac(0, mine);
    CHECK(memcmp(got, mine, 6) == 0);
    CHECK(memcmp(got + 42, frame + 42, 100) == 0);
    CHECK_EQ(echo_pd.stack.count.udp_replies, 1);
    CHECK_EQ(nfx.sw.port[1].count.in_frames, 1);
    CHECK_EQ(nfx.sw.port[1].count.spoofed, 0);
}

TEST(echo_pd_answers_three_rings_worth_in_order)
{
    setup();
    /* Three rings' worth, queued a ring at a time while the switch and the echo run. */
    unsigned sent = 0, answered = 0;
    for (unsigned round = 0; round < 3; round++) {
        for (unsigned k = 0; k < NFX_CAPACITY; k++) {
            uint32_t len = udp_to_echo(20, (uint8_t)sent);
            CHECK(net_client_send(&nfx.p[0].cl, frame, len));
            sent++;
        }
        net_client_flush(&nfx.p[0].cl);
        nfx_pump();
        uint32_t r;
        while ((r = nfx_recv(0, got)) > 0) {
            CHECK_EQ(r, 62);
            CHECK_EQ(got[42], (uint8_t)answered);
            answered++;
        }
        nfx_pump();
    }
    CHECK_EQ(answered, sent);
    CHECK_EQ(echo_pd.net.count.tx_no_buffer, 0);
}

TEST(echo_pd_refuses_a_connection_it_cannot_use)
{
    setup();
    struct echo_config bad = echo_cfg;
    bad.net.capacity = 3;
    sim_pd_reset();
    echo_init(&echo_pd, &bad, "echo");
    CHECK(!echo_pd.ready);
    CHECK(sim_pd_console_has("echo: error: its connection to the switch is not usable"));
    echo_notified(&echo_pd, NFX_CLIENT_CH(1)); /* touches nothing */
}

/* ---- the client API against a switch that breaks the rules ---------------------------------- */

TEST(net_client_lends_its_rx_buffers_and_counts_what_it_cannot_send)
{
    nfx_setup(1, 0);
    struct net_client *c = &nfx.p[0].cl;
    CHECK(net_client_init(c, &nfx.p[0].client_view));
    CHECK_EQ(c->bc.tx_bufs, NFX_CAPACITY);
    CHECK_EQ(c->bc.rx_bufs, NFX_CAPACITY);
    CHECK_EQ(nfx.p[0].raw.ring[CONN_RX_FREE].shm->head, NFX_CAPACITY);
    net_client_flush(c);
    CHECK_EQ(sim_pd_take_notify(NFX_CLIENT_CH(0)), 1);
    uint8_t src[6];
    nfx_mac(0, src);
    uint32_t len = nfx_frame(frame, src, src, 10, 1);
    for (unsigned k = 0; k < NFX_CAPACITY; k++)
        CHECK(net_client_send(c, frame, len));
    CHECK(!net_client_send(c, frame, len)); /* the switch has every buffer */
    CHECK(!net_client_send(c, frame, 13));
    CHECK(!net_client_send(c, frame, NET_MAX_FRAME + 1));
    CHECK_EQ(c->count.tx_no_buffer, 3);
    CHECK_EQ(c->count.tx_frames, NFX_CAPACITY);
}

TEST(net_client_ends_on_a_buffer_it_did_not_lend)
{
    nfx_setup(1, 0);
    struct net_client *c = &nfx.p[0].cl;
    CHECK(net_client_init(c, &nfx.p[0].client_view));
    /* TX_FREE returns a buffer the client never sent. */
    struct ring_entry e = { 0, 14, 0 };
    ring_push(&nfx.p[0].raw.ring[CONN_TX_FREE], &e, NULL);
    net_client_notified(c);
    CHECK(c->bc.ended);
    /* RX_ACTIVE: an id beyond the buffers, on a fresh client. */
    nfx_setup(1, 0);
    CHECK(net_client_init(c, &nfx.p[0].client_view));
    struct ring_entry r = { 0, 60, 99 };
    ring_push(&nfx.p[0].raw.ring[CONN_RX_ACTIVE], &r, NULL);
    CHECK_EQ(net_client_recv(c, got, sizeof(got)), 0);
    CHECK(c->bc.ended);
    CHECK(!net_client_send(c, frame, 60));
}

TEST(net_client_counts_rx_entries_of_bad_lengths_and_lends_them_again)
{
    nfx_setup(1, 0);
    struct net_client *c = &nfx.p[0].cl;
    CHECK(net_client_init(c, &nfx.p[0].client_view));
    struct ring *free = &nfx.p[0].raw.ring[CONN_RX_FREE], *act = &nfx.p[0].raw.ring[CONN_RX_ACTIVE];
    struct ring_entry e;
    CHECK(ring_pop(free, &e));
    e.len = 5;
    ring_push(act, &e, NULL);
    CHECK(ring_pop(free, &e));
    memset(nfx.p[0].rx + e.offset, 0x5a, 60);
    e.len = 60;
    ring_push(act, &e, NULL);
    CHECK_EQ(net_client_recv(c, got, sizeof(got)), 60);
    CHECK_EQ(got[59], 0x5a);
    CHECK_EQ(c->count.rx_bad, 1);
    CHECK(!c->bc.ended);
    /* Both buffers are lent again. */
    struct ring_shm *s = free->shm;
    CHECK_EQ(ring_load(&s->head) - ring_load(&s->tail), NFX_CAPACITY);
}
