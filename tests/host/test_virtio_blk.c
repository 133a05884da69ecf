/*
 * The VMM's virtio block device between a guest driver (real MMIO exits, requests in guest RAM)
 * and the real block server on a RAM disk, or a fake server played by hand: features and
 * configuration, requests of every type in any layout, every way a request can be wrong
 * answered without the server seeing it, several requests in flight answered in any order,
 * resets in the middle of requests, and a server that misbehaves.
 */
#include <string.h>

#include <vmm/psci.h>
#include <vmm/reset.h>

#include "blk_vmm_fx.h"
#include "sim_hyp.h"
#include "sim_pd.h"
#include "test.h"

#define DEV (&fx.vm.virtio[0])
#define BLK (&fx.vm.virtio[0].u.blk)
#define F_SIZE_MAX (1u << 1)
#define F_SEG_MAX (1u << 2)
#define F_RO (1u << 5)
#define F_BLK_SIZE (1u << 6)
#define F_FLUSH (1u << 9)
#define F_INDIRECT (1u << 28)
#define ALL (F_SIZE_MAX | F_SEG_MAX | F_BLK_SIZE | F_FLUSH | F_INDIRECT)

/* The next used entry is `head`, with `status` in its status byte and `len` written. */
static bool used_is(uint16_t head, uint8_t status, uint32_t len)
{
    uint32_t id, l;
    if (!bvx_used(&id, &l)) {
        printf("    no used entry for %u\n", head);
        return false;
    }
    if (id != head || l != len || bvx_status(head) != status) {
        printf("    used %u len %u status %u; wanted %u len %u status %u\n", id, l,
               bvx_status((uint16_t)id), head, len, status);
        return false;
    }
    return true;
}

/* Requests the server took so far (real server: its counters). */
static uint64_t server_saw(void)
{
    const struct blk_client_counters *c = &bvx.server.client[0].count;
    return c->reads + c->writes + c->flushes + c->get_ids + c->refused + c->io_errors;
}

static bool sector_holds(uint64_t disk_sector, uint8_t value)
{
    for (unsigned i = 0; i < 512; i++)
        if (bvx.ramdisk[disk_sector * 512 + i] != value)
            return false;
    return true;
}

TEST(virtio_blk_features_and_configuration)
{
    CHECK(bvx_boot(false, false));
    vio_write(VIO_DEVICE_FEATURES_SEL, 0);
    CHECK_EQ(vio_read(VIO_DEVICE_FEATURES), ALL);
    vio_write(VIO_DEVICE_FEATURES_SEL, 1);
    CHECK_EQ(vio_read(VIO_DEVICE_FEATURES), 1); /* VERSION_1 */
    CHECK_EQ(vio_read(VIO_DEVICE_ID), 2);
    vio_write(VIO_QUEUE_SEL, 0);
    CHECK_EQ(vio_read(VIO_QUEUE_NUM_MAX), 512);
    vio_write(VIO_QUEUE_SEL, 1);
    CHECK_EQ(vio_read(VIO_QUEUE_NUM_MAX), 0); /* one queue */
    CHECK(bvx_driver(ALL));
    /* No disk yet: capacity 0. */
    CHECK_EQ(bvx_config(0), 0);
    CHECK_EQ(bvx_config(8), 4096); /* SIZE_MAX */
    CHECK_EQ(bvx_config(12), 256); /* SEG_MAX */
    CHECK_EQ(bvx_config(20), 512); /* BLK_SIZE */
    uint32_t gen = vio_read(VIO_CONFIG_GENERATION);
    CHECK(!vio_line());
    /* The server becomes ready: the capacity, a new generation, a configuration interrupt. */
    bvx_fake_ready(0x123456789ull, 2048, false);
    CHECK_EQ(bvx_config(0), 0x23456789);
    CHECK_EQ(bvx_config(4), 0x1);
    CHECK_EQ(vio_read(VIO_CONFIG_GENERATION), gen + 1);
    CHECK(vio_line());
    CHECK_EQ(vio_read(VIO_INTERRUPT_STATUS), 2);
    CHECK(sim_console_has("virtio: blk@0xa003e00: disk of 4886718345 sectors (2386092 MiB)"));
    /* Byte-wide reads of the capacity, as Linux may do. */
    CHECK_EQ(vio_access(VIO_CONFIG + 1, 1, 0, 0), 0x67);
    /* The configuration is read-only. */
    vio_write(VIO_CONFIG, 5);
    CHECK_EQ(bvx_config(0), 0x23456789);
}

