/*
 * The virtio console (virtio 1.2, 5.3; device ID 3): receiveq0 and transmitq0, no features
 * beyond VIRTIO_F_VERSION_1 (no MULTIPORT, SIZE or EMERG_WRITE; the configuration space reads
 * as zero). Its backend is the serial multiplexer, reached over a connection (proto/conn.h,
 * proto/serial.h) on which the VMM is the client.
 *
 * Buffers: each data region is cut into SERIAL_BUF_SIZE buffers, tracked by src/virtio/bufconn.c
 * (free, lent to the backend, held with input for the guest).
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
#include <vmm/util.h>

#include "virtio_internal.h"

enum { RXQ, TXQ };

#define CONSOLE_QUEUE_SIZE 128u
#define CONSOLE_CONFIG_SIZE 12u /* cols, rows, max_nr_ports, emerg_wr */

_Static_assert(CONSOLE_QUEUE_SIZE <= VIRTQ_MAX_SIZE, "console queue size within the maximum");
_Static_assert(SERIAL_BUF_SIZE <= 0xffff, "buffer lengths fit 16 bits");

static uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static const struct virtio_bufconn_kind console_bufs = {
    .buf_size = SERIAL_BUF_SIZE,
    .rx_min_len = 1,
    .rx_max_len = SERIAL_BUF_SIZE,
    .tx_free_len_checked = true,
    .peer = "backend",
    .rx_len_rule = "holds no bytes",
    .when_dead = "; console output is dropped from now on and no more input comes",
};

/* ---- output -------------------------------------------------------------------------------- */

/* Queue the TX buffer being filled on TX_ACTIVE. */
static void tx_submit(struct virtio_dev *d)
{
    struct virtio_console *c = &d->u.console;
    struct virtio_bufconn *b = &c->bc;
    if (c->tx_fill < 0)
        return;
    unsigned id = (unsigned)c->tx_fill;
    uint32_t len = c->tx_fill_len;
    c->tx_fill = -1;
    if (bufconn_tx_queue(d, b, id, len))
        return;
    b->tx_free |= UINT64_C(1) << id;
    c->tx_dropped += len;
    if (!b->conn_dead) /* only the backend's tail can make it look full */
        virtio_backend_warning(d,
                               "TX_ACTIVE looks full with %u of %u buffers lent: %u bytes of "
                               "output dropped (%llu so far)",
                               (unsigned)__builtin_popcountll(b->tx_lent), b->tx_bufs, len,
                               (unsigned long long)c->tx_dropped);
}

/* Copy the pending chain's bytes, after those copied before, into TX buffers. 1: all of it;
 * 0: out of TX buffers (the rest waits for the backend); -1: the chain broke a rule. */
static int tx_copy_chain(struct virtio_dev *d)
{
    struct virtio_console *c = &d->u.console;
    struct virtio_bufconn *b = &c->bc;
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
            if (b->conn_dead) {
                c->tx_dropped += left;
                c->tx_done += left;
                break;
            }
            if (c->tx_fill < 0) {
                if (!b->tx_free)
                    return 0;
                c->tx_fill = __builtin_ctzll(b->tx_free);
                b->tx_free &= ~(UINT64_C(1) << c->tx_fill);
                c->tx_fill_len = 0;
            }
            uint32_t n = min_u32(left, SERIAL_BUF_SIZE - c->tx_fill_len);
            vmm_memcpy(b->conn.tx_data + bufconn_offset(b, (unsigned)c->tx_fill) + c->tx_fill_len,
                       src, n);
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

/* ---- input --------------------------------------------------------------------------------- */

/* Copy held input into the guest's receive buffers, in order. */
static void console_rx(struct virtio_dev *d)
{
    struct virtio_console *c = &d->u.console;
    struct virtio_bufconn *b = &c->bc;
    const struct virtq *q = &d->vq[RXQ];
    if (!virtio_live(d) || !q->ready)
        return;
    for (unsigned budget = q->num; budget && b->rx_held_count; budget--) {
        uint16_t head;
        if (virtq_pop_avail(d, RXQ, &head) <= 0)
            break;
        struct virtq_chain ch;
        struct virtq_seg seg;
        uint32_t written = 0;
        int r = 0;
        virtq_chain_start(&ch, d, RXQ, head, VIRTQ_DEVICE_WRITES);
        while (b->rx_held_count && (r = virtq_chain_next(&ch, &seg)) > 0) {
            while (seg.len && b->rx_held_count) {
                unsigned id = b->rx_held[b->rx_held_first];
                uint32_t n = min_u32(seg.len, (uint32_t)b->rx_len[id] - c->rx_first_used);
                vmm_memcpy(seg.ptr, b->conn.rx_data + bufconn_offset(b, id) + c->rx_first_used, n);
                seg.ptr += n;
                seg.len -= n;
                written += n;
                c->rx_first_used = (uint16_t)(c->rx_first_used + n);
                if (c->rx_first_used == b->rx_len[id]) {
                    c->rx_first_used = 0; /* for the next held buffer */
                    bufconn_rx_release_first(d, b);
                }
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
    d->u.console.tx_fill = -1;
    bufconn_attach(d, &d->u.console.bc, &console_bufs);
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
    bufconn_kick(&d->u.console.bc);
}

static void console_driver_ok(struct virtio_dev *d)
{
    console_rx(d);
    console_tx(d);
    bufconn_kick(&d->u.console.bc);
}

static void console_backend(struct virtio_dev *d, bool guest_running)
{
    struct virtio_bufconn *b = &d->u.console.bc;
    bufconn_take_entries(d, b);
    bufconn_lend_idle(d, b);
    if (guest_running) {
        console_tx(d); /* output waiting for TX buffers */
        console_rx(d);
    }
    bufconn_kick(b);
}

static uint32_t console_config_read(struct virtio_dev *d, uint32_t offset, unsigned width)
{
    (void)d, (void)offset, (void)width;
    return 0; /* no SIZE, no MULTIPORT: cols, rows and max_nr_ports are not in use */
}

static const char *console_conn_problem(const struct conn_config *c)
{
    return bufconn_conn_problem(c, SERIAL_BUF_SIZE);
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
