/*
 * The virtio block device (virtio 1.2, 5.2; device ID 2): one request queue, features
 * VERSION_1, INDIRECT_DESC, SIZE_MAX, SEG_MAX, BLK_SIZE, FLUSH, and RO when the declaration or
 * the block server says read-only. With indirect descriptors a request of up to 256 pages (1 MiB)
 * takes one entry of the queue, so Linux keeps many at once. Its backend is the block server
 * (components/blk_server), reached over a connection (proto/conn.h, proto/blk.h) on which the VMM
 * is the client.
 *
 * A request is checked whole before anything is sent: the chain (the transport checks each
 * descriptor: inside guest RAM, readable before writable, no loops), then the 16-byte header
 * (in the readable bytes, whatever descriptors hold it), the status byte (the last writable
 * byte: a chain without one cannot be answered and puts the device in DEVICE_NEEDS_RESET), the
 * data (a multiple of 512 bytes, in the direction the type says, at most SEG_MAX descriptors of
 * at most SIZE_MAX bytes), the sectors (inside the capacity, no wrap-around) and the type
 * (a write to a read-only disk fails). A bad one is answered IOERR (UNSUPP for an unknown
 * type) and never reaches the server; the server checks everything again, against the range
 * it gives this VM.
 * When the server offers direct requests over a window that is all of guest RAM, a read or
 * write goes as a table of guest RAM segments (gathered in the walk that parses the chain) and
 * the server's device moves the data by DMA; otherwise, and for a request with more segments
 * than the server takes, the data is copied between guest RAM and pages of the connection's
 * data region (OUT before the request goes, IN when it comes back). Until a direct request is
 * answered its buffers may still change, so resets of the device and of the guest wait for it
 * (mmio.c, reset.c). Several requests are at the server at once, each in a slot of its own. A
 * completion is matched to its slot by id and offset; one from before a reset (of the device, a
 * queue, or the guest) is dropped, and its slot and pages are free again. What the server sends
 * that no request explains is counted and reported. The capacity is the server's (blk_info); it is
 * 0 until the server is ready, and then the guest gets a configuration-change interrupt.
 */
#include <proto/blk.h>
#include <vmm/hyp.h>
#include <vmm/log.h>
#include <vmm/util.h>

#include "virtio_internal.h"

#define BLK_QUEUE_SIZE 512u
#define BLK_SEG_MAX 256u    /* data descriptors per request: 1 MiB of 4 KiB pages */
#define BLK_SIZE_MAX 4096u  /* bytes per data descriptor */
#define BLK_CONFIG_SIZE 36u /* up to num_queues */
#define BLK_HDR_SLOT 32u    /* bytes of page 0 per request header */

/* Request types and status (5.2.6) */
#define T_IN 0u
#define T_OUT 1u
#define T_FLUSH 4u
#define T_GET_ID 8u
#define S_OK 0u
#define S_IOERR 1u
#define S_UNSUPP 2u

/* Feature bits (5.2.3) */
#define F_SIZE_MAX 1
#define F_SEG_MAX 2
#define F_RO 5
#define F_BLK_SIZE 6
#define F_FLUSH 9

#define BASE_FEATURES                                                                   \
    (UINT64_C(1) << VIRTIO_F_VERSION_1 | UINT64_C(1) << VIRTIO_F_INDIRECT_DESC |        \
     UINT64_C(1) << F_SIZE_MAX | UINT64_C(1) << F_SEG_MAX | UINT64_C(1) << F_BLK_SIZE | \
     UINT64_C(1) << F_FLUSH)

_Static_assert(BLK_QUEUE_SIZE <= VIRTQ_MAX_SIZE, "queue size within the maximum");
_Static_assert(VIRTIO_BLK_MAX_REQS <= 64, "request slots are a 64-bit mask");
_Static_assert(VIRTIO_BLK_MAX_REQS *BLK_HDR_SLOT <= VIRTIO_BLK_PAGE, "headers fit page 0");
_Static_assert(sizeof(struct blk_request) <= BLK_HDR_SLOT, "a header fits its slot");
_Static_assert(BLK_DIRECT_MAX_SEGS * sizeof(struct blk_seg) <= VIRTIO_BLK_PAGE,
               "a segment table fits a page");