TEST(virtio_blk_read_only_from_the_declaration_or_the_server)
{
    CHECK(bvx_boot(false, true));
    vio_write(VIO_DEVICE_FEATURES_SEL, 0);
    CHECK_EQ(vio_read(VIO_DEVICE_FEATURES), ALL | F_RO);
    CHECK(bvx_boot(false, false));
    bvx_fake_ready(100, 2048, true);
    vio_write(VIO_DEVICE_FEATURES_SEL, 0);
    CHECK_EQ(vio_read(VIO_DEVICE_FEATURES), ALL | F_RO);
    CHECK(bvx_driver(ALL | F_RO));
    uint16_t h = bvx_request(1, 0, 1, 512, 0);
    CHECK(used_is(h, 1, 1)); /* a write to a read-only disk */
    struct ring_entry e;
    CHECK(!bvx_fake_take(&e, NULL));
}

TEST(virtio_blk_reads_writes_flush_and_id_through_the_server)
{
    CHECK(bvx_boot(true, false));
    CHECK(sim_console_has("virtio: blk@0xa003e00: disk of 4096 sectors (2 MiB)"));
    CHECK(bvx_driver(ALL));
    CHECK_EQ(bvx_config(0), BVX_SECTORS);
    /* Read 8 sectors from sector 5 in two descriptors: the disk's sectors 2053..2060. */
    uint16_t h = bvx_request(0, 5, 2, 2048, 0);
    CHECK(used_is(h, 0, 4097));
    for (unsigned s = 0; s < 8; s++)
        CHECK_EQ(vio_ram(BVX_BUF)[512 * s + 7], (BVX_START + 5 + s) & 0xff);
    /* Write 3 sectors at 100 from three descriptors, then they are on the disk, where the range
     * puts them. */
    for (unsigned i = 0; i < 1536; i++)
        vio_ram(BVX_BUF + 0x4000)[i] = (uint8_t)(0xa0 + i / 512);
    h = bvx_request(1, 100, 3, 512, 0x4000);
    CHECK(used_is(h, 0, 1));
    CHECK(sector_holds(BVX_START + 100, 0xa0));
    CHECK(sector_holds(BVX_START + 102, 0xa2));
    CHECK(sector_holds(BVX_START + 103, (BVX_START + 103) & 0xff));
    h = bvx_request(4, 0, 0, 0, 0);
    CHECK(used_is(h, 0, 1));
    CHECK_EQ(bvx.server.client[0].count.flushes, 1);
    memset(vio_ram(BVX_BUF + 0x8000), 0x55, 20);
    h = bvx_request(8, 0, 1, 20, 0x8000);
    CHECK(used_is(h, 0, 21));
    CHECK(!memcmp(vio_ram(BVX_BUF + 0x8000), "test\0\0\0\0", 8));
    /* The last sector of the disk and the first beyond it. */
    h = bvx_request(0, BVX_SECTORS - 1, 1, 512, 0);
    CHECK(used_is(h, 0, 513));
    h = bvx_request(0, BVX_SECTORS, 1, 512, 0);
    CHECK(used_is(h, 1, 1));
    CHECK(!DEV->needs_reset);
    CHECK_EQ(BLK->req_free, 0xffff); /* every slot back */
}

