/*
 * libFuzzer target: the virtual switch against hostile ports. The input is a stream of
 * operations: ports queue TX entries of any offset, length and id (or well-formed frames with
 * their own, another port's, a group or a stranger's source MAC, to anyone), write their TX
 * data, queue RX_FREE buffers (good or not), consume (or not) what the switch gives them, set
 * any ring index to anything, ask for the counters; time passes; the switch is notified.
 *
 * After every notification it checks what the switch did to the shared memory: it never writes
 * a TX data region (read-only on target); in the queue regions it writes only its own indices
 * (TX_ACTIVE and RX_FREE tails, TX_FREE and RX_ACTIVE heads) and the entries of the rings it
 * produces; every TX_FREE entry is a TX_ACTIVE entry it took, unchanged and in order (all of
 * them); every RX_ACTIVE entry is an RX_FREE entry it took, in order, with the offset and id
 * unchanged and a frame length no longer than the buffer; the RX data it changed lies inside
 * those entries; and every frame it delivered is, byte for byte, a frame another port queued in
 * that pass whose source address that port may use (its own MAC; for the uplink, any unicast
 * address not another port's).
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <vswitch/vswitch.h>

#include "sim_pd.h"

#define PORTS 4 /* the last one an uplink */
#define CAP 8
#define DATA (CAP * NET_BUF_SIZE)
#define QUEUE 4096

struct port {
    uint8_t *queue, *tx, *rx;
    struct conn raw; /* the port's own view of its rings */
    uint8_t snap_queue[QUEUE];
    uint8_t snap_tx[DATA], snap_rx[DATA];
};

static struct port pt[PORTS];
static struct vswitch sw;
static struct vswitch_config cfg;
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t stranger[6] = { 0x02, 0x77, 0x66, 0x55, 0x44, 0x33 };

static const uint8_t *in;
static size_t in_left;

static uint64_t take(unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes && in_left; i++, in_left--)
        v |= (uint64_t)*in++ << (8 * i);
    return v;
}

static void fail(const char *what, unsigned port)
{
    fprintf(stderr, "fuzz_vswitch: port %u: %s\n", port, what);
    __builtin_trap();
}

static void mac_of(unsigned p, uint8_t *mac)
{
    const uint8_t m[6] = { 0x02, 0, 0, 0, 0x10, (uint8_t)(p + 1) };
    memcpy(mac, m, 6);
}

static struct ring_shm *shm(const uint8_t *queue, unsigned ring)
{
    return (struct ring_shm *)(queue + conn_ring_offset(CAP, ring));
}

static uint32_t ring_head_of(const uint8_t *q, unsigned r)
{
    return shm(q, r)->head;
}

static uint32_t ring_tail_of(const uint8_t *q, unsigned r)
{
    return shm(q, r)->tail;
}

static struct ring_entry entry(const uint8_t *q, unsigned r, uint32_t i)
{
    return shm(q, r)->entries[i & (CAP - 1)];
}

/* ---- what the switch may do ----------------------------------------------------------------- */

/* May port p send with this source? (the rule, written again here) */
static bool source_allowed(unsigned p, const uint8_t *src)
{
    if (src[0] & 1)
        return false;
    static const uint8_t zero[6];
    if (!memcmp(src, zero, 6))
        return false;
    for (unsigned q = 0; q < PORTS; q++) {
        uint8_t m[6];
        mac_of(q, m);
        if (q != p && !cfg.ports[q].uplink && !memcmp(src, m, 6))
            return false;
    }
    if (cfg.ports[p].uplink)
        return true;
    uint8_t own[6];
    mac_of(p, own);
    return !memcmp(src, own, 6);
}

/* Bytes [a, b) of two snapshots of the same ring region are equal. */
static bool same(const uint8_t *x, const uint8_t *y, size_t a, size_t b)
{
    return memcmp(x + a, y + a, b - a) == 0;
}

static void before(void)
{
    for (unsigned p = 0; p < PORTS; p++) {
        memcpy(pt[p].snap_queue, pt[p].queue, QUEUE);
        memcpy(pt[p].snap_tx, pt[p].tx, DATA);
        memcpy(pt[p].snap_rx, pt[p].rx, DATA);
    }
}

