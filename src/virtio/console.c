/*
 * The virtio console (virtio 1.2, 5.3; device ID 3): receiveq0 and transmitq0, no features
 * beyond VIRTIO_F_VERSION_1 (no MULTIPORT, SIZE or EMERG_WRITE; the configuration space reads
 * as zero). Its backend is the serial multiplexer, reached over a connection (proto/conn.h,
 * proto/serial.h) on which the VMM is the client.
 *
 * Buffers: each data region is cut into SERIAL_BUF_SIZE buffers (as many as the region, the
 * ring capacity and VIRTIO_CONSOLE_MAX_BUFS allow), named by their index, which is also the id
 * in ring entries. The VMM knows where each one is (free, lent to the backend, held with input
 * for the guest), so it takes back only what it lent, once.
 *
 * Output: on transmitq0's notification the guest's bytes are copied into TX buffers (several
 * chains may share one), each full one goes on TX_ACTIVE, the last partly filled one at the end
 * of the batch, and the chains go into the used ring at once. Out of TX buffers, the chain being
 * copied stays pending, with the bytes copied so far counted, until the backend returns buffers
 * on TX_FREE; nothing is dropped while the connection works.
 * Input: filled RX buffers from RX_ACTIVE are held, in order, until the guest's receive buffers
 * take their bytes; then they go back on RX_FREE. A device reset or a guest reboot keeps what is
 * held (as a serial line keeps what was typed): the next driver gets it once it has set up
 * receiveq0 and made buffers available. Nothing the backend sends is lost in the VMM; held
 * input is bounded by the RX buffers, and the multiplexer drops (and counts) what it cannot
 * hand over.
 * A bad entry from the backend is dropped and counted; if it names a buffer the backend holds,
 * that buffer comes back to the VMM (an RX one is lent again). A corrupt ring stops the
 * connection: output is then dropped (counted), so the guest never waits for it.
 */
#include <proto/serial.h>
#include <vmm/hyp.h>
#include <vmm/log.h>
#include <vmm/util.h>

#include "virtio_internal.h"

enum { RXQ, TXQ };

#define CONSOLE_QUEUE_SIZE 128u
#define CONSOLE_CONFIG_SIZE 12u /* cols, rows, max_nr_ports, emerg_wr */

_Static_assert(CONSOLE_QUEUE_SIZE <= VIRTQ_MAX_SIZE, "console queue size within the maximum");
_Static_assert(VIRTIO_CONSOLE_MAX_BUFS <= 64, "buffer sets are 64-bit masks");
_Static_assert(SERIAL_BUF_SIZE <= 0xffff, "buffer lengths fit 16 bits");

static const char *const ring_names[CONN_RINGS] = { "TX_ACTIVE", "TX_FREE", "RX_FREE",
                                                    "RX_ACTIVE" };

static uint64_t buf_bit(unsigned id)
{
    return UINT64_C(1) << id;
}