TEST(virtio_blk_any_layout)
{
    CHECK(bvx_boot(true, false));
    CHECK(bvx_driver(ALL));
    /* The header split over two descriptors (10 + 6 bytes), then data and the status byte in
     * one writable descriptor of 513 bytes. */
    uint8_t hdr[16] = { 0 };
    hdr[8] = 9; /* sector 9 */
    memcpy(vio_ram(BVX_HDR), hdr, 10);
    memcpy(vio_ram(BVX_HDR + 0x100), hdr + 10, 6);
    struct bvx_seg segs[] = { { BVX_HDR, 10, false },
                              { BVX_HDR + 0x100, 6, false },
                              { BVX_BUF, 513, true } };
    uint16_t h = bvx_chain(segs, 3);
    uint32_t id, len;
    CHECK(bvx_used(&id, &len));
    CHECK_EQ(id, h);
    CHECK_EQ(len, 513);
    CHECK_EQ(vio_ram(BVX_BUF)[0], (BVX_START + 9) & 0xff);
    CHECK_EQ(vio_ram(BVX_BUF)[512], 0); /* the status byte */
    /* A write whose header and data share the first descriptor; zero-length descriptors in the
     * middle hold nothing. */
    uint8_t *p = vio_ram(BVX_BUF + 0x1000);
    memset(p, 0, 16);
    p[0] = 1;  /* OUT */
    p[8] = 40; /* sector 40 */
    memset(p + 16, 0x3c, 512);
    struct bvx_seg w[] = { { BVX_BUF + 0x1000, 16 + 256, false },
                           { BVX_BUF + 0x3000, 0, false },
                           { BVX_BUF + 0x1000 + 16 + 256, 256, false },
                           { BVX_STATUS, 1, true } };
    h = bvx_chain(w, 4);
    CHECK(bvx_used(&id, &len));
    CHECK_EQ(id, h);
    CHECK_EQ(*vio_ram(BVX_STATUS), 0);
    CHECK(sector_holds(BVX_START + 40, 0x3c));
}

/* A request the device must refuse without the server seeing it. */
static bool refused(const struct bvx_seg *segs, unsigned n, uint8_t status, uint64_t status_gpa)
{
    uint64_t before = server_saw();
    *vio_ram(status_gpa) = 0xee;
    uint16_t h = bvx_chain(segs, n);
    uint32_t id, len;
    if (!bvx_used(&id, &len) || id != h || len != 1 || *vio_ram(status_gpa) != status) {
        printf("    not refused with status %u (status byte %u)\n", status, *vio_ram(status_gpa));
        return false;
    }
    if (server_saw() != before || DEV->needs_reset) {
        printf("    the server saw it, or the device needs a reset\n");
        return false;
    }
    return true;
}

static void header(uint64_t gpa, uint32_t type, uint64_t sector)
{
    memset(vio_ram(gpa), 0, 16);
    memcpy(vio_ram(gpa), &type, 4);
    memcpy(vio_ram(gpa) + 8, &sector, 8);
}

