/* The virtio-mmio network device driver (drivers/virtio_net) against a model of QEMU's device:
 * start-up and what it refuses, frames both ways (header added and taken off), a full transmit
 * queue, a device that returns what it should not. */
#include <stdlib.h>
#include <string.h>
#include <virtio_net/virtio_net.h>

#include "sim_pd.h"
#include "sim_vnet_dev.h"
#include "test.h"

#define REGS 0x0a003e00u

static struct sim_vnet_dev dev;
static struct vnet vn;
static uint8_t *dma;
static uint8_t frame[2048], got[2048];

static const char *start(void)
{
    if (!dma)
        dma = aligned_alloc(4096, VNET_DMA_BYTES);
    return vnet_start(&vn, REGS, dma, (uintptr_t)dma, VNET_DMA_BYTES);
}

static void setup(void)
{
    sim_pd_reset();
    svd_init(&dev, REGS);
}

static uint32_t make_frame(uint32_t len, uint8_t seed)
{
    for (uint32_t i = 0; i < len; i++)
        frame[i] = (uint8_t)(seed + i * 3);
    return len;
}

TEST(vnet_starts_and_takes_the_mac)
{
    setup();
    CHECK(start() == NULL);
    CHECK_EQ(dev.status, 1 | 2 | 4 | 8);
    CHECK_EQ(dev.driver_features, 1ull << 32 | 1u << 5);
    CHECK(vn.has_mac);
    CHECK(memcmp(vn.mac, dev.mac, 6) == 0);
    CHECK(dev.q[0].ready && dev.q[1].ready);
    CHECK_EQ(dev.q[0].num, VNET_QUEUE_SIZE);
    CHECK_EQ(dev.notifies[0], 1); /* its receive buffers */
}

TEST(vnet_refuses_what_it_cannot_drive)
{
    setup();
    dev.version = 1;
    CHECK(strstr(start(), "legacy interface only") != NULL);
    setup();
    dev.device_id = 2;
    CHECK(strstr(start(), "not a network device") != NULL);
    setup();
    dev.features = 1u << 5;
    CHECK(strstr(start(), "VIRTIO_F_VERSION_1") != NULL);
    CHECK(dev.status & 0x80); /* FAILED */
    setup();
    CHECK(strstr(vnet_start(&vn, REGS, dma, (uintptr_t)dma, 4096), "too small") != NULL);
    setup();
    dev.features = 1ull << 32; /* no MAC: fine, none taken */
    CHECK(start() == NULL);
    CHECK(!vn.has_mac);
}

TEST(vnet_receives_frames_and_gives_buffers_back)
{
    setup();
    CHECK(start() == NULL);
    for (unsigned k = 0; k < 3 * VNET_QUEUE_SIZE; k++) {
        uint32_t len = make_frame(60 + k, (uint8_t)k);
        CHECK(svd_deliver(&dev, frame, len));
        CHECK_EQ(vnet_recv(&vn, got, sizeof(got)), len);
        CHECK(memcmp(got, frame, len) == 0);
        vnet_kick(&vn);
    }
    CHECK_EQ(vnet_recv(&vn, got, sizeof(got)), 0);
    CHECK_EQ(vn.count.rx_frames, 3 * VNET_QUEUE_SIZE);
    CHECK_EQ(vnet_irq_ack(&vn), 1);
    CHECK_EQ(dev.isr, 0);
}

TEST(vnet_sends_frames_with_a_zero_header)
{
    setup();
    CHECK(start() == NULL);
    uint32_t len = make_frame(1514, 7);
    CHECK(vnet_send(&vn, frame, len));
    CHECK_EQ(dev.num_sent, 0); /* not until the kick */
    vnet_kick(&vn);
    CHECK_EQ(dev.num_sent, 1);
    CHECK_EQ(dev.sent_len[0], 1514);
    CHECK(memcmp(dev.sent[0], frame, 1514) == 0);
    CHECK(!dev.nonzero_header);
    CHECK_EQ(vnet_tx_room(&vn), VNET_QUEUE_SIZE);
}

TEST(vnet_transmit_queue_full_is_counted)
{
    setup();
    CHECK(start() == NULL);
    uint32_t len = make_frame(60, 1);
    for (unsigned k = 0; k < VNET_QUEUE_SIZE; k++)
        CHECK(vnet_send(&vn, frame, len));
    CHECK(!vnet_send(&vn, frame, len));
    CHECK_EQ(vn.count.tx_full, 1);
    CHECK_EQ(vnet_tx_room(&vn), 0);
    vnet_kick(&vn);
    CHECK_EQ(vnet_tx_room(&vn), VNET_QUEUE_SIZE);
    CHECK_EQ(dev.num_sent, VNET_QUEUE_SIZE);
}

TEST(vnet_bad_used_entries_are_counted_and_skipped)
{
    setup();
    CHECK(start() == NULL);
    svd_push_used(&dev, 0, 99, 100); /* no such descriptor */
    svd_push_used(&dev, 1, 3, 0);    /* a transmit descriptor never sent */
    CHECK_EQ(vnet_recv(&vn, got, sizeof(got)), 0);
    CHECK_EQ(vnet_tx_room(&vn), VNET_QUEUE_SIZE);
    CHECK_EQ(vn.count.rx_bad, 1);
    CHECK_EQ(vn.count.tx_bad, 1);
    /* A receive buffer returned with a length beyond it, or too short for a frame: made
     * available again, and the next good frame still comes. */
    uint32_t len = make_frame(80, 2);
    CHECK(svd_deliver(&dev, frame, len));
    uint8_t *used = (uint8_t *)(uintptr_t)(dev.q[0].used + 4 + 8u * ((dev.q[0].used_idx - 1) % 32));
    uint32_t huge = 5000;
    memcpy(used + 4, &huge, 4);
    CHECK_EQ(vnet_recv(&vn, got, sizeof(got)), 0);
    CHECK_EQ(vn.count.rx_bad, 2);
    CHECK(svd_deliver(&dev, frame, len));
    CHECK_EQ(vnet_recv(&vn, got, sizeof(got)), len);
    CHECK(memcmp(got, frame, len) == 0);
}
