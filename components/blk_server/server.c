/* The block server: start-up, request checking, the round that serves every client, and the
 * completions (see blk_server.h). */
#include "blk_server.h"

#include <lib/text.h>
#include <pd/pd.h>

#include "partition.h"

static void zero(void *p, size_t n)
{
    volatile uint8_t *b = p;
    while (n--)
        *b++ = 0;
}

/* ---- messages ------------------------------------------------------------------------------ */

static void line_start(struct text *t)
{
    t->len = 0;
    text_str(t, "blk_server ");
    text_str(t, pd_name());
    text_str(t, ": ");
}

static void line_end(struct text *t)
{
    if (t->len > TEXT_MAX - 2)
        t->len = TEXT_MAX - 2;
    t->buf[t->len++] = '\n';
    t->buf[t->len] = '\0';
    pd_puts(t->buf);
}

static void client_prefix(struct text *t, const struct blk_client *c)
{
    line_start(t);
    text_str(t, "client '");
    text_str(t, c->cfg->name ? c->cfg->name : "?");
    text_str(t, "': ");
}

/* A run-time problem of one client: said BLK_SERVER_REPORTS times, then counted only. */
static bool client_may_report(struct blk_client *c)
{
    if (c->reports > BLK_SERVER_REPORTS)
        return false;
    if (c->reports++ == BLK_SERVER_REPORTS) {
        struct text t;
        client_prefix(&t, c);
        text_str(&t, "more bad requests are counted, not reported");
        line_end(&t);
        return false;
    }
    return true;
}

/* ---- answering ----------------------------------------------------------------------------- */

static void answer(struct blk_client *c, const struct ring_entry *req, uint32_t status)
{
    struct ring_entry e = { req->offset, status, req->id };
    bool notify;
    if (c->ended)
        return;
    if (ring_push(&c->conn.ring[CONN_RX_ACTIVE], &e, &notify)) {
        c->notify |= notify;
        return;
    }
    /* Room was reserved for every request taken: only the client's own tail can make the ring
     * look full or corrupt. */
    c->ended = true;
    struct text t;
    client_prefix(&t, c);
    text_str(&t, "its RX_ACTIVE ring is corrupt or full against the protocol: connection ended");
    line_end(&t);
}

static void refuse(struct blk_client *c, const struct ring_entry *e, uint32_t status,
                   const char *why, uint64_t a, uint64_t b)
{
    c->count.refused++;
    if (client_may_report(c)) {
        struct text t;
        client_prefix(&t, c);
        text_str(&t, "request ");
        text_u64(&t, e->id);
        text_str(&t, " at ");
        text_hex(&t, e->offset);
        text_str(&t, ": ");
        text_str(&t, why);
        text_str(&t, " (");
        text_hex(&t, a);
        text_str(&t, ", ");
        text_hex(&t, b);
        text_str(&t, status == BLK_S_UNSUPP ? "): UNSUPP" : "): IOERR");
        line_end(&t);
    }
    answer(c, e, status);
}

/* ---- taking requests ----------------------------------------------------------------------- */

static bool data_inside(const struct blk_client *c, uint64_t offset, uint64_t bytes)
{
    return offset <= c->conn.tx_size && bytes <= c->conn.tx_size - offset;
}

/* The header, copied out of the shared region once (the client may change it meanwhile). */
static void copy_header(const struct blk_client *c, uint64_t offset, struct blk_request *r)
{
    const volatile uint8_t *src = c->conn.tx_data + offset;
    uint8_t *dst = (uint8_t *)r;
    for (unsigned i = 0; i < sizeof(*r); i++)
        dst[i] = src[i];
}

/* The physical segments of [offset, offset + bytes) of the client's data region. */
static unsigned segments(const struct blk_client *c, uint64_t offset, uint64_t bytes,
                         struct vblk_seg *seg)
{
    unsigned n = 0;
    while (bytes && n < STORAGE_MAX_SEGS) {
        uint64_t chunk = offset / BLK_DATA_CHUNK, in = offset % BLK_DATA_CHUNK;
        uint64_t len = BLK_DATA_CHUNK - in < bytes ? BLK_DATA_CHUNK - in : bytes;
        seg[n++] = (struct vblk_seg){ c->paddr[chunk] + in, (uint32_t)len };
        offset += len;
        bytes -= len;
    }
    return n;
}

