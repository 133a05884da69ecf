/*
 * libFuzzer target: the block server against hostile clients, on a RAM disk or on the model of a
 * virtio block device that completes late, fails, or names descriptors that head nothing. The
 * input is a stream of operations: clients queue requests with any op, sectors, count and buffer
 * offset (often near the edges of their range and data region), direct requests with segment
 * tables of any shape into their DMA windows (clients 0 and 1 have one), raw entries of any offset,
 * length and id, set any ring index to anything, rewrite a queued header after queueing it, take
 * their answers or not, notify; the device runs its queue, raises its interrupt, fails requests.
 *
 * The model of the device may have a SIZE_MAX (the first byte says), which bounds the segments of
 * a direct request.
 *
 * What it checks after every call, beyond ASan/UBSan: the device touches no data buffer outside
 * the data region or the DMA window of the client whose range the request is in (it is asked
 * about each one before it moves a byte), and breaks none of the model's rules for drivers; the
 * disk outside every range never changes,
 * and each client's range and data pages hold only byte values that client ever had (each
 * client's range starts with a value of its own, it fills its buffers and window with another, and
 * every byte it writes into its header page is noted): a byte of another client's range or data, or
 * of the disk outside the ranges, shows up as a value the client never had; and the server answers
 * each client at most once per request it queued (the answers a client received never outnumber its
 * entries, unless it set its ring indices itself).
 */
#define _DEFAULT_SOURCE
#include <blk_server/blk_server.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_pd.h"
#include "sim_virtio_blk.h"

#define CLIENTS 3
#define CAP 8
#define CHUNKS 2
#define DATA_SIZE (CHUNKS * BLK_DATA_CHUNK)
#define DISK_SECTORS 1024
#define IRQ_CH 0
#define CH(i) (1 + (i))
#define OUTSIDE 0x5a                    /* the disk outside every range */
#define INIT(i) ((uint8_t)(0x10 + (i))) /* client i's range at start */
#define FILL(i) ((uint8_t)(0xa0 + (i))) /* what client i writes */
#define HDR_PAGE 4096u                  /* headers live in the first page */
#define WINDOW 0x10000u                 /* the DMA window of clients 0 and 1 */
#define WINDOWS 2

static const uint64_t range_start[CLIENTS] = { 8, 200, 512 };
/* GET_ID writes a client's name into its buffer: those bytes are its own too. */
static const char *const names[CLIENTS] = { "a", "bb", "a-rather-long-client-name" };
static const uint64_t range_len[CLIENTS] = { 192, 300, 500 };

struct client {
    _Alignas(4096) uint8_t queue[8192];
    uint8_t *data;
    uint64_t paddr[CHUNKS];
    uint8_t *window; /* WINDOW bytes (clients below WINDOWS) */
    uint64_t window_pa;
    struct conn raw;
    uint64_t queued, answered;
    bool tampered; /* the client set an index itself: it may see entries it never queued */
    /* Byte values the client ever had in its data region (its fill, its range's, its name,
     * what it wrote into its header page): what its range and its data pages may hold. */
    bool owned[256];
};

static struct client cl[CLIENTS];
static struct blk_server server;
static struct blk_server_config cfg;
static struct sim_vblk dev;
static uint8_t *ramdisk;
static _Alignas(4096) uint8_t dma[0x20000];
static uint64_t dma_pa;
static bool virtio;

static const uint8_t *in;
static size_t in_left;

static uint64_t take(unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes && in_left; i++, in_left--)
        v |= (uint64_t)*in++ << (8 * i);
    return v;
}

static void fail(const char *what, unsigned client, uint64_t at)
{
    fprintf(stderr, "fuzz_blk_server: client %u: %s (at 0x%llx)\n", client, what,
            (unsigned long long)at);
    __builtin_trap();
}

static uint8_t *disk(void)
{
    return virtio ? dev.disk : ramdisk;
}

static bool inside(uint64_t a, uint64_t len, const uint8_t *base, uint64_t size)
{
    uint64_t b = (uintptr_t)base;
    return base && a >= b && a - b <= size && len <= size - (a - b);
}

/* The device asks before it touches a data buffer: it must be in the data region or the window
 * of the client whose range holds the request's sectors. */
