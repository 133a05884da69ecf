/* The virtual switch (components/vswitch): forwarding and learning, flooding, source-address
 * enforcement, slow receivers, bad entries and corrupt rings, counters, configuration errors. */
#include <string.h>
#include <vswitch/vswitch.h>

#include "net_fixture.h"
#include "sim_pd.h"
#include "test.h"

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };
static const uint8_t stranger[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };

static uint8_t frame[NET_BUF_SIZE], got[NET_BUF_SIZE];

static void no_op(unsigned i)
{
    (void)i;
}

/* Port `from` sends `payload` bytes to `dst` with its own MAC. */
static uint32_t send_from(unsigned from, const uint8_t *dst, uint32_t payload, uint8_t seed)
{
    uint8_t src[6];
    nfx_mac(from, src);
    uint32_t len = nfx_frame(frame, dst, src, payload, seed);
    return nfx_send(from, frame, len) ? len : 0;
}

/* Port i received exactly `len` bytes equal to `frame`. */
static bool received_frame(unsigned i, uint32_t len)
{
    return nfx_recv(i, got) == len && memcmp(got, frame, len) == 0;
}

TEST(vswitch_unicast_goes_to_the_declared_port_only)
{
    nfx_setup(3, 0);
    nfx_start();
    uint8_t to[6];
    nfx_mac(1, to);
    uint32_t len = send_from(0, to, 100, 1);
    CHECK(len == 114);
    CHECK(received_frame(1, len));
    CHECK_EQ(nfx_recv(2, got), 0);
    CHECK_EQ(nfx_recv(0, got), 0);
    CHECK_EQ(nfx.sw.port[0].count.in_frames, 1);
    CHECK_EQ(nfx.sw.port[0].count.in_bytes, 114);
    CHECK_EQ(nfx.sw.port[1].count.out_frames, 1);
    CHECK_EQ(nfx.sw.port[1].count.out_bytes, 114);
    CHECK_EQ(nfx.sw.port[2].count.out_frames, 0);
    /* The sender's buffer came back. */
    CHECK_EQ(net_client_tx_room(&nfx.p[0].cl), NFX_CAPACITY);
}

TEST(vswitch_broadcast_multicast_and_unknown_unicast_flood_every_other_port)
{
    nfx_setup(4, 0);
    nfx_start();
    const uint8_t *dsts[] = { bcast, mcast, stranger };
    for (unsigned k = 0; k < 3; k++) {
        uint32_t len = send_from(2, dsts[k], 60 + k, (uint8_t)k);
        for (unsigned i = 0; i < 4; i++) {
            if (i == 2)
                CHECK_EQ(nfx_recv(i, got), 0);
            else
                CHECK(received_frame(i, len));
        }
    }
    CHECK_EQ(nfx.sw.port[2].count.in_frames, 3);
    CHECK_EQ(nfx.sw.port[0].count.out_frames, 3);
}

TEST(vswitch_largest_and_smallest_frames_pass_whole)
{
    nfx_setup(2, 0);
    nfx_start();
    uint8_t to[6];
    nfx_mac(1, to);
    uint32_t len = send_from(0, to, NET_MAX_FRAME - 14, 9);
    CHECK_EQ(len, NET_MAX_FRAME);
    CHECK(received_frame(1, len));
    len = send_from(0, to, 0, 9);
    CHECK_EQ(len, NET_MIN_FRAME);
    CHECK(received_frame(1, len));
}

TEST(vswitch_learns_hosts_behind_an_uplink)
{
    nfx_setup(4, 1); /* port 3 (index 3) is the uplink */
    nfx_start();
    /* Before the outside host spoke, frames for it flood. */
    uint32_t len = send_from(0, stranger, 20, 1);
    CHECK(received_frame(1, len));
    CHECK(received_frame(2, len));
    CHECK(received_frame(3, len));
    CHECK_EQ(vswitch_lookup(&nfx.sw, stranger), -1);
    /* The outside host speaks through the uplink, with its own source address. */
    uint8_t to[6];
    nfx_mac(0, to);
    len = nfx_frame(frame, to, stranger, 30, 2);
    CHECK(nfx_send(3, frame, len));
    CHECK(received_frame(0, len));
    CHECK_EQ(nfx_recv(1, got), 0);
    CHECK_EQ(vswitch_lookup(&nfx.sw, stranger), 3);
    CHECK_EQ(nfx.sw.learned, 1);
    /* Now frames for it go to the uplink only. */
    len = send_from(1, stranger, 40, 3);
    CHECK(received_frame(3, len));
    CHECK_EQ(nfx_recv(0, got), 0);
    CHECK_EQ(nfx_recv(2, got), 0);
}