static const char *const ring_names[CONN_RINGS] = { "TX_ACTIVE", "TX_FREE", "RX_FREE",
                                                    "RX_ACTIVE" };

static bool read_only(const struct virtio_dev *d)
{
    return d->cfg->u.blk.read_only || d->u.blk.server_ro;
}

static uint64_t blk_offered(const struct virtio_dev *d)
{
    return BASE_FEATURES | (read_only(d) ? UINT64_C(1) << F_RO : 0);
}

static void kick_backend(struct virtio_blk *b)
{
    if (!b->notify_backend)
        return;
    b->notify_backend = false;
    hyp_notify(b->conn.channel);
}

/* ---- data pages ------------------------------------------------------------------------------ */

static bool page_is_used(const struct virtio_blk *b, uint32_t p)
{
    return (b->page_used[p / 64] >> (p % 64)) & 1;
}

static void pages_mark(struct virtio_blk *b, uint32_t first, uint32_t n, bool used)
{
    for (uint32_t p = first; p < first + n; p++) {
        if (used)
            b->page_used[p / 64] |= UINT64_C(1) << (p % 64);
        else
            b->page_used[p / 64] &= ~(UINT64_C(1) << (p % 64));
    }
}

/* The first run of n free pages (page 0 holds the headers); false if there is none now. */
static bool pages_alloc(struct virtio_blk *b, uint32_t n, uint32_t *first)
{
    uint32_t run = 0;
    for (uint32_t p = 1; p < b->pages; p++) {
        if (!(p % 64) && b->page_used[p / 64] == ~UINT64_C(0)) {
            run = 0;
            p += 63;
            continue;
        }
        run = page_is_used(b, p) ? 0 : run + 1;
        if (run == n) {
            *first = p + 1 - n;
            pages_mark(b, *first, n, true);
            return true;
        }
    }
    return false;
}

static uint64_t hdr_offset(unsigned slot)
{
    return (uint64_t)slot * BLK_HDR_SLOT;
}

static uint64_t page_offset(uint32_t page)
{
    return (uint64_t)page * VIRTIO_BLK_PAGE;
}

/* ---- parsing a request ----------------------------------------------------------------------- */

struct blk_parse {
    uint8_t hdr[16];
    uint32_t hdr_got;    /* header bytes found */
    uint64_t readable;   /* bytes after the header */
    uint64_t writable;   /* bytes, the status byte included */
    unsigned data_descs; /* descriptors holding data bytes */
    bool seg_too_big;    /* one of them holds more than SIZE_MAX data bytes */
    uint8_t *status;     /* the last writable byte */
    uint32_t type;
    uint64_t sector;
    /* The data bytes as segments of guest RAM (offsets from its start), adjacent ones merged,
     * when the server takes direct requests; more than it takes: the request is copied. */
    struct blk_seg *segs;
    unsigned nsegs;
    bool segs_overflow;
};

/* Where parse() puts a request's segments (one request is parsed at a time), and one more:
 * the status byte may take a segment of its own until it comes off. */
static struct blk_seg seg_scratch[BLK_DIRECT_MAX_SEGS + 1];

/* Adds `len` data bytes at `ptr` in guest RAM to the request's segments. */
static void add_segment(const struct virtio_dev *d, struct blk_parse *p, const uint8_t *ptr,
                        uint32_t len)
{
    if (!p->segs || p->segs_overflow || !len)
        return;
    uint64_t at = (uint64_t)(ptr - d->mem.ram);
    struct blk_seg *last = p->nsegs ? &p->segs[p->nsegs - 1] : NULL;
    if (last && last->offset + last->len == at && (uint64_t)last->len + len <= UINT32_MAX) {
        last->len += len;
        return;
    }
    if (p->nsegs == d->u.blk.direct_segs + 1) {
        p->segs_overflow = true;
        return;
    }
    p->segs[p->nsegs++] = (struct blk_seg){ at, len, 0 };
}