static bool dma_check(void *ctx, uint32_t type, uint64_t sector, uint64_t paddr, uint32_t len)
{
    (void)ctx;
    (void)type;
    for (unsigned i = 0; i < CLIENTS; i++) {
        if (sector < range_start[i] || sector >= range_start[i] + range_len[i])
            continue;
        if (!inside(paddr, len, cl[i].data, DATA_SIZE) &&
            !(i < WINDOWS && inside(paddr, len, cl[i].window, WINDOW)))
            fail("the device was sent outside the client's data region and window", i, paddr);
        return true;
    }
    fail("the device was sent a request outside every range", 99, sector);
    return false;
}

static void setup(unsigned mode)
{
    bool use_virtio = mode & 1;
    sim_pd_reset();
    sim_pd.name = "fuzz";
    virtio = use_virtio;
    memset(&cfg, 0, sizeof(cfg));
    if (virtio) {
        sim_vblk_init(&dev, DISK_SECTORS);
        dev.deferred = true;
        dev.dma_check = dma_check;
        if (mode & 2) { /* a SIZE_MAX, and fewer descriptors per request */
            dev.offered |= UINT64_C(1) << 1;
            dev.size_max = 512u << (mode >> 2 & 3);
            dev.seg_max = 8 + (mode >> 4) * 20;
        }
        dma_pa = (uintptr_t)dma;
        cfg.storage = BLK_STORAGE_VIRTIO;
        cfg.regs = sim_vblk_base(&dev);
        cfg.irq_channel = IRQ_CH;
        cfg.dma = (uintptr_t)dma;
        cfg.dma_paddr = &dma_pa;
        cfg.dma_size = sizeof(dma);
    } else {
        if (!ramdisk)
            ramdisk = malloc((size_t)DISK_SECTORS * 512);
        cfg.storage = BLK_STORAGE_RAMDISK;
        cfg.ramdisk = ramdisk;
        cfg.ramdisk_size = (uint64_t)DISK_SECTORS * 512;
    }
    memset(disk(), OUTSIDE, (size_t)DISK_SECTORS * 512);
    cfg.num_clients = CLIENTS;
    for (unsigned i = 0; i < CLIENTS; i++) {
        struct client *c = &cl[i];
        memset(disk() + range_start[i] * 512, INIT(i), range_len[i] * 512);
        if (!c->data)
            c->data = malloc(DATA_SIZE);
        memset(c->data, 0, DATA_SIZE);
        if (i < WINDOWS) {
            if (!c->window)
                c->window = malloc(WINDOW);
            memset(c->window, FILL(i), WINDOW);
            c->window_pa = (uintptr_t)c->window;
            cfg.clients[i].window_paddr = &c->window_pa;
            cfg.clients[i].window_size = WINDOW;
        }
        memset(c->queue, 0, sizeof(c->queue));
        c->queued = c->answered = 0;
        c->tampered = false;
        memset(c->owned, 0, sizeof(c->owned));
        c->owned[0] = c->owned[INIT(i)] = c->owned[FILL(i)] = true;
        for (const char *n = names[i]; *n; n++)
            c->owned[(uint8_t)*n] = true;
        struct blk_client_config *cc = &cfg.clients[i];
        cc->name = names[i];
        cc->conn = (struct conn_config){ .queue = (uintptr_t)c->queue,
                                         .capacity = CAP,
                                         .tx_data = (uintptr_t)c->data,
                                         .tx_size = DATA_SIZE,
                                         .channel = CH(i) };
        for (unsigned k = 0; k < CHUNKS; k++) {
            c->paddr[k] = (uintptr_t)c->data + (uint64_t)k * BLK_DATA_CHUNK;
            cc->data_paddr[k] = &c->paddr[k];
        }
        cc->start = range_start[i];
        cc->sectors = range_len[i];
        struct conn_config view = cc->conn;
        conn_attach(&c->raw, &view);
    }
    blk_server_init(&server, &cfg);
}