TEST(vswitch_learned_host_moves_between_uplinks_and_old_entries_give_way)
{
    nfx_setup(4, 2); /* ports 2 and 3 are uplinks */
    nfx_start();
    uint8_t to[6];
    nfx_mac(0, to);
    uint32_t len = nfx_frame(frame, to, stranger, 10, 1);
    CHECK(nfx_send(2, frame, len));
    CHECK_EQ(vswitch_lookup(&nfx.sw, stranger), 2);
    CHECK(nfx_send(3, frame, len));
    CHECK_EQ(vswitch_lookup(&nfx.sw, stranger), 3);
    CHECK_EQ(nfx.sw.learned, 2);
    /* Fill the table with outside hosts: the least recently seen give way, ports' own never. */
    uint8_t host[6] = { 0x02, 0x11, 0, 0, 0, 0 };
    for (unsigned k = 0; k < 2 * VSWITCH_FDB_SIZE; k++) {
        host[4] = (uint8_t)(k >> 8);
        host[5] = (uint8_t)k;
        len = nfx_frame(frame, to, host, 10, 1);
        CHECK(nfx_send(2, frame, len));
        while (nfx_recv(0, got))
            ;
    }
    CHECK(nfx.sw.fdb_replaced > 0);
    CHECK_EQ(vswitch_lookup(&nfx.sw, stranger), -1); /* the oldest is gone */
    CHECK_EQ(vswitch_lookup(&nfx.sw, host), 2);      /* the newest is there */
    for (unsigned i = 0; i < 4; i++) {
        uint8_t m[6];
        nfx_mac(i, m);
        if (i < 2)
            CHECK_EQ(vswitch_lookup(&nfx.sw, m), i);
    }
}

TEST(vswitch_drops_and_counts_spoofed_frames)
{
    nfx_setup(3, 0);
    nfx_start();
    uint8_t victim[6], to[6];
    nfx_mac(1, victim);
    nfx_mac(2, to);
    /* Port 1 (index 0) pretends to be port 2, to unicast, broadcast and its own MAC. */
    const uint8_t *dsts[] = { to, bcast, victim };
    for (unsigned k = 0; k < 3; k++) {
        uint32_t len = nfx_frame(frame, dsts[k], victim, 50, 1);
        CHECK(nfx_send(0, frame, len));
    }
    /* A group source address is never valid. */
    uint32_t len = nfx_frame(frame, to, bcast, 50, 1);
    CHECK(nfx_send(0, frame, len));
    for (unsigned i = 0; i < 3; i++)
        CHECK_EQ(nfx_recv(i, got), 0);
    CHECK_EQ(nfx.sw.port[0].count.spoofed, 4);
    CHECK_EQ(nfx.sw.port[0].count.in_frames, 0);
    CHECK_EQ(net_client_tx_room(&nfx.p[0].cl), NFX_CAPACITY); /* buffers given back */
    CHECK(sim_pd_console_has("vswitch lan: warning: port 1 port1: frame with source MAC "
                             "02:00:00:00:00:02, not its own 02:00:00:00:00:01: dropped (1 "
                             "spoofed so far)"));
    /* The learning table did not move port 2's MAC. */
    CHECK_EQ(vswitch_lookup(&nfx.sw, victim), 1);
    /* It still may send with its own. */
    len = send_from(0, to, 10, 2);
    CHECK(received_frame(2, len));
}

TEST(vswitch_uplink_may_not_use_a_ports_mac)
{
    nfx_setup(3, 1);
    nfx_start();
    uint8_t victim[6];
    nfx_mac(0, victim);
    uint32_t len = nfx_frame(frame, bcast, victim, 20, 1);
    CHECK(nfx_send(2, frame, len));
    CHECK_EQ(nfx_recv(0, got), 0);
    CHECK_EQ(nfx_recv(1, got), 0);
    CHECK_EQ(nfx.sw.port[2].count.spoofed, 1);
    CHECK_EQ(vswitch_lookup(&nfx.sw, victim), 0);
    /* Its own label MAC is not another port's: allowed. */
    uint8_t own[6];
    nfx_mac(2, own);
    len = nfx_frame(frame, bcast, own, 20, 1);
    CHECK(nfx_send(2, frame, len));
    CHECK(received_frame(0, len));
}

