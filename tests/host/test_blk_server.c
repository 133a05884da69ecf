/* The block server on a RAM disk and on the simulated virtio block device: each client reaches
 * its own range only, whatever it queues; answers come once per request; flushes reach the
 * device; several requests are in flight; clients take turns. */
#include <string.h>

#include "blk_fixture.h"
#include "sim_pd.h"
#include "test.h"

#define HDR(n) (0x100u * (n)) /* request headers at the start of a data region */
#define BUF 0x10000u          /* data buffers from here */

/* Every byte of the disk outside [start, start + sectors) still holds `fill`. */
static bool disk_untouched_outside(uint64_t start, uint64_t sectors, uint8_t fill)
{
    const uint8_t *d = bfx_disk();
    for (uint64_t b = 0; b < (uint64_t)BFX_DISK_SECTORS * 512; b++) {
        if ((b < start * 512 || b >= (start + sectors) * 512) && d[b] != fill)
            return false;
    }
    return true;
}

TEST(blk_server_ramdisk_reads_and_writes_each_clients_own_range)
{
    bfx_setup(2, false);
    bfx_start();
    CHECK(sim_pd_console_has("blk_server disk: ramdisk, 8192 sectors (4 MiB), 2 clients"));
    CHECK(sim_pd_console_has("client 'linux1': sectors 0..1023 (0 MiB), read-write"));
    CHECK(sim_pd_console_has("client 'linux2': sectors 1024..2047"));
    for (unsigned i = 0; i < 2; i++) {
        CHECK_EQ(bfx_info(i)->magic, BLK_INFO_MAGIC);
        CHECK_EQ(bfx_info(i)->capacity, 1024);
        CHECK_EQ(bfx_info(i)->read_only, 0);
        CHECK(bfx_info(i)->max_sectors_per_request >= BLK_MIN_REQUEST_SECTORS);
        CHECK_EQ(sim_pd_take_notify(BFX_SERVER_CH(i)), 1); /* told it is ready */
    }
    memset(bfx.c[1].data + BUF, 0x5a, 2048);
    uint32_t id = bfx_queue(1, BLK_OP_WRITE, 10, 4, BUF, HDR(0));
    bfx_kick(1);
    CHECK(bfx_answered(1, id, BLK_S_OK));
    CHECK_EQ(sim_pd_take_notify(BFX_SERVER_CH(1)), 1);
    CHECK_EQ(bfx_disk()[(1024 + 10) * 512], 0x5a);
    CHECK_EQ(bfx_disk()[(1024 + 14) * 512 - 1], 0x5a);
    CHECK(disk_untouched_outside(1034, 4, 0xee));
    id = bfx_queue(1, BLK_OP_READ, 9, 6, BUF + 0x1000, HDR(1));
    bfx_kick(1);
    CHECK(bfx_answered(1, id, BLK_S_OK));
    CHECK_EQ(bfx.c[1].data[BUF + 0x1000], 0xee);
    CHECK_EQ(bfx.c[1].data[BUF + 0x1000 + 512], 0x5a);
    CHECK_EQ(bfx.c[1].data[BUF + 0x1000 + 5 * 512 - 1], 0x5a);
    CHECK_EQ(bfx.c[1].data[BUF + 0x1000 + 5 * 512], 0xee);
    /* Client 0 reads its sector 10: not client 1's data. */
    id = bfx_queue(0, BLK_OP_READ, 10, 1, BUF, HDR(0));
    bfx_kick(0);
    CHECK(bfx_answered(0, id, BLK_S_OK));
    CHECK_EQ(bfx.c[0].data[BUF], 0xee);
    CHECK_EQ(bfx.server.client[1].count.writes, 1);
    CHECK_EQ(bfx.server.client[1].count.bytes_read, 6 * 512);
}