/* The checks after every call into the server (or the device). */
static void check(void)
{
    const uint8_t *d = disk();
    for (uint64_t s = 0; s < DISK_SECTORS; s++) {
        int owner = -1;
        for (unsigned i = 0; i < CLIENTS; i++)
            if (s >= range_start[i] && s < range_start[i] + range_len[i])
                owner = (int)i;
        for (unsigned b = 0; b < 512; b += 64) {
            uint8_t v = d[s * 512 + b];
            if (owner < 0 ? v != OUTSIDE : !cl[owner].owned[v])
                fail("a disk byte holds what its range's client never had", owner < 0 ? 99 : owner,
                     s * 512 + b);
        }
    }
    for (unsigned i = 0; i < CLIENTS; i++) {
        const uint8_t *p = cl[i].data;
        /* Reads come in whole sectors: a byte in every 128 finds any sector that leaked. */
        for (uint64_t b = HDR_PAGE; b < DATA_SIZE; b += 128) {
            if (!cl[i].owned[p[b]])
                fail("a data region holds bytes that are not its client's", i, b);
        }
        /* A second look (dma_check sees every buffer exactly): a byte in every 64. */
        for (uint64_t b = 0; i < WINDOWS && b < WINDOW; b += 64) {
            if (!cl[i].owned[cl[i].window[b]])
                fail("a DMA window holds bytes that are not its client's", i, b);
        }
        if (!cl[i].tampered && cl[i].answered > cl[i].queued)
            fail("more answers than requests", i, cl[i].answered);
    }
    if (virtio && dev.violations) {
        fprintf(stderr, "fuzz_blk_server: the device model saw: %s\n", dev.why);
        fail("the driver broke a rule of the device", 99, dev.violations);
    }
}

static void own(struct client *c, const void *p, size_t n)
{
    for (size_t k = 0; k < n; k++)
        c->owned[((const uint8_t *)p)[k]] = true;
}

static void notify_server(unsigned channel)
{
    blk_server_notified(&server, channel);
    check();
}

/* A buffer offset: often in the data pages near the chunk boundary or the end, sometimes raw. */
static uint64_t buffer_offset(uint8_t how, uint64_t raw)
{
    switch (how & 3) {
    case 0: return HDR_PAGE + (raw % (DATA_SIZE - HDR_PAGE)) / 512 * 512;
    case 1: return BLK_DATA_CHUNK - 512 * (raw % 8);
    case 2: return DATA_SIZE - 512 * (raw % 8);
    default: return raw;
    }
}

static uint64_t sector_of(uint8_t how, uint64_t raw, unsigned i)
{
    switch (how & 3) {
    case 0: return raw % range_len[i];
    case 1: return range_len[i] - raw % 4;
    case 2: return UINT64_MAX - raw % 4;
    default: return raw;
    }
}

/* A direct request of client i: a segment table of any shape (mostly inside its window, often at
 * its edges, adding up to whole sectors unless the input says otherwise), queued and notified. */