TEST(vswitch_spoof_reports_are_rate_limited)
{
    nfx_setup(2, 0);
    nfx_start();
    uint8_t victim[6];
    nfx_mac(1, victim);
    uint32_t len = nfx_frame(frame, bcast, victim, 20, 1);
    for (unsigned k = 0; k < 1000; k++)
        CHECK(nfx_send(0, frame, len));
    CHECK_EQ(nfx.sw.port[0].count.spoofed, 1000);
    unsigned lines = 0;
    for (const char *p = sim_pd.console; (p = strstr(p, "frame with source MAC")); p++)
        lines++;
    CHECK_EQ(lines, PD_LIMIT_BURST);
    /* After the window, the next one says how many were suppressed. */
    sim_pd.now += (uint64_t)PD_LIMIT_WINDOW_SECONDS * sim_pd.freq;
    CHECK(nfx_send(0, frame, len));
    CHECK(sim_pd_console_has("vswitch lan: 990 more reports of spoofed frames suppressed"));
}

TEST(vswitch_a_slow_receiver_drops_and_never_stalls_the_others)
{
    nfx_setup(3, 0);
    nfx_start();
    uint8_t slow[6], fast[6];
    nfx_mac(2, slow);
    nfx_mac(1, fast);
    /* Port 3 takes nothing: after its RX buffers fill, its frames are dropped. */
    for (unsigned k = 0; k < 3 * NFX_CAPACITY; k++) {
        CHECK(send_from(0, slow, 30, (uint8_t)k) != 0);
        uint32_t len = send_from(0, bcast, 31, (uint8_t)k);
        CHECK(received_frame(1, len)); /* the other port gets every broadcast */
        len = send_from(0, fast, 32, (uint8_t)k);
        CHECK(received_frame(1, len));
    }
    CHECK_EQ(nfx_waiting(2), NFX_CAPACITY);
    CHECK_EQ(nfx.sw.port[2].count.out_frames, NFX_CAPACITY);
    CHECK_EQ(nfx.sw.port[2].count.out_dropped, 2 * 3 * NFX_CAPACITY - NFX_CAPACITY);
    CHECK_EQ(nfx.sw.port[1].count.out_dropped, 0);
    CHECK(sim_pd_console_has("vswitch lan: warning: port 3 port3 has no free receive buffer: its "
                             "frames are dropped until it has (1 so far)"));
    /* It reads again: frames reach it, and a new episode would be reported again. */
    while (nfx_recv(2, got))
        ;
    uint32_t len = send_from(0, slow, 33, 1);
    CHECK(received_frame(2, len));
    CHECK(!nfx.sw.port[2].dropping);
}

TEST(vswitch_serves_ports_in_turn)
{
    nfx_setup(3, 0);
    nfx_start();
    uint8_t to[6];
    nfx_mac(2, to);
    /* Ports 1 and 2 each queue a ring's worth before the switch looks. */
    for (unsigned from = 0; from < 2; from++) {
        uint8_t src[6];
        nfx_mac(from, src);
        for (unsigned k = 0; k < NFX_CAPACITY; k++) {
            uint32_t len = nfx_frame(frame, to, src, 20, (uint8_t)k);
            CHECK(net_client_send(&nfx.p[from].cl, frame, len));
        }
    }
    /* One notification: the switch takes from both in turn; port 3 gets the first RX ring's
     * worth, alternating. */
    vswitch_notified(&nfx.sw, NFX_SW_CH(0));
    uint8_t prev = 0xff;
    for (unsigned k = 0; k < NFX_CAPACITY; k++) {
        CHECK_EQ(nfx_recv(2, got), 34);
        CHECK(got[11] != prev);
        prev = got[11];
    }
    CHECK_EQ(nfx.sw.port[0].count.in_frames, NFX_CAPACITY);
    CHECK_EQ(nfx.sw.port[1].count.in_frames, NFX_CAPACITY);
}