static void get_id(struct blk_client *c, const struct ring_entry *e, const struct blk_request *r)
{
    if (!data_inside(c, r->data, BLK_ID_BYTES)) {
        refuse(c, e, BLK_S_IOERR, "GET_ID buffer outside the data region", r->data, BLK_ID_BYTES);
        return;
    }
    volatile uint8_t *dst = c->conn.tx_data + r->data;
    const char *name = c->cfg->name;
    bool end = false;
    for (unsigned i = 0; i < BLK_ID_BYTES; i++) {
        end = end || name[i] == '\0';
        dst[i] = end ? 0 : (uint8_t)name[i];
    }
    c->count.get_ids++;
    answer(c, e, BLK_S_OK);
}

/* A direct request's segment table, copied out of the shared region once (the client may
 * change it meanwhile), each segment checked as it is copied and turned into its physical
 * address in the client's window; false if the request was answered. */
static bool direct_segments(struct blk_client *c, const struct ring_entry *e,
                            const struct blk_request *r, struct storage_io *io)
{
    uint64_t want = (uint64_t)r->count * BLK_SECTOR_SIZE, total = 0;
    const volatile uint8_t *table = c->conn.tx_data + r->data;
    for (uint32_t k = 0; k < r->segs; k++) {
        struct blk_seg seg = { 0, 0, 0 };
        uint8_t *dst = (uint8_t *)&seg;
        for (unsigned b = 0; b < sizeof(seg); b++)
            dst[b] = table[(uint64_t)k * sizeof(seg) + b];
        if (seg.len == 0) {
            refuse(c, e, BLK_S_IOERR, "a direct segment of no bytes", k, seg.offset);
            return false;
        }
        if (seg.offset >= c->window_size || seg.len > c->window_size - seg.offset) {
            refuse(c, e, BLK_S_IOERR, "a direct segment outside its DMA window", seg.offset,
                   seg.len);
            return false;
        }
        total += seg.len; /* at most BLK_DIRECT_MAX_SEGS times 2^32: no overflow */
        io->seg[k] = (struct vblk_seg){ c->window_paddr + seg.offset, seg.len };
    }
    if (total != want) {
        refuse(c, e, BLK_S_IOERR, "direct segments that do not add up to its sectors", total, want);
        return false;
    }
    io->nsegs = r->segs;
    return true;
}