/* Walks the chain once: 1 parsed, -1 the guest broke a rule of the transport (reported). */
static int parse(struct virtio_dev *d, uint16_t head, struct blk_parse *p)
{
    struct virtq_chain ch;
    struct virtq_seg seg;
    uint32_t last_w = 0; /* the last writable descriptor so far (0: none): data unless last */
    int r;
    vmm_memset(p, 0, sizeof(*p));
    p->segs = d->u.blk.direct_segs ? seg_scratch : NULL;
    virtq_chain_start(&ch, d, 0, head, VIRTQ_MIXED);
    while ((r = virtq_chain_next(&ch, &seg)) > 0) {
        if (!seg.len)
            continue; /* holds nothing */
        if (seg.writable) {
            if (last_w) { /* the one before was not the last: all data */
                p->data_descs++;
                p->seg_too_big |= last_w > BLK_SIZE_MAX;
            }
            last_w = seg.len;
            p->writable += seg.len;
            p->status = seg.ptr + seg.len - 1;
            add_segment(d, p, seg.ptr, seg.len); /* the status byte comes off at the end */
        } else {
            uint32_t take = 16 - p->hdr_got < seg.len ? 16 - p->hdr_got : seg.len;
            vmm_memcpy(p->hdr + p->hdr_got, seg.ptr, take);
            p->hdr_got += take;
            p->readable += seg.len - take;
            if (seg.len > take) {
                p->data_descs++;
                p->seg_too_big |= seg.len - take > BLK_SIZE_MAX;
                add_segment(d, p, seg.ptr + take, seg.len - take);
            }
        }
    }
    if (r < 0)
        return -1;
    if (last_w > 1) { /* data before the status byte in the last one */
        p->data_descs++;
        p->seg_too_big |= last_w - 1 > BLK_SIZE_MAX;
    }
    if (p->nsegs && !p->segs_overflow && p->status) { /* the status byte is no data */
        struct blk_seg *last = &p->segs[p->nsegs - 1];
        if (!--last->len)
            p->nsegs--;
    }
    p->segs_overflow |= p->nsegs > d->u.blk.direct_segs;
    p->type = read_le32(p->hdr);
    p->sector = read_le64(p->hdr + 8);
    return 1;
}

/* Copies `len` bytes between the chain's data bytes (after the header, before the status byte)
 * and `buf`: into guest RAM (`to_guest`) or out of it. False if the chain broke a rule or no
 * longer holds that many bytes in that direction (the guest changed it: reported). */
static bool copy_data(struct virtio_dev *d, uint16_t head, uint8_t *buf, uint64_t len,
                      bool to_guest)
{
    struct virtq_chain ch;
    struct virtq_seg seg;
    uint64_t skip = to_guest ? 0 : 16, done = 0;
    int r;
    virtq_chain_start(&ch, d, 0, head, VIRTQ_MIXED);
    while (done < len && (r = virtq_chain_next(&ch, &seg)) > 0) {
        if (seg.writable != to_guest)
            continue;
        uint64_t s = skip < seg.len ? skip : seg.len;
        skip -= s;
        uint64_t n = seg.len - s < len - done ? seg.len - s : len - done;
        if (to_guest)
            vmm_memcpy(seg.ptr + s, buf + done, n);
        else
            vmm_memcpy(buf + done, seg.ptr + s, n);
        done += n;
    }
    if (done == len)
        return true;
    if (!d->needs_reset)
        virtio_guest_error(d, "requestq",
                           "chain from descriptor %u changed while its request was at the block "
                           "server (%llu of %llu data bytes found)",
                           head, (unsigned long long)done, (unsigned long long)len);
    return false;
}

