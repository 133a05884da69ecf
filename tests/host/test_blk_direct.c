/* Direct requests of the block server (proto/blk.h): the simulated virtio device moves the data
 * straight between the disk and a client's DMA window, exactly where the segments say; every
 * bad request is refused before the device sees it; they are offered only when the device does
 * DMA and the client has a window. */
#include <string.h>

#include "blk_fixture.h"
#include "sim_pd.h"
#include "test.h"

#define HDR(n) (0x100u * (n)) /* request headers at the start of a data region */
#define TABLE 0x8000u         /* segment tables from here */

static struct blk_seg seg(uint64_t offset, uint32_t len)
{
    return (struct blk_seg){ offset, len, 0 };
}

/* Every byte of the simulated device's disk is 0 but client `ci`'s sectors [s, s + n). */
static bool disk_zero_outside(unsigned ci, uint64_t s, uint64_t n)
{
    uint64_t from = ((uint64_t)ci * 1024 + s) * 512, to = from + n * 512;
    for (uint64_t b = 0; b < (uint64_t)BFX_DISK_SECTORS * 512; b++) {
        if ((b < from || b >= to) && bfx.dev.disk[b])
            return false;
    }
    return true;
}

static void console_forget(void)
{
    sim_pd.console_len = 0;
    sim_pd.console[0] = '\0';
}

static bool bytes_are(const uint8_t *p, uint64_t n, uint8_t v)
{
    for (uint64_t k = 0; k < n; k++) {
        if (p[k] != v)
            return false;
    }
    return true;
}

TEST(blk_direct_offered_on_virtio_with_a_window)
{
    bfx_setup(3, true);
    bfx.cfg.clients[1].window_paddr = NULL; /* client 1 has no window */
    bfx_start();
    /* The model's seg_max is 1022 and it has no SIZE_MAX: the protocol's most. */
    CHECK_EQ(bfx_info(0)->direct_max_segs, BLK_DIRECT_MAX_SEGS);
    CHECK_EQ(bfx_info(0)->direct_window, BFX_WINDOW);
    CHECK(sim_pd_console_has("client 'linux1': sectors 0..1023 (0 MiB), read-write, direct "
                             "requests of up to 256 segments in a DMA window of 0x100000 bytes"));
    CHECK_EQ(bfx_info(1)->magic, BLK_INFO_MAGIC);
    CHECK_EQ(bfx_info(1)->direct_max_segs, 0);
    CHECK_EQ(bfx_info(1)->direct_window, 0);
    CHECK_EQ(bfx_info(2)->direct_max_segs, BLK_DIRECT_MAX_SEGS);
    /* Not offered: UNSUPP, and the device sees nothing. */
    struct blk_seg s = seg(0, 512);
    uint32_t id = bfx_queue_direct(1, BLK_OP_READ_DIRECT, 0, 1, &s, 1, TABLE, HDR(0));
    bfx_kick(1);
    CHECK(bfx_answered(1, id, BLK_S_UNSUPP));
    CHECK_EQ(bfx.dev.requests, 0);
    CHECK(sim_pd_console_has("client 'linux2': request 100 at 0x0: a direct request, not "
                             "offered to it (0x10, 0x0): UNSUPP"));
    CHECK_EQ(bfx.server.client[1].count.refused, 1);
}

