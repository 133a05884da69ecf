/* The virtio block driver against the model of the device: set-up (features, queue), requests
 * of each type, segments cut at SIZE_MAX and refused beyond SEG_MAX, a full queue, and a device
 * that misbehaves (bad used entries, unwritten status), or is not what the driver needs. */
#include <string.h>
#include <virtio_blk/virtio_blk.h>

#include "sim_pd.h"
#include "sim_virtio_blk.h"
#include "test.h"

static struct sim_vblk dev;
static struct vblk drv;
static _Alignas(4096) uint8_t dma[VBLK_DMA_BYTES + 4096];
static uint8_t buf[65536];

static const char *start(uint64_t sectors)
{
    sim_pd_reset();
    sim_vblk_init(&dev, sectors);
    return vblk_init(&drv, sim_vblk_base(&dev), dma, (uintptr_t)dma, sizeof(dma));
}

static struct vblk_seg seg(uint8_t *p, uint32_t len)
{
    return (struct vblk_seg){ (uintptr_t)p, len };
}

TEST(vblk_init_negotiates_and_sets_up_the_queue)
{
    CHECK(start(1000) == NULL);
    CHECK_EQ(dev.violations, 0);
    CHECK_EQ(dev.status, 15); /* ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK */
    CHECK_EQ(dev.accepted, (UINT64_C(1) << 32) | (1u << VBLK_F_SEG_MAX) | (1u << VBLK_F_BLK_SIZE) |
                               (1u << VBLK_F_FLUSH));
    CHECK(dev.ready);
    CHECK_EQ(dev.num, 1024);
    CHECK_EQ(drv.capacity, 1000);
    CHECK_EQ(drv.seg_max, 1022);
    CHECK(drv.flush);
    CHECK(!drv.read_only);
    CHECK(vblk_max_bytes(&drv, 0x200000) >= 512 * 1024);
}

TEST(vblk_requests_of_each_type)
{
    CHECK(start(1000) == NULL);
    uint32_t cookie;
    uint8_t status;
    for (unsigned i = 0; i < 4096; i++)
        buf[i] = (uint8_t)i;
    struct vblk_seg w[2] = { seg(buf, 1024), seg(buf + 1024, 3072) };
    CHECK_EQ(vblk_submit(&drv, VBLK_T_OUT, 7, w, 2, 41), VBLK_QUEUED);
    vblk_kick(&drv);
    CHECK(sim_vblk_irq(&dev));
    vblk_irq(&drv);
    CHECK(!sim_vblk_irq(&dev));
    CHECK_EQ(vblk_complete(&drv, &cookie, &status), 1);
    CHECK_EQ(cookie, 41);
    CHECK_EQ(status, VBLK_S_OK);
    CHECK(!memcmp(dev.disk + 7 * 512, buf, 4096));
    struct vblk_seg r = seg(buf + 8192, 4096);
    CHECK_EQ(vblk_submit(&drv, VBLK_T_IN, 7, &r, 1, 42), VBLK_QUEUED);
    CHECK_EQ(vblk_submit(&drv, VBLK_T_FLUSH, 0, NULL, 0, 43), VBLK_QUEUED);
    struct vblk_seg id = seg(buf + 20000, 20);
    CHECK_EQ(vblk_submit(&drv, VBLK_T_GET_ID, 0, &id, 1, 44), VBLK_QUEUED);
    CHECK_EQ(vblk_submit(&drv, 77, 0, NULL, 0, 45), VBLK_QUEUED);
    vblk_kick(&drv);
    for (uint32_t want = 42; want <= 45; want++) {
        CHECK_EQ(vblk_complete(&drv, &cookie, &status), 1);
        CHECK_EQ(cookie, want);
        CHECK_EQ(status, want == 45 ? VBLK_S_UNSUPP : VBLK_S_OK);
    }
    CHECK_EQ(vblk_complete(&drv, &cookie, &status), 0);
    CHECK(!memcmp(buf + 8192, buf, 4096));
    CHECK(!memcmp(buf + 20000, "sim-vblk-0001", 13));
    CHECK_EQ(dev.flushes, 1);
    CHECK_EQ(dev.violations, 0);
    CHECK_EQ(drv.q.num_free, 1024); /* every descriptor back */
}