/* ---- answering the guest --------------------------------------------------------------------- */

static void answer(struct virtio_dev *d, uint16_t head, uint8_t *status, uint8_t value,
                   uint32_t written)
{
    *status = value;
    virtq_push_used(d, 0, head, written);
}

static void refuse(struct virtio_dev *d, uint16_t head, const struct blk_parse *p, uint8_t value,
                   const char *why)
{
    struct virtio_blk *b = &d->u.blk;
    b->refused_reqs++;
    if (log_limit_pass(&d->log_guest, LOG_WARN, "virtio", "reports of virtio-blk requests refused"))
        LOG_WARNING("virtio",
                    VIRTIO_LABEL_FMT ": requestq: request from descriptor %u (type %u, sector "
                                     "%llu, %llu data bytes): %s; answered %s",
                    VIRTIO_LABEL(d), head, p->type, (unsigned long long)p->sector,
                    (unsigned long long)(p->type == T_OUT ? p->readable : p->writable - 1), why,
                    value == S_UNSUPP ? "UNSUPP" : "IOERR");
    answer(d, head, p->status, value, 1);
}

/* ---- the backend connection ------------------------------------------------------------------ */

static void check_ring(struct virtio_dev *d, unsigned ring)
{
    struct virtio_blk *b = &d->u.blk;
    if (b->conn_dead || !b->conn.ring[ring].corrupt)
        return;
    b->conn_dead = true;
    const struct ring_shm *s = b->conn.ring[ring].shm;
    LOG_ERR("virtio",
            VIRTIO_LABEL_FMT ": block server on channel %u: its %s ring is corrupt (head %u, "
                             "tail %u, capacity %u): connection stopped; every request fails "
                             "from now on",
            VIRTIO_LABEL(d), b->conn.channel, ring_names[ring], ring_load(&s->head),
            ring_load(&s->tail), b->conn.ring[ring].capacity);
}

static void slot_free(struct virtio_blk *b, unsigned slot)
{
    struct virtio_blk_req *q = &b->req[slot];
    if (q->pages)
        pages_mark(b, q->first_page, q->pages, false);
    q->pages = 0;
    if (q->direct)
        b->dma_pending--;
    q->direct = false;
    b->req_free |= UINT64_C(1) << slot;
}

/* Takes a slot for the chain at `head`, with `pages` data pages from `first`. */
static unsigned slot_take(struct virtio_blk *b, uint16_t head, const struct blk_parse *p,
                          uint64_t len, uint32_t first, uint32_t pages)
{
    unsigned slot = (unsigned)__builtin_ctzll(b->req_free);
    struct virtio_blk_req *q = &b->req[slot];
    q->epoch = b->epoch;
    q->head = head;
    q->type = (uint8_t)p->type;
    q->first_page = first;
    q->pages = pages;
    q->len = (uint32_t)len;
    q->status = p->status;
    q->direct = false;
    b->req_free &= ~(UINT64_C(1) << slot);
    return slot;
}

/* Queues the request header of `slot` to the server: 1, or -1 if its ring takes none. */
static int queue_request(struct virtio_dev *d, uint16_t head, const struct blk_parse *p,
                         unsigned slot, const struct blk_request *r)
{
    struct virtio_blk *b = &d->u.blk;
    vmm_memcpy(b->conn.tx_data + hdr_offset(slot), r, sizeof(*r));
    struct ring_entry e = { hdr_offset(slot), sizeof(*r), slot };
    bool notify;
    if (!ring_push(&b->conn.ring[CONN_TX_ACTIVE], &e, &notify)) {
        slot_free(b, slot);
        check_ring(d, CONN_TX_ACTIVE);
        refuse(d, head, p, S_IOERR, "the block server's ring takes no request");
        return -1;
    }
    b->notify_backend |= notify;
    return 1;
}

/* Sends a checked read or write as a direct request: 1 sent, 0 no slot or page now (the chain
 * waits), -1 answered, 2 it has more segments than the server takes (to be copied instead). */