TEST(virtio_blk_bad_requests_are_answered_not_sent)
{
    CHECK(bvx_boot(true, false));
    CHECK(bvx_driver(ALL));
    const uint64_t H = BVX_HDR, S = BVX_STATUS, B = BVX_BUF;
    /* The header shorter than 16 bytes. */
    header(H, 0, 0);
    struct bvx_seg short_hdr[] = { { H, 8, false }, { S, 1, true } };
    CHECK(refused(short_hdr, 2, 1, S));
    /* Sectors beyond the capacity, and wrapping around. */
    static const uint64_t sectors[] = { BVX_SECTORS, BVX_SECTORS - 1, UINT64_MAX, UINT64_MAX - 1 };
    static const uint32_t counts[] = { 1, 2, 1, 4 };
    for (unsigned k = 0; k < 4; k++) {
        header(H, 0, sectors[k]);
        struct bvx_seg segs[] = { { H, 16, false }, { B, 512 * counts[k], true }, { S, 1, true } };
        CHECK(refused(segs, 3, 1, S));
    }
    /* Data not a multiple of 512 bytes; no data at all. */
    header(H, 0, 0);
    struct bvx_seg odd[] = { { H, 16, false }, { B, 500, true }, { S, 1, true } };
    CHECK(refused(odd, 3, 1, S));
    struct bvx_seg none[] = { { H, 16, false }, { S, 1, true } };
    CHECK(refused(none, 2, 1, S));
    /* Data in the direction the type does not move: a read with readable data, a write with
     * writable data. */
    struct bvx_seg in_out[] = { { H, 16, false }, { B, 512, false }, { S, 1, true } };
    CHECK(refused(in_out, 3, 1, S));
    header(H, 1, 0);
    struct bvx_seg out_in[] = { { H, 16, false }, { B, 512, true }, { S, 1, true } };
    CHECK(refused(out_in, 3, 1, S));
    /* More data descriptors than SEG_MAX: a write whose first descriptor holds the header and
     * data, then 256 more of data, then the status byte: 257 of data. */
    header(H, 1, 0);
    static struct bvx_seg many[260];
    many[0] = (struct bvx_seg){ H, 16 + 512, false };
    for (unsigned i = 1; i < 258; i++)
        many[i] = (struct bvx_seg){ B + 512u * i, 512, false };
    many[257] = (struct bvx_seg){ S, 1, true };
    CHECK(refused(many, 258, 1, S));
    struct bvx_seg big[] = { { H, 16, false }, { B, 8192, true }, { S, 1, true } };
    header(H, 0, 0);
    CHECK(refused(big, 3, 1, S));
    /* 256 of them are fine (a read: header, 256 data, status). */
    many[0] = (struct bvx_seg){ H, 16, false };
    for (unsigned i = 1; i < 257; i++)
        many[i] = (struct bvx_seg){ B + 512u * i, 512, true };
    many[257] = (struct bvx_seg){ S, 1, true };
    *vio_ram(S) = 0xee;
    uint16_t h = bvx_chain(many, 258);
    uint32_t id, len;
    CHECK(bvx_used(&id, &len));
    CHECK_EQ(id, h);
    CHECK_EQ(len, 256 * 512 + 1);
    CHECK_EQ(*vio_ram(S), 0);
    /* Unknown types: UNSUPP. */
    header(H, 3, 0);
    CHECK(refused(none, 2, 2, S));
    header(H, 0x80000000u, 0);
    CHECK(refused(none, 2, 2, S));
    /* A flush with data; GET_ID with less than 20 bytes. */
    header(H, 4, 0);
    CHECK(refused(in_out, 3, 1, S));
    header(H, 8, 0);
    struct bvx_seg id_short[] = { { H, 16, false }, { B, 10, true }, { S, 1, true } };
    CHECK(refused(id_short, 3, 1, S));
    CHECK(sim_console_has("virtio: warning: blk@0xa003e00: requestq: request from descriptor"));
    CHECK(sim_console_has("sectors beyond the disk's capacity; answered IOERR"));
    CHECK(BLK->refused_reqs >= 10);
    /* After all that the device still works. */
    h = bvx_request(0, 1, 1, 512, 0);
    CHECK(used_is(h, 0, 513));
}

/* An indirect table at `table` holding `segs`, published as one descriptor. */
static uint16_t indirect_chain(uint64_t table, const struct bvx_seg *segs, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint8_t *p = vio_ram(table + 16u * i);
        uint16_t flags = (uint16_t)((segs[i].writable ? VIO_D_WRITE : 0) |
                                    (i + 1 < n ? VIO_D_NEXT : 0)),
                 next = (uint16_t)(i + 1);
        memcpy(p, &segs[i].gpa, 8);
        memcpy(p + 8, &segs[i].len, 4);
        memcpy(p + 12, &flags, 2);
        memcpy(p + 14, &next, 2);
    }
    uint16_t head = bvx.next_desc;
    vdrv_desc(0, head, table, 16u * n, VIO_D_INDIRECT, 0);
    bvx.next_desc = (uint16_t)((head + 1) % BVX_Q);
    vdrv_avail(0, head);
    vdrv_notify(0);
    bvx_pump();
    return head;
}