/* The delivered frame's bytes equal the sent one's, except where `later` is set. */
static bool same_but(const uint8_t *sent, const uint8_t *frame, const uint8_t *later, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++) {
        if (!later[i] && sent[i] != frame[i])
            return false;
    }
    return true;
}

/* A delivered frame (at port q's RX region, `len` bytes) matches a frame some other port p
 * queued in this pass, taken and allowed; bytes marked in `later` were overwritten by a frame
 * delivered afterwards into the same memory (a port may lend one buffer twice: its loss). */
static bool came_from_a_port(unsigned q, const uint8_t *frame, uint32_t len, const uint8_t *later)
{
    for (unsigned p = 0; p < PORTS; p++) {
        if (p == q)
            continue;
        const uint8_t *old = pt[p].snap_queue;
        uint32_t t0 = ring_tail_of(old, CONN_TX_ACTIVE),
                 t1 = ring_tail_of(pt[p].queue, CONN_TX_ACTIVE);
        for (uint32_t i = t0; i != t1; i++) {
            struct ring_entry e = entry(old, CONN_TX_ACTIVE, i);
            if (e.len != len || !ring_entry_inside(&e, DATA))
                continue;
            const uint8_t *sent = pt[p].snap_tx + e.offset;
            if (same_but(sent, frame, later, len) && source_allowed(p, sent + NET_SRC_MAC))
                return true;
        }
    }
    return false;
}

static void after(void)
{
    for (unsigned p = 0; p < PORTS; p++) {
        const uint8_t *old = pt[p].snap_queue, *now = pt[p].queue;
        if (memcmp(pt[p].snap_tx, pt[p].tx, DATA))
            fail("the switch wrote a TX data region", p);
        /* The port's own parts of the queue region. */
        size_t ta = conn_ring_offset(CAP, CONN_TX_ACTIVE), tf = conn_ring_offset(CAP, CONN_TX_FREE);
        size_t rf = conn_ring_offset(CAP, CONN_RX_FREE), ra = conn_ring_offset(CAP, CONN_RX_ACTIVE);
        size_t tail_off = offsetof(struct ring_shm, tail);
        if (!same(old, now, ta, ta + tail_off) || !same(old, now, ta + tail_off + 4, tf) ||
            !same(old, now, rf, rf + tail_off) || !same(old, now, rf + tail_off + 4, ra))
            fail("the switch wrote a ring it consumes, beyond its tail", p);
        if (!same(old, now, tf + 4, tf + RING_HEADER_BYTES) ||
            !same(old, now, ra + 4, ra + RING_HEADER_BYTES) ||
            !same(old, now, tf + (size_t)RING_BYTES(CAP), rf) ||
            !same(old, now, ra + (size_t)RING_BYTES(CAP), QUEUE))
            fail("the switch wrote a ring header field that is not its head", p);
        /* TX: everything taken is given back, unchanged, in order. */
        uint32_t taken = ring_tail_of(now, CONN_TX_ACTIVE) - ring_tail_of(old, CONN_TX_ACTIVE);
        uint32_t given = ring_head_of(now, CONN_TX_FREE) - ring_head_of(old, CONN_TX_FREE);
        if (taken != given || taken > 4 * CAP * PORTS)
            fail("TX entries taken and given back differ", p);
        for (uint32_t i = 0; i < taken; i++) {
            struct ring_entry a = entry(old, CONN_TX_ACTIVE, ring_tail_of(old, CONN_TX_ACTIVE) + i);
            struct ring_entry b = entry(now, CONN_TX_FREE, ring_head_of(old, CONN_TX_FREE) + i);
            if (a.offset != b.offset || a.len != b.len || a.id != b.id)
                fail("a TX_FREE entry is not the TX_ACTIVE entry taken", p);
        }
        /* RX: each filled buffer is one taken from RX_FREE, in order; frames come from others. */
        uint32_t rx_taken = ring_tail_of(now, CONN_RX_FREE) - ring_tail_of(old, CONN_RX_FREE);
        uint32_t filled = ring_head_of(now, CONN_RX_ACTIVE) - ring_head_of(old, CONN_RX_ACTIVE);
        if (filled > rx_taken || rx_taken > CAP)
            fail("more RX buffers filled than taken", p);
        /* The RX region as it is, with the filled buffers put back as they were: it must be
         * the snapshot. */
        static uint8_t outside[DATA];
        memcpy(outside, pt[p].rx, DATA);
        uint32_t j = ring_tail_of(old, CONN_RX_FREE);
        for (uint32_t i = 0; i < filled; i++) {
            struct ring_entry f = entry(now, CONN_RX_ACTIVE, ring_head_of(old, CONN_RX_ACTIVE) + i);
            struct ring_entry g;
            do {
                if (j == ring_tail_of(now, CONN_RX_FREE))
                    fail("an RX_ACTIVE entry matches no RX_FREE entry taken", p);
                g = entry(old, CONN_RX_FREE, j++);
                /* The switch skips a buffer that cannot hold the frame, and a skipped one may
                 * carry the same offset and id as the one it fills: only a buffer it could fill
                 * matches. */
            } while (g.offset != f.offset || g.id != f.id || g.len < f.len ||
                     g.len > NET_BUF_SIZE || !ring_entry_inside(&g, DATA));
            if (f.len < NET_MIN_FRAME || f.len > NET_MAX_FRAME || f.len > g.len ||
                !ring_entry_inside(&f, DATA))
                fail("an RX_ACTIVE entry of a bad length", p);
            memcpy(outside + f.offset, pt[p].snap_rx + f.offset, f.len);
            static uint8_t later[NET_MAX_FRAME];
            memset(later, 0, f.len);
            for (uint32_t k = i + 1; k < filled; k++) {
                struct ring_entry h =
                    entry(now, CONN_RX_ACTIVE, ring_head_of(old, CONN_RX_ACTIVE) + k);
                uint64_t lo = h.offset > f.offset ? h.offset : f.offset;
                uint64_t hi = f.offset + f.len;
                if (h.offset + h.len < hi && h.offset + h.len >= h.offset)
                    hi = h.offset + h.len;
                for (uint64_t b = lo; b < hi; b++)
                    later[b - f.offset] = 1;
            }
            if (!came_from_a_port(p, pt[p].rx + f.offset, f.len, later))
                fail("a delivered frame is no frame another port was allowed to send", p);
        }
        if (memcmp(outside, pt[p].snap_rx, DATA))
            fail("RX data changed outside the buffers filled", p);
    }
}