TEST(vswitch_bad_tx_entries_are_counted_and_given_back)
{
    nfx_setup(2, 0);
    nfx.p[0].on_notify = no_op; /* port 1 is driven by hand */
    nfx_start();
    uint8_t to[6], src[6];
    nfx_mac(1, to);
    nfx_mac(0, src);
    nfx_frame(nfx.p[0].tx, to, src, 100, 1);
    nfx_raw_tx(0, NFX_DATA - 10, 100, 1);  /* runs past the region */
    nfx_raw_tx(0, UINT64_MAX - 5, 100, 2); /* wraps */
    nfx_raw_tx(0, 0, NET_MIN_FRAME - 1, 3);
    nfx_raw_tx(0, 0, NET_MAX_FRAME + 1, 4);
    CHECK_EQ(nfx.sw.port[0].count.bad_entries, 4);
    CHECK_EQ(nfx.sw.port[0].count.in_frames, 0);
    CHECK_EQ(nfx_recv(1, got), 0);
    /* Each came back, as it was. */
    struct ring_entry e;
    for (uint32_t id = 1; id <= 4; id++) {
        CHECK(ring_pop(&nfx.p[0].raw.ring[CONN_TX_FREE], &e));
        CHECK_EQ(e.id, id);
    }
    CHECK(sim_pd_console_has("vswitch lan: warning: port 1 port1: bad TX entry (offset 0x3ff6, "
                             "length 100; region 0x4000 bytes"));
    /* A good one still passes. */
    nfx_raw_tx(0, 0, 114, 5);
    CHECK_EQ(nfx_recv(1, got), 114);
}

TEST(vswitch_bad_rx_free_entries_are_counted_and_skipped)
{
    nfx_setup(2, 0);
    nfx.p[1].on_notify = no_op;
    /* Port 2's RX_FREE is filled by hand: two bad buffers, then a good one. */
    nfx.cfg.num_ports = 2;
    net_client_init(&nfx.p[0].cl, &nfx.p[0].client_view);
    struct ring *free = &nfx.p[1].raw.ring[CONN_RX_FREE];
    struct ring_entry bad1 = { NFX_DATA - 100, NET_BUF_SIZE, 0 }, bad2 = { 0, 60, 1 },
                      good = { NET_BUF_SIZE, NET_BUF_SIZE, 2 };
    CHECK(ring_push(free, &bad1, NULL));
    CHECK(ring_push(free, &bad2, NULL));
    CHECK(ring_push(free, &good, NULL));
    vswitch_init(&nfx.sw, &nfx.cfg);
    uint8_t to[6];
    nfx_mac(1, to);
    uint32_t len = send_from(0, to, 100, 1); /* longer than bad2's 60 bytes */
    CHECK_EQ(nfx.sw.port[1].count.bad_entries, 2);
    struct ring_entry e;
    CHECK(ring_pop(&nfx.p[1].raw.ring[CONN_RX_ACTIVE], &e));
    CHECK_EQ(e.id, 2);
    CHECK_EQ(e.len, len);
    CHECK(memcmp(nfx.p[1].rx + NET_BUF_SIZE, frame, len) == 0);
    CHECK(sim_pd_console_has("bad RX_FREE entry"));
}

TEST(vswitch_a_corrupt_ring_ends_that_port_only)
{
    nfx_setup(3, 0);
    nfx_start();
    /* Port 2 claims its RX_FREE holds far more than the ring can. */
    nfx.p[1].raw.ring[CONN_RX_FREE].shm->head += 1000;
    uint32_t len = send_from(0, bcast, 10, 1);
    CHECK(nfx.sw.port[1].ended);
    CHECK(received_frame(2, len));
    CHECK(sim_pd_console_has("vswitch lan: error: port 2 port2: connection ended: its RX_FREE "
                             "ring is corrupt"));
    /* Reported once; never touched again, while the others go on. */
    for (unsigned k = 0; k < 5; k++) {
        len = send_from(0, bcast, 10, (uint8_t)k);
        CHECK(received_frame(2, len));
    }
    unsigned lines = 0;
    for (const char *p = sim_pd.console; (p = strstr(p, "connection ended")); p++)
        lines++;
    CHECK_EQ(lines, 1);
    uint8_t to[6];
    nfx_mac(1, to);
    CHECK(send_from(2, to, 10, 1) != 0);
    CHECK_EQ(nfx.sw.port[1].count.out_frames, 0);
}

TEST(vswitch_frames_to_their_own_port_go_nowhere)
{
    nfx_setup(2, 0);
    nfx_start();
    uint8_t self[6];
    nfx_mac(0, self);
    send_from(0, self, 10, 1);
    CHECK_EQ(nfx_recv(0, got), 0);
    CHECK_EQ(nfx_recv(1, got), 0);
    CHECK_EQ(nfx.sw.port[0].count.to_self, 1);
}

