/*
 * The virtio network device (virtio 1.2, 5.1; device ID 1): receiveq0 and transmitq0, features
 * VIRTIO_F_VERSION_1, VIRTIO_NET_F_MAC, VIRTIO_NET_F_MTU and VIRTIO_NET_F_STATUS; no checksum or
 * segmentation offloads, no mergeable receive buffers, no control queue. Its backend is the
 * virtual switch, reached over a connection (proto/conn.h, proto/net.h) on which the VMM is the
 * client: one Ethernet frame per buffer, without the virtio-net header.
 *
 * Transmit: each transmitq0 chain holds the 12-byte virtio-net header, then one frame; the frame
 * is copied into a free TX buffer and queued on TX_ACTIVE. A chain is taken only when a TX buffer
 * is free, so while the switch holds them all the guest's frames wait in its queue. A chain
 * without a whole header, with a header asking for an offload that was not offered, or with a
 * frame shorter than an Ethernet header or longer than MTU + 14 bytes is dropped and counted
 * (a rate-limited report names it), and the guest gets it back; one the transport refuses
 * (outside guest RAM, a loop) is counted and leaves the device needing a reset.
 * Receive: frames from RX_ACTIVE wait, in order, for the guest's receive chains, each of which
 * gets the header (num_buffers 1) and one frame; a chain too small for both is given back empty
 * and the frame dropped (counted). While the guest has no free receive chain, frames are held,
 * and once every RX buffer is held the switch drops what comes (and counts it there). Frames that
 * arrive while no driver runs the device are dropped at once (a NIC without a driver hears
 * nothing), and a reset drops what is held.
 * Link: up while the connection works; a corrupt ring takes it down (a configuration change
 * interrupt tells the driver). When a driver that ran the device resets it (a reboot, power-off,
 * the module unloaded), the device asks the switch to print its counters (proto/net.h).
 */
#include <proto/net.h>
#include <vmm/log.h>
#include <vmm/util.h>

#include "virtio_internal.h"

enum { RXQ, TXQ };

#define NET_QUEUE_SIZE 256u
#define NET_CONFIG_SIZE 12u /* mac[6], status, max_virtqueue_pairs, mtu */
#define NET_HDR_SIZE 12u    /* struct virtio_net_hdr with num_buffers (VERSION_1) */

#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1u
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1u
#define VIRTIO_NET_HDR_GSO_NONE 0u
#define NET_MIN_MTU 68u /* RFC 791's smallest */

#define BAD_FRAMES "reports of network frames dropped"

_Static_assert(NET_QUEUE_SIZE <= VIRTQ_MAX_SIZE, "net queue size within the maximum");
_Static_assert(NET_BUF_SIZE >= NET_MAX_FRAME, "a buffer holds a frame");
_Static_assert(NET_MAX_FRAME <= 0xffff, "frame lengths fit 16 bits");

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static uint32_t max_frame(const struct virtio_dev *d)
{
    return d->cfg->u.net.mtu + NET_MIN_FRAME;
}

/* A frame the guest sent or should receive is dropped: counted by the caller, reported here. */
static void frame_dropped(struct virtio_dev *d, const char *queue, uint16_t head, const char *why,
                          uint64_t count)
{
    if (!log_limit_pass(&d->log_guest, LOG_WARN, "virtio", BAD_FRAMES))
        return;
    LOG_WARNING("virtio",
                VIRTIO_LABEL_FMT ": %s: chain from descriptor %u: %s: dropped (%llu so far)",
                VIRTIO_LABEL(d), queue, head, why, (unsigned long long)count);
}

/* The connection stopped (a corrupt ring): the link is down; tell the driver. */
static void link_down(struct virtio_dev *d)
{
    d->config_generation++;
    if (virtio_live(d))
        virtio_interrupt(d, VIRTIO_INT_CONFIG);
}

/* A frame from the switch while no driver runs the device is dropped at once. */
static bool rx_no_driver(struct virtio_dev *d)
{
    if (virtio_live(d) && d->vq[RXQ].ready)
        return false;
    d->u.net.count.rx_no_driver++;
    return true;
}

