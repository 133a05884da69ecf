/*
 * A virtio device's side of a backend connection whose data regions are cut into fixed-size
 * buffers (the console's and the network device's; struct virtio_bufconn). Each data region
 * holds as many buffers as it, the ring capacity and VIRTIO_BUFCONN_MAX_BUFS allow; a buffer's
 * index is also its id in ring entries. A TX buffer is free (the VMM may fill it) or lent (on
 * TX_ACTIVE or at the backend); an RX buffer is lent (on RX_FREE or at the backend), held (filled,
 * waiting for the guest, in the rx_held ring) or idle (empty, waiting for room on RX_FREE).
 *
 * Trust: an entry from the backend must name a buffer it holds, at that buffer's offset, with a
 * length the device accepts (for TX_FREE only if the device looks at it), inside the data
 * region. A bad entry is dropped, counted and reported; if it names a buffer the backend holds,
 * that buffer comes back to the VMM (an RX one is lent again). A corrupt ring stops the
 * connection, reported once.
 */
#include <vmm/hyp.h>
#include <vmm/log.h>

#include "virtio_internal.h"

_Static_assert(VIRTIO_BUFCONN_MAX_BUFS <= 64, "buffer sets are 64-bit masks");

static const char *const ring_names[CONN_RINGS] = { "TX_ACTIVE", "TX_FREE", "RX_FREE",
                                                    "RX_ACTIVE" };