/* Checks a request and turns it into a storage request; false if it was answered at once. */
static bool check_request(struct blk_server *s, struct blk_client *c, const struct ring_entry *e,
                          struct storage_io *io)
{
    if (e->len != sizeof(struct blk_request) || (e->offset & 7) ||
        !ring_entry_inside(e, c->conn.tx_size)) {
        c->count.bad_entries++;
        refuse(c, e, BLK_S_IOERR, "entry names no request header in the data region", e->offset,
               e->len);
        return false;
    }
    struct blk_request r;
    copy_header(c, e->offset, &r);
    bool direct = r.op == BLK_OP_READ_DIRECT || r.op == BLK_OP_WRITE_DIRECT;
    switch (r.op) {
    case BLK_OP_READ:
    case BLK_OP_WRITE: break;
    case BLK_OP_READ_DIRECT:
    case BLK_OP_WRITE_DIRECT:
        if (!c->direct_segs) {
            refuse(c, e, BLK_S_UNSUPP, "a direct request, not offered to it", r.op, 0);
            return false;
        }
        if (r.segs == 0 || r.segs > c->direct_segs) {
            refuse(c, e, BLK_S_IOERR, "a direct request's segments not 1..the most offered", r.segs,
                   c->direct_segs);
            return false;
        }
        if (!data_inside(c, r.data, (uint64_t)r.segs * sizeof(struct blk_seg))) {
            refuse(c, e, BLK_S_IOERR, "segment table outside the data region", r.data, r.segs);
            return false;
        }
        break;
    case BLK_OP_FLUSH:
        io->op = BLK_OP_FLUSH;
        io->sector = 0;
        io->count = 0;
        io->buf = NULL;
        io->nsegs = 0;
        io->direct = false;
        return true;
    case BLK_OP_GET_ID: get_id(c, e, &r); return false;
    default: refuse(c, e, BLK_S_UNSUPP, "unknown op", r.op, 0); return false;
    }
    uint32_t op = r.op == BLK_OP_READ_DIRECT    ? BLK_OP_READ
                  : r.op == BLK_OP_WRITE_DIRECT ? BLK_OP_WRITE
                                                : r.op;
    uint64_t bytes = (uint64_t)r.count * BLK_SECTOR_SIZE;
    if (r.count == 0) {
        refuse(c, e, BLK_S_IOERR, "no sectors", r.sector, r.count);
        return false;
    }
    if (r.sector >= c->sectors || r.count > c->sectors - r.sector) {
        refuse(c, e, BLK_S_IOERR, "sectors beyond its range", r.sector, r.count);
        return false;
    }
    if (!direct && !data_inside(c, r.data, bytes)) {
        refuse(c, e, BLK_S_IOERR, "data buffer outside the data region", r.data, bytes);
        return false;
    }
    if (bytes > s->st.max_bytes) {
        refuse(c, e, BLK_S_IOERR, "more than the device takes in one request", bytes,
               s->st.max_bytes);
        return false;
    }
    if (op == BLK_OP_WRITE && c->read_only) {
        refuse(c, e, BLK_S_IOERR, "write to a read-only range", r.sector, r.count);
        return false;
    }
    io->op = op;
    io->sector = c->start + r.sector;
    io->count = r.count;
    io->direct = direct;
    io->nsegs = 0;
    if (direct) {
        io->buf = NULL;
        return direct_segments(c, e, &r, io);
    }
    io->buf = c->conn.tx_data + r.data;
    if (s->st.needs_paddr)
        io->nsegs = segments(c, r.data, bytes, io->seg);
    return true;
}

/* Hand a checked request to the device under a fresh tag. */
static enum storage_result submit(struct blk_server *s, unsigned ci, struct storage_io *io,
                                  const struct ring_entry *e)
{
    if (!s->num_free)
        return STORAGE_FULL;
    uint16_t tag = s->free_tag[s->num_free - 1];
    io->tag = tag;
    enum storage_result r = storage_submit(&s->st, io);
    if (r != STORAGE_QUEUED)
        return r;
    s->num_free--;
    struct blk_inflight *f = &s->inflight[tag];
    f->used = true;
    f->client = (uint8_t)ci;
    f->op = io->op;
    f->direct = io->direct;
    f->bytes = (uint64_t)io->count * BLK_SECTOR_SIZE;
    f->entry = *e;
    s->client[ci].in_flight++;
    return STORAGE_QUEUED;
}

static void check_rings(struct blk_client *c)
{
    static const char *const names[CONN_RINGS] = { "TX_ACTIVE", "TX_FREE", "RX_FREE", "RX_ACTIVE" };
    for (unsigned i = 0; i < CONN_RINGS && !c->ended; i++) {
        if (c->conn.ring[i].corrupt) {
            c->ended = true;
            struct text t;
            client_prefix(&t, c);
            text_str(&t, "its ");
            text_str(&t, names[i]);
            text_str(&t, " ring is corrupt: connection ended");
            line_end(&t);
        }
    }
}

/* One request of client ci: 1 if one was taken (or the held one went to the device), 0 if
 * there was none, -1 if the device is full. */