static const struct virtio_bufconn_kind net_bufs = {
    .buf_size = NET_BUF_SIZE,
    .rx_min_len = NET_MIN_FRAME,
    .rx_max_len = NET_MAX_FRAME,
    .tx_free_len_checked = false, /* the length of a TX buffer the switch returns is not used */
    .peer = "switch",
    .rx_len_rule = "is not a frame",
    .when_dead = ", link down",
    .stopped = link_down,
    .rx_unwanted = rx_no_driver,
};

/* ---- transmit ------------------------------------------------------------------------------ */

/* Copies one transmitq0 chain into TX buffer `id`: the header into `hdr`, the frame into the
 * buffer (as much as fits); returns the chain's total length, or -1 if the transport refused it. */
static int64_t tx_copy(struct virtio_dev *d, uint16_t head, unsigned id, uint8_t *hdr)
{
    struct virtio_bufconn *b = &d->u.net.bc;
    uint8_t *buf = b->conn.tx_data + bufconn_offset(b, id);
    struct virtq_chain ch;
    struct virtq_seg seg;
    uint64_t total = 0;
    int r;
    virtq_chain_start(&ch, d, TXQ, head, VIRTQ_DEVICE_READS);
    while ((r = virtq_chain_next(&ch, &seg)) > 0) {
        const uint8_t *src = seg.ptr;
        uint32_t left = seg.len;
        if (total < NET_HDR_SIZE) {
            uint32_t k = min_u32(left, NET_HDR_SIZE - (uint32_t)total);
            vmm_memcpy(hdr + total, src, k);
            src += k;
            left -= k;
            total += k;
        }
        uint64_t at = total - NET_HDR_SIZE;
        if (left && at < NET_BUF_SIZE)
            vmm_memcpy(buf + at, src, min_u32(left, NET_BUF_SIZE - (uint32_t)at));
        total += left;
    }
    return r < 0 ? -1 : (int64_t)total;
}