/* ---- the ports ------------------------------------------------------------------------------ */

static void push(unsigned p, unsigned r, struct ring_entry e)
{
    struct ring_shm *s = shm(pt[p].queue, r);
    s->entries[s->head & (CAP - 1)] = e;
    s->head++;
}

static void pick_mac(unsigned p, unsigned sel, uint8_t *mac)
{
    switch (sel % 5) {
    case 0: mac_of(p, mac); break;
    case 1: mac_of((p + 1 + sel / 5) % PORTS, mac); break;
    case 2: memcpy(mac, bcast, 6); break;
    case 3: memcpy(mac, stranger, 6); break;
    default:
        for (unsigned i = 0; i < 6; i++)
            mac[i] = (uint8_t)take(1);
    }
}

/* Port p queues a well-formed frame in buffer b, or an entry of any value. */
static void op_tx(unsigned p)
{
    unsigned kind = (unsigned)take(1);
    struct ring_entry e;
    if (kind & 1) {
        uint32_t b = (uint32_t)take(1) % CAP;
        uint32_t len = NET_MIN_FRAME + (uint32_t)take(2) % (NET_MAX_FRAME - NET_MIN_FRAME + 1);
        if (kind & 2)
            len = (uint32_t)take(2);
        uint8_t *f = pt[p].tx + (size_t)b * NET_BUF_SIZE;
        pick_mac(p, (unsigned)take(1), f + NET_DST_MAC);
        pick_mac(p, (kind >> 2) & 0x3f, f + NET_SRC_MAC);
        e = (struct ring_entry){ (uint64_t)b * NET_BUF_SIZE, len, (uint32_t)take(1) };
    } else {
        e.offset = take(kind & 2 ? 8 : 2);
        e.len = (uint32_t)take(kind & 4 ? 4 : 2);
        e.id = (uint32_t)take(1);
    }
    push(p, CONN_TX_ACTIVE, e);
}

static void op_data(unsigned p)
{
    uint32_t at = (uint32_t)take(2) % DATA, n = (uint32_t)take(1);
    for (uint32_t i = 0; i < n && at + i < DATA; i++)
        pt[p].tx[at + i] = (uint8_t)take(1);
}