static uint64_t buf_offset(unsigned id)
{
    return (uint64_t)id * SERIAL_BUF_SIZE;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static void kick_backend(struct virtio_console *c)
{
    if (!c->notify_backend)
        return;
    c->notify_backend = false;
    hyp_notify(c->conn.channel);
}

/* A ring of the connection went corrupt: stop the connection, and say so once. */
static void check_ring(struct virtio_dev *d, unsigned ring)
{
    struct virtio_console *c = &d->u.console;
    if (c->conn_dead || !c->conn.ring[ring].corrupt)
        return;
    c->conn_dead = true;
    const struct ring_shm *s = c->conn.ring[ring].shm;
    LOG_ERR("virtio",
            VIRTIO_LABEL_FMT ": backend on channel %u: its %s ring is corrupt (head %u, tail %u, "
                             "capacity %u): connection stopped; console output is dropped from "
                             "now on and no more input comes",
            VIRTIO_LABEL(d), c->conn.channel, ring_names[ring], ring_load(&s->head),
            ring_load(&s->tail), c->conn.ring[ring].capacity);
}

static void bad_entry(struct virtio_dev *d, unsigned ring, const struct ring_entry *e,
                      const char *why)
{
    struct virtio_console *c = &d->u.console;
    c->bad_entries++;
    virtio_backend_warning(d,
                           "%s entry (id %u, offset 0x%llx, %u bytes) %s; dropped (%llu bad "
                           "entries so far)",
                           ring_names[ring], e->id, (unsigned long long)e->offset, e->len, why,
                           (unsigned long long)c->bad_entries);
}

/* ---- output -------------------------------------------------------------------------------- */

/* Queue the TX buffer being filled on TX_ACTIVE. */
static void tx_submit(struct virtio_dev *d)
{
    struct virtio_console *c = &d->u.console;
    if (c->tx_fill < 0)
        return;
    unsigned id = (unsigned)c->tx_fill;
    struct ring_entry e = { buf_offset(id), c->tx_fill_len, id };
    bool notify;
    c->tx_fill = -1;
    if (ring_push(&c->conn.ring[CONN_TX_ACTIVE], &e, &notify)) {
        c->tx_lent |= buf_bit(id);
        c->notify_backend |= notify;
        return;
    }
    c->tx_free |= buf_bit(id);
    c->tx_dropped += e.len;
    check_ring(d, CONN_TX_ACTIVE);
    if (!c->conn_dead) /* only the backend's tail can make it look full */
        virtio_backend_warning(d,
                               "TX_ACTIVE looks full with %u of %u buffers lent: %u bytes of "
                               "output dropped (%llu so far)",
                               (unsigned)__builtin_popcountll(c->tx_lent), c->tx_bufs, e.len,
                               (unsigned long long)c->tx_dropped);
}

/* Copy the pending chain's bytes, after those copied before, into TX buffers. 1: all of it;
 * 0: out of TX buffers (the rest waits for the backend); -1: the chain broke a rule. */
static int tx_copy_chain(struct virtio_dev *d)
{
    struct virtio_console *c = &d->u.console;
    struct virtq_chain ch;
    struct virtq_seg seg;
    uint64_t pos = 0; /* bytes of the chain before this descriptor */
    int r;
    virtq_chain_start(&ch, d, TXQ, c->tx_head, VIRTQ_DEVICE_READS);
    while ((r = virtq_chain_next(&ch, &seg)) > 0) {
        uint64_t skip = c->tx_done > pos ? c->tx_done - pos : 0;
        pos += seg.len;
        if (skip >= seg.len)
            continue;
        const uint8_t *src = seg.ptr + skip;
        uint32_t left = seg.len - (uint32_t)skip;
        while (left) {
            if (c->conn_dead) {
                c->tx_dropped += left;
                c->tx_done += left;
                break;
            }
            if (c->tx_fill < 0) {
                if (!c->tx_free)
                    return 0;
                c->tx_fill = __builtin_ctzll(c->tx_free);
                c->tx_free &= ~buf_bit((unsigned)c->tx_fill);
                c->tx_fill_len = 0;
            }
            uint32_t n = min_u32(left, SERIAL_BUF_SIZE - c->tx_fill_len);
            vmm_memcpy(c->conn.tx_data + buf_offset((unsigned)c->tx_fill) + c->tx_fill_len, src, n);
            c->tx_fill_len += n;
            c->tx_done += n;
            src += n;
            left -= n;
            if (c->tx_fill_len == SERIAL_BUF_SIZE)
                tx_submit(d);
        }
    }
    return r < 0 ? -1 : 1;
}

static void console_tx(struct virtio_dev *d)
{
    struct virtio_console *c = &d->u.console;
    const struct virtq *q = &d->vq[TXQ];
    if (!virtio_live(d) || !q->ready)
        return;
    /* At most a queue's worth of chains is outstanding: one pass takes them all. */
    for (unsigned budget = q->num; budget; budget--) {
        if (!c->tx_pending) {
            if (virtq_pop_avail(d, TXQ, &c->tx_head) <= 0)
                break;
            c->tx_pending = true;
            c->tx_done = 0;
        }
        if (tx_copy_chain(d) <= 0)
            break;
        virtq_push_used(d, TXQ, c->tx_head, 0);
        c->tx_pending = false;
    }
    tx_submit(d);
    virtq_signal(d, TXQ);
}

/* The backend returns a TX buffer. */
static void tx_reclaim(struct virtio_dev *d, const struct ring_entry *e)
{
    struct virtio_console *c = &d->u.console;
    if (e->id >= c->tx_bufs || !(c->tx_lent & buf_bit(e->id))) {
        bad_entry(d, CONN_TX_FREE, e, "is not a buffer the backend holds");
        return;
    }
    c->tx_lent &= ~buf_bit(e->id);
    c->tx_free |= buf_bit(e->id);
    if (e->offset != buf_offset(e->id) || e->len > SERIAL_BUF_SIZE ||
        !ring_entry_inside(e, c->conn.tx_size))
        bad_entry(d, CONN_TX_FREE, e, "does not match the buffer of that id (taken back)");
}

/* ---- input --------------------------------------------------------------------------------- */

/* Lend an empty RX buffer to the backend (on RX_FREE); kept idle for later if it cannot go. */
static void rx_lend(struct virtio_dev *d, unsigned id)
{
    struct virtio_console *c = &d->u.console;
    struct ring_entry e = { buf_offset(id), SERIAL_BUF_SIZE, id };
    bool notify;
    if (!c->conn_dead && ring_push(&c->conn.ring[CONN_RX_FREE], &e, &notify)) {
        c->rx_lent |= buf_bit(id);
        c->rx_idle &= ~buf_bit(id);
        c->notify_backend |= notify;
        return;
    }
    c->rx_idle |= buf_bit(id);
    check_ring(d, CONN_RX_FREE);
}

static void rx_lend_idle(struct virtio_dev *d)
{
    struct virtio_console *c = &d->u.console;
    uint64_t idle = c->rx_idle;
    while (idle && !c->conn_dead) {
        unsigned id = (unsigned)__builtin_ctzll(idle);
        idle &= idle - 1;
        rx_lend(d, id);
        if (c->rx_idle & buf_bit(id))
            break; /* RX_FREE takes no more now */
    }
}

/* The backend hands over a filled RX buffer. */
static void rx_take(struct virtio_dev *d, const struct ring_entry *e)
{
    struct virtio_console *c = &d->u.console;
    if (e->id >= c->rx_bufs || !(c->rx_lent & buf_bit(e->id))) {
        bad_entry(d, CONN_RX_ACTIVE, e, "is not a buffer the backend holds");
        return;
    }
    c->rx_lent &= ~buf_bit(e->id);
    if (e->offset != buf_offset(e->id) || e->len == 0 || e->len > SERIAL_BUF_SIZE ||
        !ring_entry_inside(e, c->conn.rx_size)) {
        bad_entry(d, CONN_RX_ACTIVE, e,
                  "does not match the buffer of that id, or holds no bytes (lent again)");
        rx_lend(d, e->id);
        return;
    }
    unsigned slot = (c->rx_held_first + c->rx_held_count) % VIRTIO_CONSOLE_MAX_BUFS;
    c->rx_held[slot] = (uint8_t)e->id;
    c->rx_len[e->id] = (uint16_t)e->len;
    c->rx_used[e->id] = 0;
    c->rx_held_count++;
}

/* The oldest held RX buffer is empty now: lend it again. */
static void rx_release_first(struct virtio_dev *d)
{
    struct virtio_console *c = &d->u.console;
    unsigned id = c->rx_held[c->rx_held_first];
    c->rx_held_first = (c->rx_held_first + 1) % VIRTIO_CONSOLE_MAX_BUFS;
    c->rx_held_count--;
    rx_lend(d, id);
}

/* Copy held input into the guest's receive buffers, in order. */
static void console_rx(struct virtio_dev *d)
{
    struct virtio_console *c = &d->u.console;
    const struct virtq *q = &d->vq[RXQ];
    if (!virtio_live(d) || !q->ready)
        return;
    for (unsigned budget = q->num; budget && c->rx_held_count; budget--) {
        uint16_t head;
        if (virtq_pop_avail(d, RXQ, &head) <= 0)
            break;
        struct virtq_chain ch;
        struct virtq_seg seg;
        uint32_t written = 0;
        int r = 0;
        virtq_chain_start(&ch, d, RXQ, head, VIRTQ_DEVICE_WRITES);
        while (c->rx_held_count && (r = virtq_chain_next(&ch, &seg)) > 0) {
            while (seg.len && c->rx_held_count) {
                unsigned id = c->rx_held[c->rx_held_first];
                uint32_t n = min_u32(seg.len, (uint32_t)c->rx_len[id] - c->rx_used[id]);
                vmm_memcpy(seg.ptr, c->conn.rx_data + buf_offset(id) + c->rx_used[id], n);
                seg.ptr += n;
                seg.len -= n;
                written += n;
                c->rx_used[id] = (uint16_t)(c->rx_used[id] + n);
                if (c->rx_used[id] == c->rx_len[id])
                    rx_release_first(d);
            }
        }
        if (r < 0)
            break; /* the device needs a reset now */
        virtq_push_used(d, RXQ, head, written);
    }
    virtq_signal(d, RXQ);
}

/* ---- the device ------------------------------------------------------------------------------ */

static void console_attach(struct virtio_dev *d)
{
    struct virtio_console *c = &d->u.console;
    conn_attach(&c->conn, &d->cfg->conn);
    uint64_t cap = min_u64(c->conn.ring[0].capacity, VIRTIO_CONSOLE_MAX_BUFS);
    c->tx_bufs = (unsigned)min_u64(c->conn.tx_size / SERIAL_BUF_SIZE, cap);
    c->rx_bufs = (unsigned)min_u64(c->conn.rx_size / SERIAL_BUF_SIZE, cap);
    c->tx_free = c->tx_bufs == 64 ? ~UINT64_C(0) : buf_bit(c->tx_bufs) - 1;
    c->tx_fill = -1;
    for (unsigned id = 0; id < c->rx_bufs; id++)
        rx_lend(d, id);
    kick_backend(c);
}

static void console_reset(struct virtio_dev *d)
{
    struct virtio_console *c = &d->u.console;
    c->tx_pending = false; /* the guest's chain is abandoned with its queue */
    c->tx_done = 0;
    /* Held input stays: the next driver gets it once its receiveq0 is set up. */
}

static void console_queue_stop(struct virtio_dev *d, unsigned q)
{
    if (q == TXQ)
        d->u.console.tx_pending = false;
}

static void console_queue_notify(struct virtio_dev *d, unsigned q)
{
    if (q == TXQ)
        console_tx(d);
    else
        console_rx(d);
    kick_backend(&d->u.console);
}

static void console_driver_ok(struct virtio_dev *d)
{
    console_rx(d);
    console_tx(d);
    kick_backend(&d->u.console);
}

static void console_backend(struct virtio_dev *d, bool guest_running)
{
    struct virtio_console *c = &d->u.console;
    struct ring *tx_free = &c->conn.ring[CONN_TX_FREE], *rx_active = &c->conn.ring[CONN_RX_ACTIVE];
    struct ring_entry e;
    /* A backend that keeps to the protocol hands back at most every buffer once while this
     * runs (none is lent meanwhile); the budget only stops one that does not. */
    unsigned budget = 2 * (c->tx_bufs + c->rx_bufs);
    while (!c->conn_dead) {
        while (budget && ring_pop(tx_free, &e)) {
            budget--;
            tx_reclaim(d, &e);
        }
        while (budget && ring_pop(rx_active, &e)) {
            budget--;
            rx_take(d, &e);
        }
        bool empty = ring_empty_before_wait(tx_free) && ring_empty_before_wait(rx_active);
        check_ring(d, CONN_TX_FREE);
        check_ring(d, CONN_RX_ACTIVE);
        if (c->conn_dead || empty)
            break;
        if (!budget) {
            virtio_backend_warning(d, "keeps queuing entries; the rest waits for its next "
                                      "notification");
            break;
        }
    }
    rx_lend_idle(d);
    if (guest_running) {
        console_tx(d); /* output waiting for TX buffers */
        console_rx(d);
    }
    kick_backend(c);
}

static uint32_t console_config_read(struct virtio_dev *d, uint32_t offset, unsigned width)
{
    (void)d, (void)offset, (void)width;
    return 0; /* no SIZE, no MULTIPORT: cols, rows and max_nr_ports are not in use */
}

static const char *console_conn_problem(const struct conn_config *c)
{
    if (!c->rx_data)
        return "a region of its backend connection is not mapped";
    if (c->tx_size < SERIAL_BUF_SIZE || c->rx_size < SERIAL_BUF_SIZE)
        return "a data region of its backend connection is smaller than one buffer";
    return NULL;
}

static const char *const console_queue_names[] = { "receiveq0", "transmitq0" };

const struct virtio_ops virtio_console_ops = {
    .type_name = "console",
    .device_id = VMM_VIRTIO_CONSOLE,
    .features = UINT64_C(1) << VIRTIO_F_VERSION_1,
    .conn_problem = console_conn_problem,
    .num_queues = 2,
    .queue_num_max = CONSOLE_QUEUE_SIZE,
    .queue_names = console_queue_names,
    .config_size = CONSOLE_CONFIG_SIZE,
    .config_read = console_config_read,
    .config_write = NULL,
    .queue_notify = console_queue_notify,
    .queue_stop = console_queue_stop,
    .driver_ok = console_driver_ok,
    .reset = console_reset,
    .attach = console_attach,
    .backend = console_backend,
};