static int client_step(struct blk_server *s, unsigned ci)
{
    struct blk_client *c = &s->client[ci];
    if (!c->ready || c->ended)
        return 0;
    if (c->held) {
        enum storage_result r = submit(s, ci, &c->held_io, &c->held_entry);
        if (r == STORAGE_FULL)
            return -1;
        c->held = false;
        if (r == STORAGE_TOO_BIG)
            refuse(c, &c->held_entry, BLK_S_IOERR, "more than the device takes", 0, 0);
        return 1;
    }
    /* Room for the answer of every request taken, this one included. */
    if (!ring_has_room(&c->conn.ring[CONN_RX_ACTIVE], c->in_flight + 1)) {
        check_rings(c);
        return 0;
    }
    struct ring_entry e;
    if (!ring_pop(&c->conn.ring[CONN_TX_ACTIVE], &e)) {
        check_rings(c);
        return 0;
    }
    /* Built where it waits if the device is full (its segment table is large for a stack). */
    if (!check_request(s, c, &e, &c->held_io))
        return 1;
    enum storage_result r = submit(s, ci, &c->held_io, &e);
    if (r == STORAGE_FULL) {
        c->held = true;
        c->held_entry = e;
        return -1;
    }
    if (r == STORAGE_TOO_BIG)
        refuse(c, &e, BLK_S_IOERR, "more than the device takes in one request", c->held_io.count,
               c->held_io.nsegs);
    return 1;
}

static bool take_completions(struct blk_server *s)
{
    bool any = false;
    uint32_t tag;
    uint8_t status;
    /* Each completion frees a tag; at most every tag in flight completes once. */
    for (unsigned budget = 2 * STORAGE_MAX_INFLIGHT; budget; budget--) {
        if (!storage_complete(&s->st, &tag, &status))
            break;
        if (tag >= STORAGE_MAX_INFLIGHT || !s->inflight[tag].used) {
            s->bad_completions++;
            continue;
        }
        struct blk_inflight *f = &s->inflight[tag];
        struct blk_client *c = &s->client[f->client];
        f->used = false;
        s->free_tag[s->num_free++] = (uint16_t)tag;
        c->in_flight--;
        any = true;
        if (status == BLK_S_OK) {
            c->count.direct += f->direct;
            if (f->op == BLK_OP_READ) {
                c->count.reads++;
                c->count.bytes_read += f->bytes;
            } else if (f->op == BLK_OP_WRITE) {
                c->count.writes++;
                c->count.bytes_written += f->bytes;
            } else {
                c->count.flushes++;
            }
        } else {
            c->count.io_errors++;
        }
        answer(c, &f->entry, status);
    }
    return any;
}

/* The last notification goes with the server's wait for its next event: the client (a VMM,
 * of higher priority) then runs once the server is done, not in the middle of it. */
static void send_notifications(struct blk_server *s)
{
    int last = -1;
    for (unsigned i = 0; i < s->num_clients; i++) {
        struct blk_client *c = &s->client[i];
        if (c->notify) {
            c->notify = false;
            if (last >= 0)
                pd_notify(s->client[last].conn.channel);
            last = (int)i;
        }
    }
    if (last >= 0)
        pd_notify_last(s->client[last].conn.channel);
}

/* Serves until nothing moves: completions, then one request of each client in turn (a
 * different one first each round); then the device hears once about everything queued. */
static void serve(struct blk_server *s)
{
    bool queued = false;
    for (;;) {
        bool moved = take_completions(s), full = false;
        for (unsigned k = 0; k < s->num_clients && !full; k++) {
            unsigned ci = (s->next + k) % s->num_clients;
            int r = client_step(s, ci);
            full = r < 0;
            if (r > 0)
                moved = queued = true;
        }
        if (s->num_clients)
            s->next = (s->next + 1) % s->num_clients;
        if (!moved)
            break;
    }
    if (queued)
        storage_kick(&s->st);
    send_notifications(s);
}

/* ---- start-up ------------------------------------------------------------------------------ */

struct sync_read {
    struct storage *st;
    uint64_t timeout;
};

static bool read_sector(void *ctx, uint64_t lba, uint8_t *buf)
{
    struct sync_read *r = ctx;
    const uint8_t *p = storage_read_sector(r->st, lba, r->timeout);
    if (!p)
        return false;
    for (unsigned i = 0; i < BLK_SECTOR_SIZE; i++)
        buf[i] = p[i];
    return true;
}