TEST(blk_server_refuses_requests_outside_the_range_or_the_data_region)
{
    bfx_setup(2, false);
    bfx_start();
    memset(bfx.c[0].data, 0x11, BFX_DATA_SIZE);
    static const struct {
        uint32_t op, count;
        uint64_t sector, data;
        uint32_t status;
    } bad[] = {
        { BLK_OP_WRITE, 1, 1024, BUF, BLK_S_IOERR },              /* first sector beyond */
        { BLK_OP_WRITE, 2, 1023, BUF, BLK_S_IOERR },              /* last sector beyond */
        { BLK_OP_WRITE, 4, UINT64_MAX - 1, BUF, BLK_S_IOERR },    /* wraps around */
        { BLK_OP_WRITE, UINT32_MAX, 1, BUF, BLK_S_IOERR },        /* huge count */
        { BLK_OP_WRITE, 0, 5, BUF, BLK_S_IOERR },                 /* no sectors */
        { BLK_OP_WRITE, 2, 5, BFX_DATA_SIZE - 512, BLK_S_IOERR }, /* buffer past the end */
        { BLK_OP_READ, 1, 5, UINT64_MAX - 100, BLK_S_IOERR },     /* buffer offset wraps */
        { BLK_OP_READ, 1, 5, BFX_DATA_SIZE, BLK_S_IOERR },        /* buffer at the end */
        { 3, 1, 5, BUF, BLK_S_UNSUPP },                           /* no such op */
        { 0xffffffffu, 1, 5, BUF, BLK_S_UNSUPP },                 /* no such op */
        { BLK_OP_GET_ID, 1, 0, BFX_DATA_SIZE - 10, BLK_S_IOERR }, /* id past the end */
    };
    for (unsigned k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        uint32_t id = bfx_queue(0, bad[k].op, bad[k].sector, bad[k].count, bad[k].data, HDR(0));
        bfx_kick(0);
        struct ring_entry e;
        CHECK(bfx_answer(0, &e));
        CHECK_EQ(e.id, id);
        CHECK_EQ(e.offset, HDR(0));
        CHECK_EQ(e.len, bad[k].status);
        CHECK(!bfx_answer(0, &e)); /* exactly one answer */
    }
    /* Entries that name no header: answered IOERR with their own offset and id. */
    bfx_queue_entry(0, HDR(1), 8, 7);             /* too short */
    bfx_queue_entry(0, BFX_DATA_SIZE - 8, 24, 8); /* header past the end */
    bfx_queue_entry(0, UINT64_MAX - 4, 24, 9);    /* offset wraps */
    bfx_queue_entry(0, HDR(1) + 3, 24, 10);       /* unaligned */
    bfx_kick(0);
    for (uint32_t id = 7; id <= 10; id++) {
        struct ring_entry e;
        CHECK(bfx_answer(0, &e));
        CHECK_EQ(e.id, id);
        CHECK_EQ(e.len, BLK_S_IOERR);
    }
    CHECK(disk_untouched_outside(0, 0, 0xee)); /* nothing written anywhere */
    CHECK_EQ(bfx.server.client[0].count.refused, 15);
    CHECK_EQ(bfx.server.client[0].count.bad_entries, 4);
    CHECK(sim_pd_console_has("client 'linux1': request "));
    CHECK(sim_pd_console_has("sectors beyond its range (0x400, 0x1): IOERR"));
    CHECK(sim_pd_console_has("client 'linux1': more bad requests are counted, not reported"));
    /* The other client was not affected. */
    uint32_t id = bfx_queue(1, BLK_OP_READ, 0, 1, BUF, HDR(0));
    bfx_kick(1);
    CHECK(bfx_answered(1, id, BLK_S_OK));
}

TEST(blk_server_read_only_range_refuses_writes)
{
    bfx_setup(1, false);
    bfx.cfg.clients[0].read_only = 1;
    bfx_start();
    CHECK_EQ(bfx_info(0)->read_only, 1);
    CHECK(sim_pd_console_has("read-only"));
    uint32_t id = bfx_queue(0, BLK_OP_WRITE, 0, 1, BUF, HDR(0));
    bfx_kick(0);
    CHECK(bfx_answered(0, id, BLK_S_IOERR));
    id = bfx_queue(0, BLK_OP_FLUSH, 0, 0, 0, HDR(0));
    bfx_kick(0);
    CHECK(bfx_answered(0, id, BLK_S_OK));
    CHECK(disk_untouched_outside(0, 0, 0xee));
}