TEST(vblk_segments_are_cut_at_size_max_and_bounded_by_seg_max)
{
    sim_pd_reset();
    sim_vblk_init(&dev, 1000);
    dev.offered |= 1u << VBLK_F_SIZE_MAX;
    dev.size_max = 4096;
    dev.seg_max = 4;
    CHECK(vblk_init(&drv, sim_vblk_base(&dev), dma, (uintptr_t)dma, sizeof(dma)) == NULL);
    CHECK_EQ(drv.size_max, 4096);
    CHECK_EQ(drv.seg_max, 4);
    struct vblk_seg s = seg(buf, 16384);
    CHECK_EQ(vblk_submit(&drv, VBLK_T_IN, 0, &s, 1, 1), VBLK_QUEUED);
    vblk_kick(&drv);
    CHECK_EQ(dev.max_segs_seen, 4);
    s.len = 16384 + 512;
    CHECK_EQ(vblk_submit(&drv, VBLK_T_IN, 0, &s, 1, 2), VBLK_TOO_BIG);
    CHECK_EQ(dev.violations, 0);
    /* What it promises always fits, wherever a buffer starts among 2 MiB pieces. */
    uint64_t max = vblk_max_bytes(&drv, 0x200000);
    CHECK(max >= 512);
    struct vblk_seg two[2] = { seg(buf, 512), seg(buf + 4096, (uint32_t)max - 512) };
    CHECK_EQ(vblk_submit(&drv, VBLK_T_IN, 0, two, 2, 3), VBLK_QUEUED);
}

TEST(vblk_queue_sized_to_what_the_device_offers)
{
    /* QEMU's default queue-size: 256 descriptors, seg_max 254. */
    sim_pd_reset();
    sim_vblk_init(&dev, 1000);
    dev.num_max = 256;
    dev.seg_max = 254;
    CHECK(vblk_init(&drv, sim_vblk_base(&dev), dma, (uintptr_t)dma, sizeof(dma)) == NULL);
    CHECK_EQ(dev.num, 256);
    CHECK_EQ(drv.seg_max, 254);
    /* queue-size=1024: a request of 256 segments, its header and status fit in one chain. */
    CHECK(start(1000) == NULL);
    CHECK_EQ(dev.num, VBLK_QUEUE_WANT);
    static struct vblk_seg many[256];
    for (unsigned k = 0; k < 256; k++)
        many[k] = seg(buf + 256 * k, 256);
    CHECK_EQ(vblk_submit(&drv, VBLK_T_OUT, 3, many, 256, 9), VBLK_QUEUED);
    vblk_kick(&drv);
    uint32_t cookie;
    uint8_t status;
    CHECK_EQ(vblk_complete(&drv, &cookie, &status), 1);
    CHECK_EQ(status, VBLK_S_OK);
    CHECK_EQ(dev.max_segs_seen, 256);
    CHECK(!memcmp(dev.disk + 3 * 512, buf, 65536));
    CHECK_EQ(dev.violations, 0);
}