static void client_refused(struct blk_client *c, const char *why)
{
    struct text t;
    client_prefix(&t, c);
    text_str(&t, why);
    text_str(&t, ": no disk for it");
    line_end(&t);
}

/* What is wrong with a client's configuration, or NULL. */
static const char *config_problem(const struct blk_server *s, const struct blk_client_config *cc)
{
    const struct conn_config *k = &cc->conn;
    if (!ring_capacity_ok(k->capacity))
        return "its ring capacity is not a power of two";
    if (!k->queue || !k->tx_data || k->tx_size < BLK_SECTOR_SIZE)
        return "its queue or data region is not mapped";
    if (k->channel > 61)
        return "its channel is not 0-61";
    if (s->st.kind == BLK_STORAGE_VIRTIO && k->channel == s->irq_channel)
        return "its channel is the device interrupt's";
    if (s->st.needs_paddr) {
        if (k->tx_size % BLK_DATA_CHUNK || k->tx_size / BLK_DATA_CHUNK > BLK_MAX_CHUNKS)
            return "its data region is not 1-8 whole 2 MiB pages, as the device's DMA needs";
        for (uint64_t i = 0; i < k->tx_size / BLK_DATA_CHUNK; i++) {
            if (!cc->data_paddr[i])
                return "the physical address of a page of its data region is missing";
        }
    }
    return NULL;
}

/* The client's DMA window, when it has one and the device does DMA: direct requests offered. */
static void take_window(const struct blk_server *s, struct blk_client *c)
{
    const struct blk_client_config *cc = c->cfg;
    if (!cc->window_paddr || !s->st.direct_segs)
        return;
    uint64_t pa = *cc->window_paddr, size = cc->window_size;
    const char *why = NULL;
    if (!pa || !size)
        why = "its DMA window has no physical address or no size";
    else if (size > UINT64_MAX - pa)
        why = "its DMA window runs past the end of the address space";
    if (why) {
        struct text t;
        client_prefix(&t, c);
        text_str(&t, why);
        text_str(&t, " (");
        text_hex(&t, pa);
        text_str(&t, ", ");
        text_hex(&t, size);
        text_str(&t, "): no direct requests");
        line_end(&t);
        return;
    }
    c->window_paddr = pa;
    c->window_size = size;
    c->direct_segs = s->st.direct_segs;
}

/* The range of client i: its partition, or the sectors its configuration gives. */
static const char *find_range(struct blk_server *s, struct blk_client *c)
{
    const struct blk_client_config *cc = c->cfg;
    uint64_t disk = s->st.capacity;
    if (cc->partition) {
        struct sync_read r = { &s->st, BLK_START_TIMEOUT_MS * pd_counter_freq() / 1000 };
        struct part_found p;
        const char *why = part_find(read_sector, &r, disk, cc->partition, &p);
        if (why)
            return why;
        c->start = p.start;
        c->sectors = p.sectors;
    } else {
        if (cc->start >= disk)
            return "its range starts beyond the disk";
        c->start = cc->start;
        c->sectors = cc->sectors ? cc->sectors : disk - cc->start;
        if (c->sectors > disk - c->start)
            return "its range reaches beyond the disk";
    }
    for (unsigned j = 0; j < s->num_clients; j++) {
        const struct blk_client *o = &s->client[j];
        if (o != c && o->ready && c->start < o->start + o->sectors &&
            o->start < c->start + c->sectors)
            return "its range overlaps another client's";
    }
    return NULL;
}

static void publish_info(struct blk_server *s, struct blk_client *c)
{
    struct blk_info *info =
        (struct blk_info *)((uint8_t *)c->cfg->conn.queue + blk_info_offset(c->cfg->conn.capacity));
    uint64_t max = s->st.max_bytes / BLK_SECTOR_SIZE;
    uint64_t data = c->conn.tx_size / BLK_SECTOR_SIZE;
    max = max < data ? max : data;
    info->read_only = c->read_only;
    info->capacity = c->sectors;
    info->max_sectors_per_request = max > UINT32_MAX ? UINT32_MAX : (uint32_t)max;
    info->direct_max_segs = c->direct_segs;
    info->direct_window = c->direct_segs ? c->window_size : 0;
    __atomic_store_n(&info->magic, BLK_INFO_MAGIC, __ATOMIC_RELEASE);
    c->notify = true;
}