TEST(virtio_blk_indirect_descriptors)
{
    const uint64_t T = VIO_DATA + 0x8000; /* the indirect table */
    CHECK(bvx_boot(true, false));
    CHECK(bvx_driver(ALL));
    header(BVX_HDR, 0, 3);
    struct bvx_seg segs[] = { { BVX_HDR, 16, false },
                              { BVX_BUF, 1024, true },
                              { BVX_BUF + 4096, 512, true },
                              { BVX_STATUS, 1, true } };
    *vio_ram(BVX_STATUS) = 0xee;
    uint16_t h = indirect_chain(T, segs, 4);
    uint32_t id, len;
    CHECK(bvx_used(&id, &len));
    CHECK_EQ(id, h);
    CHECK_EQ(len, 1537);
    CHECK_EQ(*vio_ram(BVX_STATUS), 0);
    CHECK_EQ(vio_ram(BVX_BUF)[0], (BVX_START + 3) & 0xff);
    CHECK_EQ(vio_ram(BVX_BUF + 4096)[0], (BVX_START + 5) & 0xff);
    CHECK(!DEV->needs_reset);
    /* An indirect table inside an indirect table: the device needs a reset. */
    struct bvx_seg nested[] = { { BVX_HDR, 16, false }, { T + 0x100, 32, false } };
    uint16_t indirect_flag = VIO_D_INDIRECT;
    for (unsigned k = 0; k < 2; k++) /* written as a chain, then entry 1 made indirect */
        memcpy(vio_ram(T + 16u * k), &nested[k].gpa, 8);
    uint32_t lens[2] = { 16, 32 };
    uint16_t flags0 = VIO_D_NEXT, next0 = 1;
    memcpy(vio_ram(T + 8), &lens[0], 4);
    memcpy(vio_ram(T + 12), &flags0, 2);
    memcpy(vio_ram(T + 14), &next0, 2);
    memcpy(vio_ram(T + 24), &lens[1], 4);
    memcpy(vio_ram(T + 28), &indirect_flag, 2);
    vdrv_desc(0, bvx.next_desc, T, 32, VIO_D_INDIRECT, 0);
    vdrv_avail(0, bvx.next_desc);
    vdrv_notify(0);
    CHECK(DEV->needs_reset);
    CHECK(sim_console_has("is indirect inside an indirect table"));
    /* A driver that did not negotiate VIRTIO_F_INDIRECT_DESC may not use it. */
    CHECK(bvx_driver(ALL & ~F_INDIRECT));
    indirect_chain(T, segs, 4);
    CHECK(DEV->needs_reset);
    CHECK(sim_console_has("VIRTIO_F_INDIRECT_DESC was not negotiated"));
    /* A table of a size that is not whole descriptors, or outside guest RAM. */
    CHECK(bvx_driver(ALL));
    vdrv_desc(0, 0, T, 24, VIO_D_INDIRECT, 0);
    vdrv_avail(0, 0);
    vdrv_notify(0);
    CHECK(sim_console_has("is an indirect table whose size is not 1 to 512 descriptors"));
    CHECK(bvx_driver(ALL));
    vdrv_desc(0, 0, FX_RAM_BASE + FX_RAM_SIZE - 16, 32, VIO_D_INDIRECT, 0);
    vdrv_avail(0, 0);
    vdrv_notify(0);
    CHECK(sim_console_has("is an indirect table not inside guest RAM"));
    CHECK_EQ(bvx.server.client[0].count.refused, 0);
}

TEST(virtio_blk_broken_chains_need_a_reset)
{
    /* No status byte at all (the last byte is device-readable): nothing can be answered. */
    CHECK(bvx_boot(true, false));
    CHECK(bvx_driver(ALL));
    header(BVX_HDR, 0, 0);
    struct bvx_seg no_status[] = { { BVX_HDR, 16, false }, { BVX_BUF, 513, false } };
    bvx_chain(no_status, 2);
    CHECK(DEV->needs_reset);
    CHECK(vio_read(VIO_STATUS) & VIO_S_NEEDS_RESET);
    CHECK(sim_console_has("has no device-writable status byte"));
    CHECK_EQ(server_saw(), 0);
    /* Data outside guest RAM. */
    CHECK(bvx_boot(true, false));
    CHECK(bvx_driver(ALL));
    struct bvx_seg outside[] = { { BVX_HDR, 16, false },
                                 { FX_RAM_BASE + FX_RAM_SIZE - 256, 512, true },
                                 { BVX_STATUS, 1, true } };
    bvx_chain(outside, 3);
    CHECK(DEV->needs_reset);
    CHECK(sim_console_has("is not inside guest RAM"));
    CHECK_EQ(server_saw(), 0);
    /* A reset makes it usable again. */
    CHECK(bvx_driver(ALL));
    CHECK(!DEV->needs_reset);
    uint16_t h = bvx_request(0, 0, 1, 512, 0);
    CHECK(used_is(h, 0, 513));
}