static void op_rx_free(unsigned p)
{
    unsigned kind = (unsigned)take(1);
    struct ring_entry e;
    if (kind & 1)
        e = (struct ring_entry){ (uint64_t)(take(1) % CAP) * NET_BUF_SIZE, NET_BUF_SIZE,
                                 (uint32_t)take(1) };
    else
        e = (struct ring_entry){ take(kind & 2 ? 8 : 2), (uint32_t)take(2), (uint32_t)take(1) };
    push(p, CONN_RX_FREE, e);
}

/* Port p takes what the switch gave it (filled RX buffers back on RX_FREE, if asked). */
static void op_consume(unsigned p)
{
    unsigned kind = (unsigned)take(1);
    struct ring_shm *tf = shm(pt[p].queue, CONN_TX_FREE), *ra = shm(pt[p].queue, CONN_RX_ACTIVE);
    if (kind & 1)
        tf->tail = tf->head;
    while ((kind & 2) && ra->tail != ra->head && ra->head - ra->tail <= CAP) {
        struct ring_entry e = ra->entries[ra->tail & (CAP - 1)];
        ra->tail++;
        if (kind & 4) {
            e.len = NET_BUF_SIZE;
            push(p, CONN_RX_FREE, e);
        }
    }
}

static void op_index(unsigned p)
{
    struct ring_shm *s = shm(pt[p].queue, (unsigned)take(1) % CONN_RINGS);
    uint32_t v = (uint32_t)take(4);
    if (take(1) & 1)
        s->head = v;
    else
        s->tail = v;
}

/* ---- the whole ------------------------------------------------------------------------------ */

static void setup(void)
{
    static bool mapped;
    if (!mapped) {
        for (unsigned p = 0; p < PORTS; p++) {
            pt[p].queue =
                mmap(NULL, QUEUE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            pt[p].tx = mmap(NULL, DATA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            pt[p].rx = mmap(NULL, DATA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (pt[p].queue == MAP_FAILED || pt[p].tx == MAP_FAILED || pt[p].rx == MAP_FAILED)
                abort();
        }
        mapped = true;
    }
    sim_pd_reset();
    cfg = (struct vswitch_config){ .name = "lan", .num_ports = PORTS };
    static const char *const names[PORTS] = { "a", "b", "c", "up" };
    for (unsigned p = 0; p < PORTS; p++) {
        memset(pt[p].queue, 0, QUEUE);
        memset(pt[p].tx, 0, DATA);
        memset(pt[p].rx, 0, DATA);
        struct vswitch_port_config *c = &cfg.ports[p];
        c->name = names[p];
        mac_of(p, c->mac);
        c->uplink = p == PORTS - 1;
        c->conn = (struct conn_config){
            (uintptr_t)pt[p].queue, CAP, (uintptr_t)pt[p].tx, DATA, (uintptr_t)pt[p].rx, DATA, p + 1
        };
        conn_attach(&pt[p].raw, &c->conn);
        /* Every port starts with its RX buffers lent, as the clients do. */
        for (uint32_t b = 0; b < CAP; b++)
            push(p, CONN_RX_FREE,
                 (struct ring_entry){ (uint64_t)b * NET_BUF_SIZE, NET_BUF_SIZE, b });
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in = data;
    in_left = size;
    setup();
    before();
    vswitch_init(&sw, &cfg);
    after();
    while (in_left) {
        unsigned op = (unsigned)take(1), p = (unsigned)take(1) % PORTS;
        switch (op % 9) {
        case 0: op_tx(p); break;
        case 1: op_data(p); break;
        case 2: op_rx_free(p); break;
        case 3: op_consume(p); break;
        case 4: op_index(p); break;
        case 5:
            push(p, CONN_TX_ACTIVE,
                 (struct ring_entry){ (uint64_t)(take(1) % CAP) * NET_BUF_SIZE, 0,
                                      (uint32_t)take(1) });
            break;
        case 6: sim_pd.now += take(4) << 8; break;
        default:
            before();
            vswitch_notified(&sw, p + 1);
            after();
        }
    }
    before();
    vswitch_notified(&sw, 1);
    after();
    return 0;
}