TEST(vblk_full_queue_then_room_again)
{
    sim_pd_reset();
    sim_vblk_init(&dev, 1000);
    dev.num_max = 8;
    dev.deferred = true;
    CHECK(vblk_init(&drv, sim_vblk_base(&dev), dma, (uintptr_t)dma, sizeof(dma)) == NULL);
    CHECK_EQ(drv.seg_max, 6); /* the queue holds 8: header and status take two */
    struct vblk_seg s = seg(buf, 512);
    CHECK_EQ(vblk_submit(&drv, VBLK_T_IN, 0, &s, 1, 1), VBLK_QUEUED);
    CHECK_EQ(vblk_submit(&drv, VBLK_T_IN, 1, &s, 1, 2), VBLK_QUEUED);
    CHECK_EQ(vblk_submit(&drv, VBLK_T_IN, 2, &s, 1, 3), VBLK_FULL);
    vblk_kick(&drv);
    CHECK(sim_vblk_process(&dev));
    uint32_t cookie;
    uint8_t status;
    CHECK_EQ(vblk_complete(&drv, &cookie, &status), 1);
    CHECK_EQ(vblk_submit(&drv, VBLK_T_IN, 2, &s, 1, 3), VBLK_QUEUED);
    CHECK_EQ(dev.violations, 0);
}

TEST(vblk_distrusts_what_the_device_reports)
{
    CHECK(start(1000) == NULL);
    struct vblk_seg s = seg(buf, 512);
    uint32_t cookie;
    uint8_t status;
    dev.bad_used_next = true;
    CHECK_EQ(vblk_submit(&drv, VBLK_T_IN, 0, &s, 1, 1), VBLK_QUEUED);
    vblk_kick(&drv);
    CHECK_EQ(vblk_complete(&drv, &cookie, &status), 0);
    CHECK_EQ(drv.q.bad_used, 1);
    dev.skip_status_next = true;
    CHECK_EQ(vblk_submit(&drv, VBLK_T_IN, 0, &s, 1, 2), VBLK_QUEUED);
    vblk_kick(&drv);
    CHECK_EQ(vblk_complete(&drv, &cookie, &status), 1);
    CHECK_EQ(cookie, 2);
    CHECK_EQ(status, VBLK_S_IOERR);
    CHECK_EQ(drv.bad_status, 1);
    /* A used index run far ahead: every entry checked; only the two requests in flight (the
     * one the device lost, this one) can complete, once each. */
    CHECK_EQ(vblk_submit(&drv, VBLK_T_IN, 0, &s, 1, 3), VBLK_QUEUED);
    vblk_kick(&drv);
    volatile uint16_t *used_idx = (volatile uint16_t *)(drv.q.used + 2);
    *used_idx = (uint16_t)(*used_idx + 300);
    unsigned got = 0;
    while (vblk_complete(&drv, &cookie, &status) == 1)
        got++;
    CHECK(got >= 1 && got <= 2);
    CHECK_EQ(drv.q.num_free, 1024 - (got == 2 ? 0 : 3));
}

TEST(vblk_refuses_devices_it_cannot_drive)
{
    sim_pd_reset();
    sim_vblk_init(&dev, 100);
    dev.version = 1;
    const char *why = vblk_init(&drv, sim_vblk_base(&dev), dma, (uintptr_t)dma, sizeof(dma));
    CHECK(why && strstr(why, "force-legacy=false"));
    sim_vblk_init(&dev, 100);
    dev.device_id = 1;
    why = vblk_init(&drv, sim_vblk_base(&dev), dma, (uintptr_t)dma, sizeof(dma));
    CHECK(why && strstr(why, "another type"));
    sim_vblk_init(&dev, 100);
    dev.offered &= ~(UINT64_C(1) << 32);
    why = vblk_init(&drv, sim_vblk_base(&dev), dma, (uintptr_t)dma, sizeof(dma));
    CHECK(why && strstr(why, "does not offer"));
    CHECK(dev.status & VMMIO_S_FAILED);
    sim_vblk_init(&dev, 100);
    why = vblk_init(&drv, sim_vblk_base(&dev), dma, (uintptr_t)dma, 4096);
    CHECK(why && strstr(why, "too small"));
    sim_vblk_init(&dev, 100);
    dev.num_max = 2;
    why = vblk_init(&drv, sim_vblk_base(&dev), dma, (uintptr_t)dma, sizeof(dma));
    CHECK(why && strstr(why, "too small"));
}