TEST(virtio_blk_several_in_flight_answered_in_any_order)
{
    CHECK(bvx_boot(false, false));
    bvx_fake_ready(1000, 2048, false);
    CHECK(bvx_driver(ALL));
    uint16_t heads[10];
    for (unsigned k = 0; k < 10; k++)
        heads[k] = bvx_request(0, 10 * k, 2, 512, 0x2000 * k);
    struct ring_entry e[10];
    struct blk_request r[10];
    for (unsigned k = 0; k < 10; k++) {
        CHECK(bvx_fake_take(&e[k], &r[k]));
        CHECK_EQ(r[k].op, BLK_OP_READ);
        CHECK_EQ(r[k].sector, 10 * k);
        CHECK_EQ(r[k].count, 2);
        CHECK_EQ(e[k].len, sizeof(struct blk_request));
    }
    CHECK(!bvx_fake_take(&e[0], NULL));
    /* The data pages of different requests do not overlap. */
    for (unsigned a = 0; a < 10; a++)
        for (unsigned b = a + 1; b < 10; b++)
            CHECK(r[a].data + 1024 <= r[b].data || r[b].data + 1024 <= r[a].data);
    /* The server answers in reverse order, each read's data marked. */
    uint8_t *region = (uint8_t *)fx.virtio[0].conn.tx_data;
    for (unsigned k = 10; k-- > 0;) {
        memset(region + r[k].data, 0x40 + k, 1024);
        bvx_fake_answer(e[k].offset, k == 3 ? BLK_S_IOERR : BLK_S_OK, e[k].id);
    }
    for (unsigned k = 10; k-- > 0;) {
        CHECK(used_is(heads[k], k == 3 ? 1 : 0, k == 3 ? 1 : 1025));
        if (k != 3)
            CHECK_EQ(vio_ram(BVX_BUF + 0x2000 * k)[1023], 0x40 + k);
    }
    CHECK_EQ(vio_ram(BVX_BUF + 0x2000 * 3)[0], 0); /* a failed read copies nothing */
    CHECK_EQ(BLK->req_free, 0xffff);
}

TEST(virtio_blk_waits_for_room_at_the_server)
{
    /* 16 slots: the 17th request waits in the queue until an answer frees a slot. Then data
     * pages: a request larger than the free pages waits for them. */
    CHECK(bvx_boot(false, false));
    bvx_fake_ready(100000, 2048, false);
    CHECK(bvx_driver(ALL));
    uint16_t heads[17];
    for (unsigned k = 0; k < 17; k++)
        heads[k] = bvx_request(1, k, 1, 512, 0);
    struct ring_entry e[17];
    unsigned n = 0;
    while (n < 17 && bvx_fake_take(&e[n], NULL))
        n++;
    CHECK_EQ(n, 16);
    CHECK(BLK->held);
    bvx_fake_answer(e[5].offset, BLK_S_OK, e[5].id);
    CHECK(used_is(heads[5], 0, 1));
    CHECK(bvx_fake_take(&e[16], NULL)); /* the waiting one went */
    CHECK(!BLK->held);
    for (unsigned k = 0; k < 17; k++)
        if (k != 5)
            bvx_fake_answer(e[k].offset, BLK_S_OK, e[k].id);
    uint32_t id, len;
    for (unsigned k = 0; k < 16; k++)
        CHECK(bvx_used(&id, &len));
    CHECK_EQ(BLK->req_free, 0xffff);
    /* 256 data pages: two requests of 126 pages, then a third waits for one of them. */
    uint16_t a = bvx_request(0, 0, 126, 4096, 0);
    uint16_t b = bvx_request(0, 0, 126, 4096, 0);
    uint16_t c = bvx_request(0, 0, 126, 4096, 0);
    CHECK(bvx_fake_take(&e[0], NULL));
    CHECK(bvx_fake_take(&e[1], NULL));
    CHECK(!bvx_fake_take(&e[2], NULL));
    bvx_fake_answer(e[1].offset, BLK_S_OK, e[1].id);
    CHECK(used_is(b, 0, 126 * 4096 + 1));
    CHECK(bvx_fake_take(&e[2], NULL));
    bvx_fake_answer(e[0].offset, BLK_S_OK, e[0].id);
    bvx_fake_answer(e[2].offset, BLK_S_OK, e[2].id);
    CHECK(used_is(a, 0, 126 * 4096 + 1));
    CHECK(used_is(c, 0, 126 * 4096 + 1));
    /* With a data region of 64 data pages, a request of 65 pages could never fit: refused
     * rather than left waiting. */
    bvx.data_size = 65 * 4096;
    CHECK(bvx_boot(false, false));
    bvx.data_size = 0;
    bvx_fake_ready(100000, 1000000, false);
    CHECK(bvx_driver(ALL));
    uint16_t h = bvx_request(0, 0, 65, 4096, 0);
    CHECK(used_is(h, 1, 1));
    CHECK(sim_console_has("more data than the connection's data region holds"));
}