TEST(vswitch_prints_its_counters_when_a_port_asks)
{
    nfx_setup(3, 1);
    nfx_start();
    uint8_t to[6], victim[6];
    nfx_mac(1, to);
    nfx_mac(1, victim);
    send_from(0, to, 100, 1);
    send_from(0, to, 100, 1);
    uint32_t len = nfx_frame(frame, bcast, victim, 20, 1);
    nfx_send(0, frame, len);
    CHECK(sim_pd_console_lacks("counters"));
    CHECK(net_client_request_counters(&nfx.p[1].cl));
    net_client_flush(&nfx.p[1].cl);
    nfx_pump();
    CHECK(sim_pd_console_has("vswitch lan: counters (asked by port2): learned 0, replaced 0"));
    CHECK(sim_pd_console_has("vswitch lan: port 1 port1: in 2 frames 228 bytes, spoofed 1, to "
                             "itself 0, bad entries 0; out 0 frames 0 bytes, dropped 0\n"));
    CHECK(sim_pd_console_has("vswitch lan: port 2 port2: in 0 frames 0 bytes, spoofed 0, to "
                             "itself 0, bad entries 0; out 2 frames 228 bytes, dropped 0\n"));
    CHECK(sim_pd_console_has("vswitch lan: port 3 port3: in 0 frames"));
    /* The request's buffer came back. */
    CHECK_EQ(net_client_tx_room(&nfx.p[1].cl), NFX_CAPACITY);
}

TEST(vswitch_announces_its_ports)
{
    nfx_setup(2, 1);
    nfx_start();
    CHECK(sim_pd_console_has("vswitch lan: switching between 2 ports"));
    CHECK(sim_pd_console_has("vswitch lan: port 1 port1: 02:00:00:00:00:01\n"));
    CHECK(sim_pd_console_has("vswitch lan: port 2 port2: uplink (02:00:00:00:00:02), any outside "
                             "source MAC\n"));
}

TEST(vswitch_leaves_out_badly_configured_ports)
{
    nfx_setup(4, 0);
    nfx.cfg.ports[1].mac[5] = 1;        /* port 1's MAC */
    nfx.cfg.ports[2].conn.capacity = 6; /* not a power of two */
    nfx.cfg.ports[3].mac[0] = 0x01;     /* a group address */
    nfx_start();
    CHECK(sim_pd_console_has("vswitch lan: error: port 2 port2: its MAC is another port's; the "
                             "port is left out"));
    CHECK(sim_pd_console_has("vswitch lan: error: port 3 port3: its ring capacity is not a "
                             "power of two"));
    CHECK(sim_pd_console_has("vswitch lan: error: port 4 port4: its MAC is a group address"));
    CHECK(nfx.sw.port[0].configured);
    CHECK(!nfx.sw.port[1].configured);
    /* The good port works; broadcasts go to nobody else, and nothing touches the others. */
    send_from(0, bcast, 10, 1);
    CHECK_EQ(nfx.sw.port[0].count.in_frames, 1);
    CHECK_EQ(nfx_waiting(1), 0);
    CHECK_EQ(nfx_waiting(3), 0);
}

TEST(vswitch_refuses_a_configuration_without_ports)
{
    nfx_setup(1, 0);
    nfx.cfg.num_ports = VSWITCH_MAX_PORTS + 1;
    vswitch_init(&nfx.sw, &nfx.cfg);
    CHECK(!nfx.sw.ready);
    CHECK(sim_pd_console_has("vswitch lan: error: more ports than the switch serves; the switch "
                             "is off"));
    vswitch_notified(&nfx.sw, 1); /* does nothing, touches nothing */
    nfx.cfg.num_ports = 0;
    vswitch_init(&nfx.sw, &nfx.cfg);
    CHECK(!nfx.sw.ready);
}

TEST(vswitch_frames_queued_before_it_starts_are_forwarded)
{
    nfx_setup(2, 0);
    for (unsigned i = 0; i < 2; i++)
        net_client_init(&nfx.p[i].cl, &nfx.p[i].client_view);
    uint8_t to[6], src[6];
    nfx_mac(1, to);
    nfx_mac(0, src);
    uint32_t len = nfx_frame(frame, to, src, 40, 3);
    CHECK(net_client_send(&nfx.p[0].cl, frame, len));
    vswitch_init(&nfx.sw, &nfx.cfg);
    CHECK(received_frame(1, len));
}