/* Why a chain's header and frame cannot go, with its counter; NULL if they can. */
static const char *tx_problem(struct virtio_dev *d, uint64_t total, const uint8_t *hdr,
                              uint64_t **counter)
{
    struct virtio_net_counters *c = &d->u.net.count;
    if (total < NET_HDR_SIZE) {
        *counter = &c->tx_no_header;
        return "shorter than the 12-byte virtio-net header";
    }
    if ((hdr[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) || hdr[1] != VIRTIO_NET_HDR_GSO_NONE) {
        *counter = &c->tx_bad_header;
        return "its header asks for checksum or segmentation offload, which the device does "
               "not offer";
    }
    if (total - NET_HDR_SIZE < NET_MIN_FRAME) {
        *counter = &c->tx_too_short;
        return "its frame is shorter than an Ethernet header";
    }
    if (total - NET_HDR_SIZE > max_frame(d)) {
        *counter = &c->tx_too_long;
        return "its frame is longer than the MTU and an Ethernet header";
    }
    return NULL;
}

static void net_tx(struct virtio_dev *d)
{
    struct virtio_net *n = &d->u.net;
    struct virtio_bufconn *b = &n->bc;
    if (!virtio_live(d) || !d->vq[TXQ].ready)
        return;
    /* At most a queue's worth of chains is outstanding: one pass takes them all. */
    for (unsigned budget = d->vq[TXQ].num; budget && (b->tx_free || b->conn_dead); budget--) {
        uint16_t head;
        if (virtq_pop_avail(d, TXQ, &head) <= 0)
            break;
        if (b->conn_dead) { /* link down: what the guest sends goes nowhere */
            n->count.tx_link_down++;
            virtq_push_used(d, TXQ, head, 0);
            continue;
        }
        unsigned id = (unsigned)__builtin_ctzll(b->tx_free);
        uint8_t hdr[NET_HDR_SIZE];
        int64_t total = tx_copy(d, head, id, hdr);
        if (total < 0) {
            n->count.bad_chains++;
            break; /* the device needs a reset now */
        }
        uint64_t *counter = NULL;
        const char *why = tx_problem(d, (uint64_t)total, hdr, &counter);
        if (why) {
            ++*counter;
            frame_dropped(d, "transmitq0", head, why, *counter);
        } else {
            uint32_t len = (uint32_t)total - NET_HDR_SIZE;
            if (bufconn_tx_queue(d, b, id, len)) {
                n->count.tx_frames++;
                n->count.tx_bytes += len;
            }
        }
        virtq_push_used(d, TXQ, head, 0);
    }
    virtq_signal(d, TXQ);
}

/* Ask the switch for its counters, now or when a TX buffer is free. */
static void ask_counters(struct virtio_dev *d)
{
    struct virtio_net *n = &d->u.net;
    if (!n->counters_wanted || n->bc.conn_dead || !n->bc.tx_free)
        return;
    if (bufconn_tx_queue(d, &n->bc, (unsigned)__builtin_ctzll(n->bc.tx_free), 0))
        n->counters_wanted = false;
}

/* ---- receive ------------------------------------------------------------------------------- */

/* Writes the header and the oldest held frame into a receive chain: the bytes written, 0 if the
 * chain is too small, -1 if the transport refused it. */
static int64_t rx_fill(struct virtio_dev *d, uint16_t head)
{
    struct virtio_bufconn *b = &d->u.net.bc;
    unsigned id = b->rx_held[b->rx_held_first];
    uint32_t flen = b->rx_len[id], need = NET_HDR_SIZE + flen, done = 0;
    /* flags, gso_type, hdr_len, gso_size, csum_start, csum_offset: 0; num_buffers: 1 */
    static const uint8_t hdr[NET_HDR_SIZE] = { [10] = 1 };
    const uint8_t *frame = b->conn.rx_data + bufconn_offset(b, id);
    struct virtq_chain ch;
    struct virtq_seg seg;
    int r;
    virtq_chain_start(&ch, d, RXQ, head, VIRTQ_DEVICE_WRITES);
    while ((r = virtq_chain_next(&ch, &seg)) > 0) {
        uint8_t *dst = seg.ptr;
        uint32_t room = seg.len;
        if (done < NET_HDR_SIZE && room) {
            uint32_t k = min_u32(room, NET_HDR_SIZE - done);
            vmm_memcpy(dst, hdr + done, k);
            dst += k;
            room -= k;
            done += k;
        }
        if (done >= NET_HDR_SIZE && done < need && room) {
            uint32_t k = min_u32(room, need - done);
            vmm_memcpy(dst, frame + (done - NET_HDR_SIZE), k);
            done += k;
        }
    }
    if (r < 0)
        return -1;
    return done == need ? done : 0;
}

static void rx_drop_held(struct virtio_dev *d);

/* Held frames into the guest's receive chains, in order. */
static void net_rx(struct virtio_dev *d)
{
    struct virtio_net *n = &d->u.net;
    struct virtio_bufconn *b = &n->bc;
    if (!virtio_live(d) || !d->vq[RXQ].ready)
        return;
    for (unsigned budget = d->vq[RXQ].num; budget && b->rx_held_count; budget--) {
        uint16_t head;
        if (virtq_pop_avail(d, RXQ, &head) <= 0)
            break;
        uint32_t flen = b->rx_len[b->rx_held[b->rx_held_first]];
        int64_t wrote = rx_fill(d, head);
        if (wrote < 0) {
            n->count.bad_chains++;
            rx_drop_held(d); /* the device needs a reset now: nothing will take them */
            break;
        }
        if (wrote == 0) {
            n->count.rx_too_small++;
            frame_dropped(d, "receiveq0", head, "too small for the virtio-net header and the frame",
                          n->count.rx_too_small);
        } else {
            n->count.rx_frames++;
            n->count.rx_bytes += flen;
        }
        virtq_push_used(d, RXQ, head, (uint32_t)wrote);
        bufconn_rx_release_first(d, b);
    }
    virtq_signal(d, RXQ);
}

static void rx_drop_held(struct virtio_dev *d)
{
    struct virtio_net *n = &d->u.net;
    while (n->bc.rx_held_count) {
        n->count.rx_no_driver++;
        bufconn_rx_release_first(d, &n->bc);
    }
}

/* ---- the device ------------------------------------------------------------------------------ */

static void net_attach(struct virtio_dev *d)
{
    bufconn_attach(d, &d->u.net.bc, &net_bufs);
}

static void net_reset(struct virtio_dev *d)
{
    struct virtio_net *n = &d->u.net;
    rx_drop_held(d);
    if (n->was_live) {
        n->was_live = false;
        n->counters_wanted = true;
        ask_counters(d);
    }
    bufconn_kick(&n->bc);
}

static void net_queue_stop(struct virtio_dev *d, unsigned q)
{
    if (q == RXQ)
        rx_drop_held(d);
    bufconn_kick(&d->u.net.bc);
}

static void net_queue_notify(struct virtio_dev *d, unsigned q)
{
    if (q == TXQ)
        net_tx(d);
    else
        net_rx(d);
    bufconn_kick(&d->u.net.bc);
}

static void net_driver_ok(struct virtio_dev *d)
{
    d->u.net.was_live = true;
    net_rx(d);
    net_tx(d);
    bufconn_kick(&d->u.net.bc);
}

static void net_backend(struct virtio_dev *d, bool guest_running)
{
    struct virtio_bufconn *b = &d->u.net.bc;
    bufconn_take_entries(d, b);
    if (b->conn_dead)
        rx_drop_held(d);
    ask_counters(d);
    bufconn_lend_idle(d, b);
    if (guest_running) {
        net_tx(d); /* frames waiting for TX buffers */
        net_rx(d);
    }
    bufconn_kick(b);
}

static uint32_t net_config_read(struct virtio_dev *d, uint32_t offset, unsigned width)
{
    const struct virtio_net *n = &d->u.net;
    uint8_t cfg[NET_CONFIG_SIZE];
    vmm_memcpy(cfg, d->cfg->u.net.mac, 6);
    uint16_t status = n->bc.conn_dead ? 0 : VIRTIO_NET_S_LINK_UP;
    cfg[6] = (uint8_t)status;
    cfg[7] = (uint8_t)(status >> 8);
    cfg[8] = 1; /* max_virtqueue_pairs (only with VIRTIO_NET_F_MQ; one pair) */
    cfg[9] = 0;
    cfg[10] = (uint8_t)d->cfg->u.net.mtu;
    cfg[11] = (uint8_t)(d->cfg->u.net.mtu >> 8);
    uint32_t v = 0;
    for (unsigned i = 0; i < width; i++)
        v |= (uint32_t)cfg[offset + i] << (8 * i);
    return v;
}

static const char *net_conn_problem(const struct conn_config *c)
{
    return bufconn_conn_problem(c, NET_BUF_SIZE);
}

static const char *net_config_problem(const struct vmm_virtio_device *v)
{
    if (v->u.net.mtu < NET_MIN_MTU || v->u.net.mtu > NET_MTU)
        return "its MTU is not 68..1500 bytes";
    if (net_mac_is_group(v->u.net.mac))
        return "its MAC is a group (multicast) address";
    return NULL;
}

static const char *const net_queue_names[] = { "receiveq0", "transmitq0" };

const struct virtio_ops virtio_net_ops = {
    .type_name = "network device",
    .device_id = VMM_VIRTIO_NET,
    .features = UINT64_C(1) << VIRTIO_F_VERSION_1 | UINT64_C(1) << VIRTIO_NET_F_MAC |
                UINT64_C(1) << VIRTIO_NET_F_MTU | UINT64_C(1) << VIRTIO_NET_F_STATUS,
    .num_queues = 2,
    .queue_num_max = NET_QUEUE_SIZE,
    .queue_names = net_queue_names,
    .config_size = NET_CONFIG_SIZE,
    .conn_problem = net_conn_problem,
    .config_problem = net_config_problem,
    .config_read = net_config_read,
    .config_write = NULL,
    .queue_notify = net_queue_notify,
    .queue_stop = net_queue_stop,
    .driver_ok = net_driver_ok,
    .reset = net_reset,
    .attach = net_attach,
    .backend = net_backend,
};