TEST(blk_direct_write_then_read_land_exactly_where_the_segments_say)
{
    bfx_setup(2, true);
    bfx_start();
    uint8_t *w = bfx.c[1].window;
    memset(w, 0xcc, BFX_WINDOW);
    /* Three segments of odd lengths, one at the window's very end: 2 sectors in all. */
    struct blk_seg out[3] = { seg(3, 101), seg(5000, 699), seg(BFX_WINDOW - 224, 224) };
    for (unsigned k = 0; k < 3; k++) {
        for (uint32_t b = 0; b < out[k].len; b++)
            w[out[k].offset + b] = (uint8_t)(k * 64 + b % 61 + 1);
    }
    uint32_t id = bfx_queue_direct(1, BLK_OP_WRITE_DIRECT, 50, 2, out, 3, TABLE, HDR(0));
    bfx_kick(1);
    CHECK(bfx_answered(1, id, BLK_S_OK));
    const uint8_t *d = bfx.dev.disk + (1024 + 50) * 512;
    uint64_t at = 0;
    for (unsigned k = 0; k < 3; k++) {
        CHECK(!memcmp(d + at, w + out[k].offset, out[k].len));
        at += out[k].len;
    }
    CHECK_EQ(at, 1024);
    CHECK(disk_zero_outside(1, 50, 2));
    CHECK_EQ(bfx.dev.max_segs_seen, 3);
    /* Read them back into four other segments: 1 + 510 + 1 + 512 bytes. */
    static uint8_t before[BFX_WINDOW];
    memcpy(before, w, BFX_WINDOW);
    struct blk_seg in[4] = { seg(0x20000, 1), seg(0x30001, 510), seg(7, 1),
                             seg(0x40000 - 512, 512) };
    id = bfx_queue_direct(1, BLK_OP_READ_DIRECT, 50, 2, in, 4, TABLE + 0x1000, HDR(1));
    bfx_kick(1);
    CHECK(bfx_answered(1, id, BLK_S_OK));
    at = 0;
    for (unsigned k = 0; k < 4; k++) {
        CHECK(!memcmp(w + in[k].offset, d + at, in[k].len));
        at += in[k].len;
    }
    /* Not a byte more: everything outside the four segments is as it was. */
    for (uint64_t b = 0; b < BFX_WINDOW; b++) {
        bool inside = false;
        for (unsigned k = 0; k < 4; k++)
            inside |= b >= in[k].offset && b < in[k].offset + in[k].len;
        if (!inside && w[b] != before[b]) {
            CHECK_EQ(b, UINT64_MAX); /* names the first byte that changed */
            break;
        }
    }
    /* The data region and the other client's window were left alone. */
    CHECK(bytes_are(bfx.c[1].data + 0x10000, BFX_DATA_SIZE - 0x10000, 0));
    CHECK(bytes_are(bfx.c[0].window, BFX_WINDOW, 0));
    const struct blk_client_counters *n = &bfx.server.client[1].count;
    CHECK_EQ(n->reads, 1);
    CHECK_EQ(n->writes, 1);
    CHECK_EQ(n->direct, 2);
    CHECK_EQ(n->bytes_read, 1024);
    CHECK_EQ(n->bytes_written, 1024);
    CHECK_EQ(bfx.dev.violations, 0);
}

TEST(blk_direct_the_most_segments_and_one_more)
{
    bfx_setup(1, true);
    bfx_start();
    static struct blk_seg many[BLK_DIRECT_MAX_SEGS + 1];
    for (unsigned k = 0; k <= BLK_DIRECT_MAX_SEGS; k++)
        many[k] = seg(0x1000 * k + k, 4); /* 256 x 4 bytes: 2 sectors */
    for (unsigned k = 0; k < 1024; k++)
        bfx.c[0].window[0x1000 * (k / 4) + k / 4 + k % 4] = (uint8_t)(k * 13 + 5);
    uint32_t id =
        bfx_queue_direct(0, BLK_OP_WRITE_DIRECT, 7, 2, many, BLK_DIRECT_MAX_SEGS, TABLE, HDR(0));
    bfx_kick(0);
    CHECK(bfx_answered(0, id, BLK_S_OK));
    CHECK_EQ(bfx.dev.max_segs_seen, BLK_DIRECT_MAX_SEGS);
    for (unsigned k = 0; k < 1024; k++)
        CHECK_EQ(bfx.dev.disk[7 * 512 + k], (uint8_t)(k * 13 + 5));
    many[BLK_DIRECT_MAX_SEGS - 1].len = 2;
    many[BLK_DIRECT_MAX_SEGS].len = 2; /* still 2 sectors, one segment too many */
    unsigned before = bfx.dev.requests;
    id =
        bfx_queue_direct(0, BLK_OP_READ_DIRECT, 7, 2, many, BLK_DIRECT_MAX_SEGS + 1, TABLE, HDR(1));
    bfx_kick(0);
    CHECK(bfx_answered(0, id, BLK_S_IOERR));
    CHECK_EQ(bfx.dev.requests, before);
    CHECK(sim_pd_console_has("a direct request's segments not 1..the most offered (0x101, "
                             "0x100): IOERR"));
    CHECK_EQ(bfx.dev.violations, 0);
}