static uint64_t buf_bit(unsigned id)
{
    return UINT64_C(1) << id;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

uint64_t bufconn_offset(const struct virtio_bufconn *b, unsigned id)
{
    return (uint64_t)id * b->kind->buf_size;
}

void bufconn_kick(struct virtio_bufconn *b)
{
    if (!b->notify_backend)
        return;
    b->notify_backend = false;
    hyp_notify(b->conn.channel);
}

/* If `ring` went corrupt: stop the connection, and say so once. */
static void check_ring(struct virtio_dev *d, struct virtio_bufconn *b, unsigned ring)
{
    if (b->conn_dead || !b->conn.ring[ring].corrupt)
        return;
    b->conn_dead = true;
    const struct ring_shm *s = b->conn.ring[ring].shm;
    LOG_ERR("virtio",
            VIRTIO_LABEL_FMT ": %s on channel %u: its %s ring is corrupt (head %u, tail %u, "
                             "capacity %u): connection stopped%s",
            VIRTIO_LABEL(d), b->kind->peer, b->conn.channel, ring_names[ring], ring_load(&s->head),
            ring_load(&s->tail), b->conn.ring[ring].capacity, b->kind->when_dead);
    if (b->kind->stopped)
        b->kind->stopped(d);
}

/* A bad entry from the backend: counted and reported; `why` is the three strings in a row (the
 * middle one names the peer or the device's length rule). */
static void bad_entry(struct virtio_dev *d, struct virtio_bufconn *b, unsigned ring,
                      const struct ring_entry *e, const char *why0, const char *why1,
                      const char *why2)
{
    b->bad_entries++;
    virtio_backend_warning(d,
                           "%s entry (id %u, offset 0x%llx, %u bytes) %s%s%s; dropped (%llu bad "
                           "entries so far)",
                           ring_names[ring], e->id, (unsigned long long)e->offset, e->len, why0,
                           why1, why2, (unsigned long long)b->bad_entries);
}

bool bufconn_tx_queue(struct virtio_dev *d, struct virtio_bufconn *b, unsigned id, uint32_t len)
{
    struct ring_entry e = { bufconn_offset(b, id), len, id };
    bool notify;
    if (!ring_push(&b->conn.ring[CONN_TX_ACTIVE], &e, &notify)) {
        check_ring(d, b, CONN_TX_ACTIVE);
        return false;
    }
    b->tx_free &= ~buf_bit(id);
    b->tx_lent |= buf_bit(id);
    b->notify_backend |= notify;
    return true;
}

/* The backend returns a TX buffer. */
static void tx_reclaim(struct virtio_dev *d, struct virtio_bufconn *b, const struct ring_entry *e)
{
    if (e->id >= b->tx_bufs || !(b->tx_lent & buf_bit(e->id))) {
        bad_entry(d, b, CONN_TX_FREE, e, "is not a buffer the ", b->kind->peer, " holds");
        return;
    }
    b->tx_lent &= ~buf_bit(e->id);
    b->tx_free |= buf_bit(e->id);
    bool bad = e->offset != bufconn_offset(b, e->id);
    if (b->kind->tx_free_len_checked)
        bad = bad || e->len > b->kind->buf_size || !ring_entry_inside(e, b->conn.tx_size);
    if (bad)
        bad_entry(d, b, CONN_TX_FREE, e, "does not match the buffer of that id (taken back)", "",
                  "");
}

/* Lend an empty RX buffer to the backend (on RX_FREE); kept idle for later if it cannot go. */
static void rx_lend(struct virtio_dev *d, struct virtio_bufconn *b, unsigned id)
{
    struct ring_entry e = { bufconn_offset(b, id), b->kind->buf_size, id };
    bool notify;
    if (!b->conn_dead && ring_push(&b->conn.ring[CONN_RX_FREE], &e, &notify)) {
        b->rx_lent |= buf_bit(id);
        b->rx_idle &= ~buf_bit(id);
        b->notify_backend |= notify;
        return;
    }
    b->rx_idle |= buf_bit(id);
    check_ring(d, b, CONN_RX_FREE);
}

void bufconn_lend_idle(struct virtio_dev *d, struct virtio_bufconn *b)
{
    uint64_t idle = b->rx_idle;
    while (idle && !b->conn_dead) {
        unsigned id = (unsigned)__builtin_ctzll(idle);
        idle &= idle - 1;
        rx_lend(d, b, id);
        if (b->rx_idle & buf_bit(id))
            break; /* RX_FREE takes no more now */
    }
}

/* The backend hands over a filled RX buffer: held for the guest, in order. */
static void rx_take(struct virtio_dev *d, struct virtio_bufconn *b, const struct ring_entry *e)
{
    const struct virtio_bufconn_kind *k = b->kind;
    if (e->id >= b->rx_bufs || !(b->rx_lent & buf_bit(e->id))) {
        bad_entry(d, b, CONN_RX_ACTIVE, e, "is not a buffer the ", k->peer, " holds");
        return;
    }
    b->rx_lent &= ~buf_bit(e->id);
    if (e->offset != bufconn_offset(b, e->id) || e->len < k->rx_min_len || e->len > k->rx_max_len ||
        !ring_entry_inside(e, b->conn.rx_size)) {
        bad_entry(d, b, CONN_RX_ACTIVE, e, "does not match the buffer of that id, or ",
                  k->rx_len_rule, " (lent again)");
        rx_lend(d, b, e->id);
        return;
    }
    if (k->rx_unwanted && k->rx_unwanted(d)) {
        rx_lend(d, b, e->id);
        return;
    }
    unsigned slot = (b->rx_held_first + b->rx_held_count) % VIRTIO_BUFCONN_MAX_BUFS;
    b->rx_held[slot] = (uint8_t)e->id;
    b->rx_len[e->id] = (uint16_t)e->len;
    b->rx_held_count++;
}

void bufconn_rx_release_first(struct virtio_dev *d, struct virtio_bufconn *b)
{
    unsigned id = b->rx_held[b->rx_held_first];
    b->rx_held_first = (b->rx_held_first + 1) % VIRTIO_BUFCONN_MAX_BUFS;
    b->rx_held_count--;
    rx_lend(d, b, id);
}

void bufconn_take_entries(struct virtio_dev *d, struct virtio_bufconn *b)
{
    struct ring *tx_free = &b->conn.ring[CONN_TX_FREE], *rx_active = &b->conn.ring[CONN_RX_ACTIVE];
    struct ring_entry e;
    /* A backend that keeps to the protocol hands back at most every buffer once while this
     * runs (none is lent meanwhile); the budget only stops one that does not. */
    unsigned budget = 2 * (b->tx_bufs + b->rx_bufs);
    while (!b->conn_dead) {
        while (budget && ring_pop(tx_free, &e)) {
            budget--;
            tx_reclaim(d, b, &e);
        }
        while (budget && ring_pop(rx_active, &e)) {
            budget--;
            rx_take(d, b, &e);
        }
        bool empty = ring_empty_before_wait(tx_free) && ring_empty_before_wait(rx_active);
        check_ring(d, b, CONN_TX_FREE);
        check_ring(d, b, CONN_RX_ACTIVE);
        if (b->conn_dead || empty)
            break;
        if (!budget) {
            virtio_backend_warning(d, "keeps queuing entries; the rest waits for its next "
                                      "notification");
            break;
        }
    }
}

void bufconn_attach(struct virtio_dev *d, struct virtio_bufconn *b,
                    const struct virtio_bufconn_kind *kind)
{
    b->kind = kind;
    conn_attach(&b->conn, &d->cfg->conn);
    uint64_t cap = min_u64(b->conn.ring[0].capacity, VIRTIO_BUFCONN_MAX_BUFS);
    b->tx_bufs = (unsigned)min_u64(b->conn.tx_size / kind->buf_size, cap);
    b->rx_bufs = (unsigned)min_u64(b->conn.rx_size / kind->buf_size, cap);
    b->tx_free = b->tx_bufs == 64 ? ~UINT64_C(0) : buf_bit(b->tx_bufs) - 1;
    for (unsigned id = 0; id < b->rx_bufs; id++)
        rx_lend(d, b, id);
    bufconn_kick(b);
}

const char *bufconn_conn_problem(const struct conn_config *c, uint32_t buf_size)
{
    if (!c->rx_data)
        return "a region of its backend connection is not mapped";
    if (c->tx_size < buf_size || c->rx_size < buf_size)
        return "a data region of its backend connection is smaller than one buffer";
    return NULL;
}