TEST(virtio_blk_reset_in_the_middle_of_requests_drops_their_answers)
{
    CHECK(bvx_boot(false, false));
    bvx_fake_ready(1000, 2048, false);
    CHECK(bvx_driver(ALL));
    memset(vio_ram(BVX_BUF), 0x11, 0x10000);
    uint16_t heads[3];
    for (unsigned k = 0; k < 3; k++)
        heads[k] = bvx_request(0, k, 1, 512, 0x1000 * k);
    struct ring_entry e[3];
    struct blk_request r[3];
    for (unsigned k = 0; k < 3; k++)
        CHECK(bvx_fake_take(&e[k], &r[k]));
    /* The driver resets the device (as Linux does when it removes it, or a new kernel). */
    vio_write(VIO_STATUS, 0);
    uint8_t *region = (uint8_t *)fx.virtio[0].conn.tx_data;
    memset(region + r[0].data, 0x99, 512);
    bvx_fake_answer(e[0].offset, BLK_S_OK, e[0].id);
    /* A new driver sets the queue up again; the old answers do not reach it. */
    CHECK(bvx_driver(ALL));
    bvx_fake_answer(e[1].offset, BLK_S_OK, e[1].id);
    uint32_t id, len;
    CHECK(!bvx_used(&id, &len));
    CHECK_EQ(vio_ram(BVX_BUF)[0], 0x11); /* nothing written into guest RAM */
    CHECK_EQ(BLK->dropped, 2);
    /* The queue disabled and enabled again: the same. */
    uint16_t h = bvx_request(0, 7, 1, 512, 0x5000);
    struct ring_entry e4;
    CHECK(bvx_fake_take(&e4, NULL));
    vio_write(VIO_QUEUE_SEL, 0);
    vio_write(VIO_QUEUE_READY, 0);
    bvx_fake_answer(e4.offset, BLK_S_OK, e4.id);
    CHECK_EQ(BLK->dropped, 3);
    /* The guest reboots with a request at the server. */
    CHECK(bvx_driver(ALL));
    h = bvx_request(0, 8, 1, 512, 0x6000);
    CHECK(bvx_fake_take(&e4, NULL));
    struct exit_reply rep;
    fx_smc(0, PSCI_SYSTEM_RESET, 0, 0, 0, &rep);
    CHECK_EQ(fx.vm.state, VM_RESETTING);
    bvx_fake_answer(e4.offset, BLK_S_OK, e4.id); /* while the guest is not running */
    fx_smc(0, VMM_FID_GIC_DRAINED, 0, 0, 0, &rep);
    CHECK_EQ(fx.vm.state, VM_RUNNING);
    CHECK_EQ(fx.vm.boots, 2);
    bvx_fake_answer(e[2].offset, BLK_S_OK, e[2].id); /* after the new boot */
    CHECK_EQ(BLK->dropped, 5);
    CHECK(!bvx_used(&id, &len));
    /* Every slot is free again, and the next driver's requests work. */
    CHECK_EQ(BLK->req_free, 0xffff);
    CHECK(bvx_driver(ALL));
    h = bvx_request(0, 9, 1, 512, 0x7000);
    CHECK(bvx_fake_take(&e4, NULL));
    bvx_fake_answer(e4.offset, BLK_S_OK, e4.id);
    CHECK(used_is(h, 0, 513));
    (void)heads;
}