TEST(blk_direct_bad_requests_are_refused_before_the_device_sees_them)
{
    bfx_setup(2, true);
    bfx_start();
    memset(bfx.c[0].window, 0x3c, BFX_WINDOW);
    const uint64_t W = BFX_WINDOW;
    static const struct {
        uint32_t op, count;
        uint64_t sector;
        struct blk_seg s[2];
        uint32_t nsegs;
        uint64_t table;
        const char *why;
    } bad[] = {
        { BLK_OP_READ_DIRECT, 1, 0, { { W, 512, 0 } }, 1, TABLE, "outside its DMA window" },
        { BLK_OP_READ_DIRECT, 1, 0, { { W - 511, 512, 0 } }, 1, TABLE, "outside its DMA" },
        { BLK_OP_WRITE_DIRECT, 1, 0, { { UINT64_MAX - 5, 512, 0 } }, 1, TABLE, "outside its" },
        { BLK_OP_READ_DIRECT, 1, 0, { { 0, 0, 0 }, { 0, 512, 0 } }, 2, TABLE, "of no bytes" },
        { BLK_OP_READ_DIRECT, 1, 0, { { 0, 511, 0 } }, 1, TABLE, "do not add up" },
        { BLK_OP_READ_DIRECT, 1, 0, { { 0, 512, 0 }, { 600, 1, 0 } }, 2, TABLE, "do not add" },
        { BLK_OP_READ_DIRECT,
          2,
          0,
          { { 0, 0xffffffffu, 0 }, { 0, 0xffffffffu, 0 } },
          2,
          TABLE,
          "outside its DMA window" },
        { BLK_OP_READ_DIRECT, 1, 0, { { 0, 512, 0 } }, 0, TABLE, "segments not 1.." },
        { BLK_OP_READ_DIRECT,
          1,
          0,
          { { 0, 512, 0 } },
          2,
          BFX_DATA_SIZE - 16,
          "segment table outside the data region" },
        { BLK_OP_READ_DIRECT, 1, 0, { { 0, 512, 0 } }, 1, UINT64_MAX - 8, "segment table" },
        { BLK_OP_READ_DIRECT, 0, 0, { { 0, 512, 0 } }, 1, TABLE, "no sectors" },
        { BLK_OP_WRITE_DIRECT, 1, 1024, { { 0, 512, 0 } }, 1, TABLE, "sectors beyond" },
        { BLK_OP_WRITE_DIRECT, 2, 1023, { { 0, 1024, 0 } }, 1, TABLE, "sectors beyond" },
    };
    for (unsigned k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        console_forget();
        bfx.server.client[0].reports = 0; /* each one said */
        uint32_t id = bfx_queue_direct(0, bad[k].op, bad[k].sector, bad[k].count, bad[k].s,
                                       bad[k].nsegs, bad[k].table, HDR(0));
        bfx_kick(0);
        struct ring_entry e;
        CHECK(bfx_answer(0, &e));
        CHECK_EQ(e.id, id);
        CHECK_EQ(e.len, BLK_S_IOERR);
        CHECK(!bfx_answer(0, &e)); /* exactly one answer */
        CHECK(sim_pd_console_has(bad[k].why));
        CHECK(sim_pd_console_has("client 'linux1': request "));
    }
    CHECK_EQ(bfx.dev.requests, 0);
    CHECK(bytes_are(bfx.c[0].window, BFX_WINDOW, 0x3c));
    CHECK(disk_zero_outside(0, 0, 0));
    CHECK_EQ(bfx.server.client[0].count.refused, sizeof(bad) / sizeof(bad[0]));
    CHECK_EQ(bfx_info(0)->direct_max_segs, BLK_DIRECT_MAX_SEGS); /* still offered */
    /* The same client's good request goes through. */
    struct blk_seg ok = seg(W - 512, 512);
    uint32_t id = bfx_queue_direct(0, BLK_OP_READ_DIRECT, 0, 1, &ok, 1, TABLE, HDR(0));
    bfx_kick(0);
    CHECK(bfx_answered(0, id, BLK_S_OK));
    CHECK(bytes_are(bfx.c[0].window + W - 512, 512, 0));
    CHECK_EQ(bfx.dev.violations, 0);
}