static int send_direct(struct virtio_dev *d, uint16_t head, const struct blk_parse *p, uint64_t len)
{
    struct virtio_blk *b = &d->u.blk;
    uint32_t first;
    if (p->segs_overflow || !p->nsegs)
        return 2;
    if (!b->req_free || !ring_has_room(&b->conn.ring[CONN_TX_ACTIVE], 1))
        return 0;
    if (!pages_alloc(b, 1, &first))
        return 0;
    unsigned slot = slot_take(b, head, p, len, first, 1);
    unsigned n = p->nsegs;
    vmm_memcpy(b->conn.tx_data + page_offset(first), p->segs, n * sizeof(struct blk_seg));
    b->req[slot].direct = true;
    b->dma_pending++;
    struct blk_request r = { p->type == T_IN ? BLK_OP_READ_DIRECT : BLK_OP_WRITE_DIRECT,
                             (uint32_t)(len / BLK_SECTOR_SIZE),
                             p->sector,
                             page_offset(first),
                             n,
                             0 };
    int sent = queue_request(d, head, p, slot, &r);
    b->direct_reqs += sent > 0;
    return sent;
}

/* Sends a checked request: 1 sent, 0 no slot or pages now (the chain waits), -1 answered. */
static int send(struct virtio_dev *d, uint16_t head, const struct blk_parse *p, uint64_t len)
{
    struct virtio_blk *b = &d->u.blk;
    if (b->direct_segs && (p->type == T_IN || p->type == T_OUT)) {
        int r = send_direct(d, head, p, len);
        if (r != 2)
            return r;
    }
    uint32_t pages = (uint32_t)((len + VIRTIO_BLK_PAGE - 1) / VIRTIO_BLK_PAGE), first = 0;
    if (pages >= b->pages) {
        refuse(d, head, p, S_IOERR, "more data than the connection's data region holds");
        return -1;
    }
    if (!b->req_free || !ring_has_room(&b->conn.ring[CONN_TX_ACTIVE], 1))
        return 0;
    if (pages && !pages_alloc(b, pages, &first))
        return 0;
    unsigned slot = slot_take(b, head, p, len, first, pages);
    if (p->type == T_OUT && !copy_data(d, head, b->conn.tx_data + page_offset(first), len, false)) {
        slot_free(b, slot);
        return -1; /* the device needs a reset now */
    }
    static const uint32_t op[] = { [T_IN] = BLK_OP_READ,
                                   [T_OUT] = BLK_OP_WRITE,
                                   [T_FLUSH] = BLK_OP_FLUSH,
                                   [T_GET_ID] = BLK_OP_GET_ID };
    struct blk_request r = { op[p->type], (uint32_t)(len / BLK_SECTOR_SIZE),
                             p->sector,   page_offset(first),
                             0,           0 };
    int sent = queue_request(d, head, p, slot, &r);
    b->copied_reqs += sent > 0 && (p->type == T_IN || p->type == T_OUT);
    return sent;
}

/* One request from `head`: 1 done with (sent or answered), 0 waits for room, -1 the device
 * needs a reset. */