TEST(blk_server_get_id_is_the_clients_name)
{
    bfx_setup(2, false);
    bfx_start();
    memset(bfx.c[1].data + BUF, 0x77, 32);
    uint32_t id = bfx_queue(1, BLK_OP_GET_ID, 0, 0, BUF, HDR(0));
    bfx_kick(1);
    CHECK(bfx_answered(1, id, BLK_S_OK));
    CHECK(!memcmp(bfx.c[1].data + BUF, "linux2\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20));
    CHECK_EQ(bfx.c[1].data[BUF + 20], 0x77); /* not a byte more */
}

TEST(blk_server_overlapping_or_oversized_ranges_are_refused_at_start)
{
    bfx_setup(3, false);
    bfx.cfg.clients[1].start = 1000; /* overlaps client 0's 0..1023 */
    bfx.cfg.clients[2].start = BFX_DISK_SECTORS - 10;
    bfx.cfg.clients[2].sectors = 11; /* one past the end */
    bfx_start();
    CHECK_EQ(bfx_info(0)->magic, BLK_INFO_MAGIC);
    CHECK_EQ(bfx_info(1)->magic, 0);
    CHECK_EQ(bfx_info(2)->magic, 0);
    CHECK(sim_pd_console_has("client 'linux2': its range overlaps another client's: no disk"));
    CHECK(sim_pd_console_has("client 'native': its range reaches beyond the disk: no disk"));
    /* A refused client's requests are not taken. */
    bfx_queue(1, BLK_OP_WRITE, 0, 1, BUF, HDR(0));
    bfx_kick(1);
    struct ring_entry e;
    CHECK(!bfx_answer(1, &e));
    CHECK(disk_untouched_outside(0, 0, 0xee));
}

TEST(blk_server_range_to_the_end_of_the_disk)
{
    bfx_setup(1, false);
    bfx.cfg.clients[0].start = 4096;
    bfx.cfg.clients[0].sectors = 0;
    bfx_start();
    CHECK_EQ(bfx_info(0)->capacity, BFX_DISK_SECTORS - 4096);
}

TEST(blk_server_bad_configurations_are_refused)
{
    bfx_setup(2, false);
    bfx.cfg.clients[0].conn.capacity = 12;
    bfx.cfg.clients[1].name = NULL;
    bfx_start();
    CHECK(sim_pd_console_has("client 'linux1': its ring capacity is not a power of two"));
    CHECK(sim_pd_console_has("error: a client has no name: left out"));
    CHECK_EQ(bfx_info(0)->magic, 0);

    bfx_setup(1, false);
    bfx.cfg.storage = 7;
    bfx_start();
    CHECK(sim_pd_console_has("error: the storage device (none): no storage driver of that kind"));
    bfx_queue(0, BLK_OP_READ, 0, 1, BUF, HDR(0));
    bfx_kick(0);
    struct ring_entry e;
    CHECK(!bfx_answer(0, &e));
}

TEST(blk_server_corrupt_ring_ends_that_client_only)
{
    bfx_setup(2, false);
    bfx_start();
    struct ring_shm *tx = bfx.c[0].raw.ring[CONN_TX_ACTIVE].shm;
    tx->head = tx->tail + BFX_CAPACITY + 3;
    bfx_kick(0);
    CHECK(sim_pd_console_has("client 'linux1': its TX_ACTIVE ring is corrupt: connection ended"));
    CHECK(bfx.server.client[0].ended);
    uint32_t id = bfx_queue(1, BLK_OP_READ, 0, 1, BUF, HDR(0));
    bfx_kick(1);
    CHECK(bfx_answered(1, id, BLK_S_OK));
}

TEST(blk_server_takes_no_more_than_it_can_answer)
{
    /* Client 0 never takes its answers: once its RX_ACTIVE is full the server stops taking its
     * requests (they wait in TX_ACTIVE); client 1 is served meanwhile. */
    bfx_setup(2, false);
    bfx_start();
    for (unsigned k = 0; k < BFX_CAPACITY; k++)
        bfx_queue(0, BLK_OP_READ, k, 1, BUF + 512 * k, HDR(k));
    bfx_kick(0);
    for (unsigned k = 0; k < 4; k++)
        bfx_queue(0, BLK_OP_READ, k, 1, BUF + 512 * k, HDR(k));
    bfx_kick(0);
    struct ring_shm *tx = bfx.c[0].raw.ring[CONN_TX_ACTIVE].shm;
    CHECK_EQ(tx->head - tx->tail, 4); /* waiting */
    CHECK(!bfx.server.client[0].ended);
    uint32_t id = bfx_queue(1, BLK_OP_READ, 0, 1, BUF, HDR(0));
    bfx_kick(1);
    CHECK(bfx_answered(1, id, BLK_S_OK));
    /* Client 0 takes its answers: the rest is served. */
    struct ring_entry e;
    unsigned got = 0;
    while (bfx_answer(0, &e))
        got++;
    CHECK_EQ(got, BFX_CAPACITY);
    bfx_kick(0);
    while (bfx_answer(0, &e))
        got++;
    CHECK_EQ(got, BFX_CAPACITY + 4);
}

/* ---- on the virtio block device ------------------------------------------------------------ */

TEST(blk_server_virtio_reads_writes_and_flushes_reach_the_device)
{
    bfx_setup(2, true);
    bfx_start();
    CHECK_EQ(bfx.dev.violations, 0);
    CHECK(sim_pd_console_has("blk_server disk: virtio-blk, 8192 sectors (4 MiB), 2 clients"));
    CHECK_EQ(bfx_info(0)->magic, BLK_INFO_MAGIC);
    CHECK(bfx_info(0)->max_sectors_per_request >= BLK_MIN_REQUEST_SECTORS);
    /* A buffer across the boundary of the data region's two chunks: two physical segments. */
    uint64_t buf = BLK_DATA_CHUNK - 1024;
    for (unsigned b = 0; b < 4096; b++)
        bfx.c[1].data[buf + b] = (uint8_t)(b * 7 + 1);
    uint32_t id = bfx_queue(1, BLK_OP_WRITE, 100, 8, buf, HDR(0));
    bfx_kick(1);
    CHECK(bfx_answered(1, id, BLK_S_OK));
    CHECK_EQ(bfx.dev.max_segs_seen, 2);
    for (unsigned b = 0; b < 4096; b++)
        CHECK_EQ(bfx.dev.disk[(1024 + 100) * 512 + b], (uint8_t)(b * 7 + 1));
    id = bfx_queue(1, BLK_OP_FLUSH, 0, 0, 0, HDR(1));
    bfx_kick(1);
    CHECK(bfx_answered(1, id, BLK_S_OK));
    CHECK_EQ(bfx.dev.flushes, 1);
    id = bfx_queue(1, BLK_OP_READ, 101, 2, BUF, HDR(2));
    bfx_kick(1);
    CHECK(bfx_answered(1, id, BLK_S_OK));
    CHECK(!memcmp(bfx.c[1].data + BUF, bfx.c[1].data + buf + 512, 1024));
    CHECK_EQ(bfx.dev.violations, 0);
    CHECK_EQ(bfx.server.client[1].count.flushes, 1);
}

TEST(blk_server_virtio_several_in_flight)
{
    bfx_setup(2, true);
    bfx.dev.deferred = true;
    bfx_start();
    for (unsigned k = 0; k < 12; k++)
        bfx_queue(0, BLK_OP_READ, k, 1, BUF + 512 * k, HDR(k));
    bfx_queue(1, BLK_OP_READ, 0, 1, BUF, HDR(0));
    blk_server_notified(&bfx.server, BFX_SERVER_CH(0));
    /* All 13 at the device at once, one notification of it. */
    CHECK_EQ(bfx.dev.requests, 0);
    CHECK_EQ(bfx.dev.notifies, 1);
    CHECK(sim_vblk_process(&bfx.dev));
    CHECK_EQ(bfx.dev.requests, 13);
    CHECK(bfx_device_irq());
    struct ring_entry e;
    unsigned got = 0;
    while (bfx_answer(0, &e)) {
        CHECK_EQ(e.len, BLK_S_OK);
        got++;
    }
    CHECK_EQ(got, 12);
    CHECK(bfx_answer(1, &e));
    CHECK_EQ(bfx.dev.violations, 0);
}

TEST(blk_server_virtio_clients_take_turns_when_the_device_is_full)
{
    /* A queue of 8 descriptors holds two requests: client 0 floods, client 1's one request
     * goes to the device in the first batch all the same. */
    bfx_setup(2, true);
    bfx.dev.deferred = true;
    bfx.dev.num_max = 8;
    bfx_start();
    for (unsigned k = 0; k < 12; k++)
        bfx_queue(0, BLK_OP_READ, k, 1, BUF + 512 * k, HDR(k));
    uint32_t other = bfx_queue(1, BLK_OP_READ, 0, 1, BUF, HDR(0));
    blk_server_notified(&bfx.server, BFX_SERVER_CH(0));
    CHECK(sim_vblk_process(&bfx.dev));
    CHECK_EQ(bfx.dev.requests, 2);
    CHECK(bfx_device_irq());
    CHECK(bfx_answered(1, other, BLK_S_OK));
    unsigned got = 0, rounds = 0;
    struct ring_entry e;
    while (got < 12 && rounds++ < 20) {
        while (bfx_answer(0, &e))
            got++;
        sim_vblk_process(&bfx.dev);
        bfx_device_irq();
    }
    CHECK_EQ(got, 12);
    CHECK_EQ(bfx.dev.requests, 13);
    CHECK_EQ(bfx.dev.violations, 0);
}

TEST(blk_server_virtio_device_errors_and_bad_completions)
{
    bfx_setup(1, true);
    bfx_start();
    bfx.dev.fail_next = 1;
    uint32_t id = bfx_queue(0, BLK_OP_WRITE, 0, 1, BUF, HDR(0));
    bfx_kick(0);
    CHECK(bfx_answered(0, id, BLK_S_IOERR));
    CHECK_EQ(bfx.server.client[0].count.io_errors, 1);
    bfx.dev.skip_status_next = true; /* the device does not write the status byte */
    id = bfx_queue(0, BLK_OP_READ, 0, 1, BUF, HDR(0));
    bfx_kick(0);
    CHECK(bfx_answered(0, id, BLK_S_IOERR));
    CHECK_EQ(bfx.server.st.vblk.bad_status, 1);
    bfx.dev.bad_used_next = true; /* the device names a descriptor that heads no request */
    bfx_queue(0, BLK_OP_READ, 0, 1, BUF, HDR(0));
    bfx_kick(0);
    struct ring_entry e;
    CHECK(!bfx_answer(0, &e)); /* that request is lost at the device, not answered wrongly */
    CHECK_EQ(bfx.server.st.vblk.q.bad_used, 1);
    id = bfx_queue(0, BLK_OP_READ, 0, 1, BUF, HDR(1));
    bfx_kick(0);
    CHECK(bfx_answered(0, id, BLK_S_OK));
}

TEST(blk_server_virtio_device_problems_at_start)
{
    bfx_setup(1, true);
    bfx.dev.version = 1;
    bfx_start();
    CHECK(sim_pd_console_has("the device has the legacy interface (version 1) only; QEMU needs "
                             "-global virtio-mmio.force-legacy=false: no disk for any client"));
    CHECK_EQ(bfx_info(0)->magic, 0);

    bfx_setup(1, true);
    bfx.dev.device_id = 0;
    bfx_start();
    CHECK(sim_pd_console_has("no device is plugged into that virtio-mmio slot"));

    bfx_setup(1, true);
    bfx.cfg.clients[0].data_paddr[1] = NULL;
    bfx_start();
    CHECK(sim_pd_console_has("the physical address of a page of its data region is missing"));
}