TEST(virtio_blk_server_that_misbehaves)
{
    CHECK(bvx_boot(false, false));
    bvx_fake_ready(1000, 2048, false);
    CHECK(bvx_driver(ALL));
    uint16_t h = bvx_request(0, 1, 1, 512, 0);
    struct ring_entry e;
    CHECK(bvx_fake_take(&e, NULL));
    /* Answers for no request: an id beyond the slots, a free slot, the wrong offset. */
    bvx_fake_answer(e.offset, BLK_S_OK, 40);
    bvx_fake_answer(e.offset, BLK_S_OK, e.id + 1);
    bvx_fake_answer(e.offset + 32, BLK_S_OK, e.id);
    uint32_t id, len;
    CHECK(!bvx_used(&id, &len));
    CHECK_EQ(BLK->bad_entries, 3);
    CHECK(sim_console_has("answers no request at the server; dropped"));
    /* A status the protocol does not have: IOERR. Then a second answer for it: dropped. */
    bvx_fake_answer(e.offset, 7, e.id);
    CHECK(used_is(h, 1, 1));
    bvx_fake_answer(e.offset, BLK_S_OK, e.id);
    CHECK(!bvx_used(&id, &len));
    CHECK_EQ(BLK->bad_entries, 4);
    /* A corrupt ring stops the connection: what is at the server fails, later requests too. */
    h = bvx_request(0, 2, 1, 512, 0);
    CHECK(bvx_fake_take(&e, NULL));
    struct ring_shm *rx = bvx.fake.ring[CONN_RX_ACTIVE].shm;
    rx->head = rx->tail + 1000;
    vm_notified(&fx.vm, FX_VIRTIO_CH);
    CHECK(BLK->conn_dead);
    CHECK(used_is(h, 1, 1));
    CHECK(sim_console_has("its RX_ACTIVE ring is corrupt"));
    h = bvx_request(0, 3, 1, 512, 0);
    CHECK(used_is(h, 1, 1));
    CHECK(!bvx_fake_take(&e, NULL));
}

TEST(virtio_blk_server_limits_too_small_for_the_device)
{
    CHECK(bvx_boot(false, false));
    bvx_fake_ready(1000, 64, false);
    CHECK(sim_console_has("the block server takes at most 64 sectors per request; this device "
                          "needs 2048: no disk"));
    CHECK(bvx_driver(ALL));
    CHECK_EQ(bvx_config(0), 0);
    uint16_t h = bvx_request(0, 0, 1, 512, 0);
    CHECK(used_is(h, 1, 1));
}

TEST(virtio_blk_chain_changed_while_at_the_server)
{
    CHECK(bvx_boot(false, false));
    bvx_fake_ready(1000, 2048, false);
    CHECK(bvx_driver(ALL));
    uint16_t h = bvx_request(0, 1, 2, 512, 0);
    struct ring_entry e;
    CHECK(bvx_fake_take(&e, NULL));
    /* The guest shrinks the second data descriptor: the answer finds fewer bytes to fill. */
    vdrv_desc(0, (uint16_t)(h + 2), BVX_BUF + 512, 100, VIO_D_WRITE | VIO_D_NEXT,
              (uint16_t)(h + 3));
    memset(vio_ram(BVX_BUF + 612), 0x77, 512);
    bvx_fake_answer(e.offset, BLK_S_OK, e.id);
    CHECK(DEV->needs_reset);
    CHECK(sim_console_has("changed while its request was at the block server"));
    CHECK_EQ(vio_ram(BVX_BUF + 612)[0], 0x77); /* nothing beyond what the chain holds now */
    CHECK_EQ(BLK->req_free, 0xffff);
}

TEST(virtio_blk_completion_wakes_a_sleeping_vcpu)
{
    /* The guest waits for its read in WFI: the answer must wake it at once, not at its next
     * timer deadline. */
    CHECK(bvx_boot(false, false));
    bvx_fake_ready(1000, 2048, false);
    CHECK(bvx_driver(ALL));
    fx_gicd_write(0, 0x000, 1); /* distributor on */
    fx_gicd_write(0, 0x100 + 4 * (FX_VIRTIO_IRQ / 32), 1u << (FX_VIRTIO_IRQ % 32)); /* enable */
    uint16_t h = bvx_request(0, 1, 1, 512, 0);
    struct ring_entry e;
    CHECK(bvx_fake_take(&e, NULL));
    struct exit_reply r;
    sim.vcpu[0].cntv_ctl = 1;
    sim.vcpu[0].cntv_cval = sim.now + 1000000; /* the next tick, far away */
    fx_wfx(0, 0, &r);
    CHECK(!r.resume);
    CHECK(fx.vm.sleeping[0]);
    bvx_fake_answer(e.offset, BLK_S_OK, e.id);
    CHECK(used_is(h, 0, 513));
    CHECK(!fx.vm.sleeping[0]);
    CHECK(sim.vcpu[0].running);
}