static int request(struct virtio_dev *d, uint16_t head)
{
    struct virtio_blk *b = &d->u.blk;
    struct blk_parse p;
    if (parse(d, head, &p) < 0)
        return -1;
    if (!p.status) {
        virtio_guest_error(d, "requestq",
                           "request from descriptor %u has no device-writable status byte", head);
        return -1;
    }
    if (p.hdr_got < 16) {
        refuse(d, head, &p, S_IOERR, "its header is shorter than 16 bytes");
        return 1;
    }
    uint64_t in = p.writable - 1, out = p.readable, len;
    switch (p.type) {
    case T_IN:
    case T_OUT:
        len = p.type == T_IN ? in : out;
        if ((p.type == T_IN ? out : in) != 0) {
            refuse(d, head, &p, S_IOERR, "data in the direction its type does not move");
            return 1;
        }
        if (len == 0 || len % BLK_SECTOR_SIZE) {
            refuse(d, head, &p, S_IOERR, "its data is not a non-zero multiple of 512 bytes");
            return 1;
        }
        if (p.data_descs > BLK_SEG_MAX || p.seg_too_big) {
            refuse(d, head, &p, S_IOERR,
                   "more data descriptors than SEG_MAX, or one beyond "
                   "SIZE_MAX");
            return 1;
        }
        if (!b->ready || p.sector >= b->capacity ||
            len / BLK_SECTOR_SIZE > b->capacity - p.sector) {
            refuse(d, head, &p, S_IOERR, "sectors beyond the disk's capacity");
            return 1;
        }
        if (len / BLK_SECTOR_SIZE > b->max_sectors) {
            refuse(d, head, &p, S_IOERR, "more sectors than the block server takes at once");
            return 1;
        }
        if (p.type == T_OUT && read_only(d)) {
            refuse(d, head, &p, S_IOERR, "a write to a read-only disk");
            return 1;
        }
        break;
    case T_FLUSH:
        len = 0;
        if (in || out) {
            refuse(d, head, &p, S_IOERR, "a flush with data");
            return 1;
        }
        break;
    case T_GET_ID:
        len = BLK_ID_BYTES;
        if (out || in < BLK_ID_BYTES) {
            refuse(d, head, &p, S_IOERR, "GET_ID without a 20-byte device-writable buffer");
            return 1;
        }
        break;
    default: refuse(d, head, &p, S_UNSUPP, "a type the device does not have"); return 1;
    }
    if (b->conn_dead || !b->ready) {
        refuse(d, head, &p, S_IOERR,
               b->conn_dead ? "the block server's connection is stopped" : "no disk yet");
        return 1;
    }
    int r = send(d, head, &p, len);
    return r == 0 ? 0 : r < 0 && d->needs_reset ? -1 : 1;
}

/* Takes the guest's requests while there is room at the server. */
static void blk_requests(struct virtio_dev *d)
{
    struct virtio_blk *b = &d->u.blk;
    const struct virtq *q = &d->vq[0];
    if (!virtio_live(d) || !q->ready)
        return;
    for (unsigned budget = q->num; budget; budget--) {
        uint16_t head;
        if (b->held) {
            head = b->held_head;
        } else if (virtq_pop_avail(d, 0, &head) <= 0) {
            break;
        }
        int r = request(d, head);
        b->held = r == 0;
        b->held_head = head;
        if (r <= 0)
            break;
    }
    virtq_signal(d, 0);
}

/* The block server answered request `e->id`. */
static void complete(struct virtio_dev *d, const struct ring_entry *e, bool guest_running)
{
    struct virtio_blk *b = &d->u.blk;
    unsigned slot = e->id;
    if (slot >= b->num_reqs || (b->req_free >> slot) & 1 || e->offset != hdr_offset(slot)) {
        b->bad_entries++;
        virtio_backend_warning(d,
                               "RX_ACTIVE entry (id %u, offset 0x%llx, status %u) answers no "
                               "request at the server; dropped (%llu so far)",
                               e->id, (unsigned long long)e->offset, e->len,
                               (unsigned long long)b->bad_entries);
        return;
    }
    struct virtio_blk_req *q = &b->req[slot];
    uint8_t status = e->len <= S_UNSUPP ? (uint8_t)e->len : S_IOERR;
    if (e->len > S_UNSUPP)
        virtio_backend_warning(d, "status %u for request %u is none the protocol has; IOERR",
                               e->len, slot);
    if (q->epoch != b->epoch || !guest_running || !virtio_live(d) || !d->vq[0].ready) {
        b->dropped++; /* from before a reset: the guest no longer waits for it */
        slot_free(b, slot);
        return;
    }
    uint32_t written = 1;
    if (status == S_OK && q->direct && q->type == T_IN) {
        written += q->len; /* the device wrote it into guest RAM */
    } else if (status == S_OK && (q->type == T_IN || q->type == T_GET_ID)) {
        if (!copy_data(d, q->head, b->conn.tx_data + page_offset(q->first_page), q->len, true)) {
            slot_free(b, slot);
            return;
        }
        written += q->len;
    }
    slot_free(b, slot);
    answer(d, q->head, q->status, status, written);
}