TEST(blk_direct_write_to_a_read_only_range_is_refused)
{
    bfx_setup(1, true);
    bfx.cfg.clients[0].read_only = 1;
    bfx_start();
    memset(bfx.c[0].window, 0x44, 512);
    struct blk_seg s = seg(0, 512);
    uint32_t id = bfx_queue_direct(0, BLK_OP_WRITE_DIRECT, 0, 1, &s, 1, TABLE, HDR(0));
    bfx_kick(0);
    CHECK(bfx_answered(0, id, BLK_S_IOERR));
    CHECK(sim_pd_console_has("write to a read-only range"));
    id = bfx_queue_direct(0, BLK_OP_READ_DIRECT, 0, 1, &s, 1, TABLE, HDR(0));
    bfx_kick(0);
    CHECK(bfx_answered(0, id, BLK_S_OK));
    CHECK(bytes_are(bfx.c[0].window, 512, 0));
    CHECK(disk_zero_outside(0, 0, 0));
}

TEST(blk_direct_never_offered_on_a_ram_disk)
{
    bfx_setup(1, false); /* the fixture gives the client a window all the same */
    bfx_start();
    CHECK_EQ(bfx_info(0)->magic, BLK_INFO_MAGIC);
    CHECK_EQ(bfx_info(0)->direct_max_segs, 0);
    CHECK_EQ(bfx_info(0)->direct_window, 0);
    CHECK(sim_pd_console_lacks("direct requests of up to"));
    memset(bfx.c[0].window, 0x21, BFX_WINDOW);
    struct blk_seg s = seg(0, 512);
    uint32_t id = bfx_queue_direct(0, BLK_OP_WRITE_DIRECT, 0, 1, &s, 1, TABLE, HDR(0));
    bfx_kick(0);
    CHECK(bfx_answered(0, id, BLK_S_UNSUPP));
    id = bfx_queue_direct(0, BLK_OP_READ_DIRECT, 0, 1, &s, 1, TABLE, HDR(0));
    bfx_kick(0);
    CHECK(bfx_answered(0, id, BLK_S_UNSUPP));
    CHECK(bytes_are(bfx_disk(), (uint64_t)BFX_DISK_SECTORS * 512, 0xee));
    CHECK(bytes_are(bfx.c[0].window, BFX_WINDOW, 0x21));
}

TEST(blk_direct_bad_windows_are_refused_at_start)
{
    bfx_setup(3, true);
    static const uint64_t near_end = UINT64_MAX - 0xfff;
    bfx.cfg.clients[0].window_paddr = &near_end; /* + 1 MiB runs past 2^64 */
    bfx.cfg.clients[1].window_size = 0;
    static const uint64_t none = 0;
    bfx.cfg.clients[2].window_paddr = &none;
    bfx_start();
    CHECK(sim_pd_console_has("client 'linux1': its DMA window runs past the end of the address "
                             "space (0xfffffffffffff000, 0x100000): no direct requests"));
    CHECK(sim_pd_console_has("client 'linux2': its DMA window has no physical address or no "
                             "size (0x"));
    CHECK(sim_pd_console_has("client 'native': its DMA window has no physical address or no "
                             "size (0x0, 0x100000): no direct requests"));
    for (unsigned i = 0; i < 3; i++) {
        CHECK_EQ(bfx_info(i)->magic, BLK_INFO_MAGIC); /* served, without direct requests */
        CHECK_EQ(bfx_info(i)->direct_max_segs, 0);
        CHECK_EQ(bfx_info(i)->direct_window, 0);
    }
    struct blk_seg s = seg(0, 512);
    uint32_t id = bfx_queue_direct(0, BLK_OP_READ_DIRECT, 0, 1, &s, 1, TABLE, HDR(0));
    bfx_kick(0);
    CHECK(bfx_answered(0, id, BLK_S_UNSUPP));
    CHECK_EQ(bfx.dev.requests, 0);
}