static void direct_request(unsigned i)
{
    struct client *c = &cl[i];
    uint8_t how = (uint8_t)take(1);
    uint32_t rop = how & 1 ? BLK_OP_WRITE_DIRECT : BLK_OP_READ_DIRECT;
    uint64_t sector = sector_of(how >> 1, take(8), i);
    uint32_t nsegs = how & 0x40 ? (uint32_t)take(2) % 300 : (uint32_t)take(1) % 12;
    uint64_t table = how & 0x80 ? take(8) : HDR_PAGE + (take(2) % 0x1000) * 16;
    static struct blk_seg segs[300];
    uint64_t sum = 0;
    for (uint32_t k = 0; k < nsegs; k++) {
        uint8_t form = (uint8_t)take(1);
        switch (form & 3) {
        case 0:
            segs[k] = (struct blk_seg){ take(2) % WINDOW, (uint32_t)take(2) % 1024 + 1, 0 };
            break;
        case 1:
            segs[k] = (struct blk_seg){ WINDOW - take(2) % 1100, (uint32_t)take(2) % 1100, 0 };
            break;
        case 2: segs[k] = (struct blk_seg){ take(8), (uint32_t)take(4), 0 }; break;
        default: segs[k] = (struct blk_seg){ take(2), form & 4 ? 512u : 0u, 0 }; break;
        }
        sum += segs[k].len;
    }
    if (nsegs && !(how & 0x20) && sum % 512) { /* whole sectors: the last one made longer */
        segs[nsegs - 1].len += (uint32_t)(512 - sum % 512);
        sum += 512 - sum % 512;
    }
    uint32_t count = how & 0x10 ? (uint32_t)take(4) : (uint32_t)(sum / 512);
    if (table <= DATA_SIZE && (uint64_t)nsegs * sizeof(segs[0]) <= DATA_SIZE - table) {
        memcpy(c->data + table, segs, nsegs * sizeof(segs[0]));
        own(c, segs, nsegs * sizeof(segs[0]));
    }
    struct blk_request r = { rop, count, sector, table, nsegs, 0 };
    uint64_t hdr = (take(1) % 128) * 32;
    memcpy(c->data + hdr, &r, sizeof(r));
    own(c, &r, sizeof(r));
    struct ring_entry e = { hdr, sizeof(r), (uint32_t)take(2) };
    if (ring_push(&c->raw.ring[CONN_TX_ACTIVE], &e, NULL))
        c->queued++;
    notify_server(CH(i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in = data;
    in_left = size;
    setup((unsigned)take(1));
    check();
    while (in_left) {
        unsigned op = (unsigned)take(1) % 11, i = (unsigned)take(1) % CLIENTS;
        struct client *c = &cl[i];
        switch (op) {
        case 0:
        case 1: { /* a request, its buffer filled with the client's own bytes */
            uint8_t how = (uint8_t)take(1);
            uint32_t ops[4] = { BLK_OP_READ, BLK_OP_WRITE, BLK_OP_FLUSH, BLK_OP_GET_ID };
            uint32_t rop = (how & 0x80) ? (uint32_t)take(4) : ops[how & 3];
            uint64_t sector = sector_of(how >> 2, take(8), i);
            uint32_t count = (how & 0x40) ? (uint32_t)take(4) : (uint32_t)take(1) % 64;
            uint64_t buf = buffer_offset(how >> 4, take(8));
            uint64_t hdr = (take(1) % 128) * 32;
            if (buf >= HDR_PAGE && buf < DATA_SIZE) {
                uint64_t n = (uint64_t)count * 512;
                n = n < DATA_SIZE - buf ? n : DATA_SIZE - buf;
                memset(c->data + buf, FILL(i), n);
            }
            struct blk_request r = { rop, count, sector, buf, 0, 0 };
            memcpy(c->data + hdr, &r, sizeof(r));
            own(c, &r, sizeof(r));
            struct ring_entry e = { hdr, sizeof(r), (uint32_t)take(2) };
            if (ring_push(&c->raw.ring[CONN_TX_ACTIVE], &e, NULL))
                c->queued++;
            if (op == 1)
                notify_server(CH(i));
            break;
        }
        case 2: { /* a raw entry */
            struct ring_entry e = { take(8), (uint32_t)take(4), (uint32_t)take(4) };
            if (ring_push(&c->raw.ring[CONN_TX_ACTIVE], &e, NULL))
                c->queued++;
            break;
        }
        case 3: { /* any ring index set to anything */
            unsigned ring = (unsigned)take(1) % CONN_RINGS;
            struct ring_shm *s = c->raw.ring[ring].shm;
            uint32_t v = (uint32_t)take(4);
            if (v & 1)
                s->head = v;
            else
                s->tail = v;
            c->raw.ring[ring].corrupt = false;
            c->tampered = true;
            break;
        }
        case 4: { /* a queued header rewritten afterwards */
            uint64_t hdr = (take(1) % 128) * 32;
            uint64_t v = take(8);
            memcpy(c->data + hdr + (take(1) % 3) * 8, &v, 8);
            own(c, &v, sizeof(v));
            break;
        }
        case 5: { /* the client takes its answers */
            struct ring_entry e;
            unsigned n = (unsigned)take(1) % (CAP + 1);
            while (n-- && ring_pop(&c->raw.ring[CONN_RX_ACTIVE], &e))
                c->answered++;
            c->raw.ring[CONN_RX_ACTIVE].corrupt = false;
            break;
        }
        case 6: notify_server(CH(i)); break;
        case 7: /* the device works through its queue and interrupts */
            if (virtio) {
                sim_vblk_process(&dev);
                check();
                if (sim_vblk_irq(&dev))
                    notify_server(IRQ_CH);
            }
            break;
        case 8: /* the device misbehaves next time */
            if (virtio) {
                uint8_t how = (uint8_t)take(1);
                dev.fail_next += how & 1;
                dev.bad_used_next |= (how & 2) != 0;
                dev.skip_status_next |= (how & 4) != 0;
            }
            break;
        case 10: direct_request(i); break;
        default: notify_server((unsigned)take(1) % 64); break;
        }
    }
    return 0;
}