/* Every request at the server fails: the connection stopped. Their slots stay taken (the
 * server might still write their pages). */
static void fail_in_flight(struct virtio_dev *d)
{
    struct virtio_blk *b = &d->u.blk;
    for (unsigned slot = 0; slot < b->num_reqs; slot++) {
        struct virtio_blk_req *q = &b->req[slot];
        if ((b->req_free >> slot) & 1 || q->epoch != b->epoch)
            continue;
        q->epoch = b->epoch - 1; /* answered now: a late answer is dropped */
        if (virtio_live(d) && d->vq[0].ready)
            answer(d, q->head, q->status, S_IOERR, 1);
    }
}

/* The server's blk_info, once it says ready. */
static void check_ready(struct virtio_dev *d)
{
    struct virtio_blk *b = &d->u.blk;
    if (b->ready || b->refused ||
        __atomic_load_n(&b->info->magic, __ATOMIC_ACQUIRE) != BLK_INFO_MAGIC)
        return;
    uint64_t capacity = b->info->capacity;
    uint32_t max = b->info->max_sectors_per_request;
    uint32_t need = BLK_SEG_MAX * BLK_SIZE_MAX / BLK_SECTOR_SIZE;
    if (max < need) {
        b->refused = true;
        LOG_ERR("virtio",
                VIRTIO_LABEL_FMT ": the block server takes at most %u sectors per request; this "
                                 "device needs %u: no disk",
                VIRTIO_LABEL(d), max, need);
        return;
    }
    b->capacity = capacity;
    b->max_sectors = max;
    b->server_ro = b->info->read_only != 0;
    /* Direct requests only when the server's window is all of guest RAM: the offsets sent are
     * from its start. A table of segments fills at most the one page a request gets for it. */
    uint32_t segs = b->info->direct_max_segs;
    uint64_t window = b->info->direct_window;
    b->direct_segs = segs && window >= d->mem.size
                         ? (segs < BLK_DIRECT_MAX_SEGS ? segs : BLK_DIRECT_MAX_SEGS)
                         : 0;
    b->ready = true;
    LOG_INFO("virtio", VIRTIO_LABEL_FMT ": disk of %llu sectors (%llu MiB)%s%s", VIRTIO_LABEL(d),
             (unsigned long long)capacity, (unsigned long long)(capacity >> 11),
             read_only(d) ? ", read-only" : "",
             b->direct_segs ? ", data by DMA in guest RAM" : ", data copied");
    d->config_generation++;
    if (d->status)
        virtio_interrupt(d, VIRTIO_INT_CONFIG);
}

/* ---- the device ------------------------------------------------------------------------------ */

static const char *blk_conn_problem(const struct conn_config *c)
{
    if (c->tx_size < 2 * VIRTIO_BLK_PAGE)
        return "its data region is smaller than two pages";
    if (c->capacity < 2)
        return "its rings hold fewer than two requests";
    return NULL;
}

static void blk_attach(struct virtio_dev *d)
{
    struct virtio_blk *b = &d->u.blk;
    conn_attach(&b->conn, &d->cfg->conn);
    b->info = (const struct blk_info *)((const uint8_t *)d->cfg->conn.queue +
                                        blk_info_offset(d->cfg->conn.capacity));
    b->num_reqs =
        d->cfg->conn.capacity < VIRTIO_BLK_MAX_REQS ? d->cfg->conn.capacity : VIRTIO_BLK_MAX_REQS;
    uint64_t pages = d->cfg->conn.tx_size / VIRTIO_BLK_PAGE;
    b->pages = (unsigned)(pages < VIRTIO_BLK_MAX_PAGES ? pages : VIRTIO_BLK_MAX_PAGES);
    b->req_free = b->num_reqs == 64 ? ~UINT64_C(0) : (UINT64_C(1) << b->num_reqs) - 1;
    check_ready(d);
}