TEST(blk_direct_segments_bounded_by_the_devices_size_max)
{
    /* A device with SIZE_MAX 4096 and seg_max 300: requests carry at most (300 - 2) * 2048
     * bytes, which cut at 4096 take up to 149 descriptors; 151 segments are left. */
    bfx_setup(1, true);
    bfx.dev.offered |= UINT64_C(1) << 1;
    bfx.dev.size_max = 4096;
    bfx.dev.seg_max = 300;
    bfx.cfg.clients[0].sectors = 4096; /* room for the largest request */
    bfx_start();
    CHECK_EQ(bfx_info(0)->direct_max_segs, 151);
    uint32_t max = bfx_info(0)->max_sectors_per_request;
    CHECK_EQ(max, 298 * 2048 / 512);
    /* The worst: 150 one-byte segments and one that the driver cuts into 149 descriptors. */
    static struct blk_seg s[151];
    for (unsigned k = 0; k < 150; k++)
        s[k] = seg(k * 2, 1);
    s[150] = seg(4095, max * 512 - 150);
    uint32_t id = bfx_queue_direct(0, BLK_OP_READ_DIRECT, 0, max, s, 151, TABLE, HDR(0));
    bfx_kick(0);
    CHECK(bfx_answered(0, id, BLK_S_OK));
    CHECK_EQ(bfx.dev.max_segs_seen, 299);
    CHECK_EQ(bfx.dev.violations, 0);
}

static unsigned seen;
static uint64_t seen_pa[8];

static bool record_dma(void *ctx, uint32_t type, uint64_t sector, uint64_t paddr, uint32_t len)
{
    (void)ctx;
    (void)type;
    (void)sector;
    (void)len;
    if (seen < 8)
        seen_pa[seen] = paddr;
    seen++;
    return paddr != (uintptr_t)bfx.c[0].window + 0x5000; /* refuses that one */
}

TEST(blk_direct_model_shows_every_data_buffer_to_its_dma_check)
{
    bfx_setup(1, true);
    bfx_start();
    bfx.dev.dma_check = record_dma;
    seen = 0;
    struct blk_seg s[3] = { seg(0x100, 100), seg(0x2000, 312), seg(0x4000, 100) };
    uint32_t id = bfx_queue_direct(0, BLK_OP_READ_DIRECT, 0, 1, s, 3, TABLE, HDR(0));
    bfx_kick(0);
    CHECK(bfx_answered(0, id, BLK_S_OK));
    CHECK_EQ(seen, 3);
    for (unsigned k = 0; k < 3; k++)
        CHECK_EQ(seen_pa[k], (uintptr_t)bfx.c[0].window + s[k].offset);
    CHECK_EQ(bfx.dev.violations, 0);
    s[2].offset = 0x5000; /* the check refuses it: a violation, and the request fails */
    id = bfx_queue_direct(0, BLK_OP_READ_DIRECT, 0, 1, s, 3, TABLE, HDR(0));
    bfx_kick(0);
    CHECK(bfx_answered(0, id, BLK_S_IOERR));
    CHECK_EQ(bfx.dev.violations, 1);
    CHECK(strstr(bfx.dev.why, "DMA check") != NULL);
}