static void say_ready(const struct blk_server *s, const struct blk_client *c)
{
    struct text t;
    client_prefix(&t, c);
    if (c->cfg->partition) {
        text_str(&t, "partition ");
        text_u64(&t, c->cfg->partition);
        text_str(&t, ", ");
    }
    text_str(&t, "sectors ");
    text_u64(&t, c->start);
    text_str(&t, "..");
    text_u64(&t, c->start + c->sectors - 1);
    text_str(&t, " (");
    text_u64(&t, c->sectors / 2048);
    text_str(&t, " MiB), ");
    text_str(&t, c->read_only ? "read-only" : "read-write");
    if (c->direct_segs) {
        text_str(&t, ", direct requests of up to ");
        text_u64(&t, c->direct_segs);
        text_str(&t, " segments in a DMA window of ");
        text_hex(&t, c->window_size);
        text_str(&t, " bytes");
    }
    (void)s;
    line_end(&t);
}

void blk_server_init(struct blk_server *s, const struct blk_server_config *cfg)
{
    zero(s, sizeof(*s));
    struct text t;
    const char *why = storage_init(&s->st, cfg);
    s->irq_channel = cfg->irq_channel;
    line_start(&t);
    if (why) {
        text_str(&t, "error: the storage device (");
        text_str(&t, s->st.name);
        text_str(&t, "): ");
        text_str(&t, why);
        text_str(&t, ": no disk for any client");
        line_end(&t);
        return;
    }
    s->ready = true;
    for (unsigned i = 0; i < STORAGE_MAX_INFLIGHT; i++)
        s->free_tag[i] = (uint16_t)(STORAGE_MAX_INFLIGHT - 1 - i);
    s->num_free = STORAGE_MAX_INFLIGHT;
    s->num_clients =
        cfg->num_clients < BLK_SERVER_MAX_CLIENTS ? cfg->num_clients : BLK_SERVER_MAX_CLIENTS;
    text_str(&t, s->st.name);
    text_str(&t, ", ");
    text_u64(&t, s->st.capacity);
    text_str(&t, " sectors (");
    text_u64(&t, s->st.capacity / 2048);
    text_str(&t, " MiB)");
    text_str(&t, s->st.read_only ? ", read-only, " : ", ");
    text_u64(&t, s->num_clients);
    text_str(&t, s->num_clients == 1 ? " client" : " clients");
    line_end(&t);
    for (unsigned i = 0; i < s->num_clients; i++) {
        struct blk_client *c = &s->client[i];
        c->cfg = &cfg->clients[i];
        if (!c->cfg->name) {
            line_start(&t);
            text_str(&t, "error: a client has no name: left out");
            line_end(&t);
            continue;
        }
        if ((why = config_problem(s, c->cfg))) {
            client_refused(c, why);
            continue;
        }
        conn_attach(&c->conn, &c->cfg->conn);
        for (uint64_t k = 0; s->st.needs_paddr && k < c->conn.tx_size / BLK_DATA_CHUNK; k++)
            c->paddr[k] = *c->cfg->data_paddr[k];
        take_window(s, c);
        c->configured = true;
        if ((why = find_range(s, c))) {
            client_refused(c, why);
            continue;
        }
        c->read_only = c->cfg->read_only || s->st.read_only;
        c->ready = true;
        say_ready(s, c);
        publish_info(s, c);
    }
    serve(s);
}

void blk_server_notified(struct blk_server *s, unsigned channel)
{
    if (!s->ready)
        return;
    if (s->st.kind == BLK_STORAGE_VIRTIO && channel == s->irq_channel) {
        /* Acknowledged at the device first: a completion after this raises the line again. */
        storage_irq(&s->st);
        pd_irq_ack(channel);
        serve(s);
        return;
    }
    serve(s); /* a client's channel: every client is looked at anyway */
}