static void blk_reset(struct virtio_dev *d)
{
    struct virtio_blk *b = &d->u.blk;
    b->epoch++; /* requests at the server are the old driver's: their answers are dropped */
    b->held = false;
}

static unsigned blk_reset_waits(const struct virtio_dev *d)
{
    const struct virtio_blk *b = &d->u.blk;
    return b->conn_dead ? 0 : b->dma_pending; /* a stopped server is owed nothing */
}

static void blk_queue_stop(struct virtio_dev *d, unsigned q)
{
    (void)q;
    blk_reset(d);
}

static void blk_queue_notify(struct virtio_dev *d, unsigned q)
{
    (void)q;
    blk_requests(d);
    kick_backend(&d->u.blk);
}

static void blk_driver_ok(struct virtio_dev *d)
{
    blk_requests(d);
    kick_backend(&d->u.blk);
}

static void blk_backend(struct virtio_dev *d, bool guest_running)
{
    struct virtio_blk *b = &d->u.blk;
    struct ring *rx = &b->conn.ring[CONN_RX_ACTIVE];
    struct ring_entry e;
    /* Every slot answered once is the most a server keeping to the protocol sends now. */
    unsigned budget = 2 * b->num_reqs;
    while (!b->conn_dead) {
        while (budget && ring_pop(rx, &e)) {
            budget--;
            complete(d, &e, guest_running);
        }
        check_ring(d, CONN_RX_ACTIVE);
        if (b->conn_dead || ring_empty_before_wait(rx))
            break;
        check_ring(d, CONN_RX_ACTIVE);
        if (!budget) {
            virtio_backend_warning(d, "keeps queuing answers; the rest waits for its next "
                                      "notification");
            break;
        }
    }
    if (b->conn_dead)
        fail_in_flight(d);
    check_ready(d);
    if (guest_running)
        blk_requests(d); /* a request that waited for room */
    virtq_signal(d, 0);
    kick_backend(b);
}

static uint32_t blk_config_read(struct virtio_dev *d, uint32_t offset, unsigned width)
{
    const struct virtio_blk *b = &d->u.blk;
    uint8_t cfg[BLK_CONFIG_SIZE] = { 0 };
    for (unsigned i = 0; i < 8; i++)
        cfg[i] = (uint8_t)(b->capacity >> (8 * i));
    for (unsigned i = 0; i < 4; i++) {
        cfg[8 + i] = (uint8_t)(BLK_SIZE_MAX >> (8 * i));
        cfg[12 + i] = (uint8_t)(BLK_SEG_MAX >> (8 * i));
        cfg[20 + i] = (uint8_t)(BLK_SECTOR_SIZE >> (8 * i));
    }
    uint32_t v = 0;
    for (unsigned i = 0; i < width; i++)
        v |= (uint32_t)cfg[offset + i] << (8 * i);
    return v;
}

static const char *const blk_queue_names[] = { "requestq" };

const struct virtio_ops virtio_blk_ops = {
    .type_name = "block device",
    .device_id = VMM_VIRTIO_BLK,
    .features = BASE_FEATURES,
    .offered = blk_offered,
    .conn_problem = blk_conn_problem,
    .num_queues = 1,
    .queue_num_max = BLK_QUEUE_SIZE,
    .queue_names = blk_queue_names,
    .config_size = BLK_CONFIG_SIZE,
    .config_read = blk_config_read,
    .config_write = NULL,
    .queue_notify = blk_queue_notify,
    .queue_stop = blk_queue_stop,
    .driver_ok = blk_driver_ok,
    .reset_waits = blk_reset_waits,
    .reset = blk_reset,
    .attach = blk_attach,
    .backend = blk_backend,
};
