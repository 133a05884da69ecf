/* The uplink PD (components/uplink) between the switch and a model of QEMU's virtio-net device:
 * outside hosts reach a port and are learnt, ports reach them, broadcasts go out, an outside
 * frame with a port's MAC is dropped by the switch, and a NIC it cannot drive is one line. */
#include <stdlib.h>
#include <string.h>
#include <uplink/uplink.h>

#include "net_fixture.h"
#include "sim_pd.h"
#include "sim_vnet_dev.h"
#include "test.h"

#define NIC 0x0a003e00u
#define NIC_IRQ_CH 40u

static struct sim_vnet_dev dev;
static struct uplink up;
static struct uplink_config cfg;
static uint8_t *dma;
static uint8_t frame[NET_BUF_SIZE], got[NET_BUF_SIZE];
static const uint8_t outside[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void up_on_notify(unsigned i)
{
    uplink_notified(&up, NFX_CLIENT_CH(i));
}

/* The NIC interrupts: the uplink runs, then everything is delivered. */
static void nic_interrupt(void)
{
    uplink_notified(&up, NIC_IRQ_CH);
    nfx_pump();
}

/* Port 1 is a client, port 2 the uplink. */
static const char *setup(void)
{
    nfx_setup(2, 1);
    svd_init(&dev, NIC);
    if (!dma)
        dma = aligned_alloc(4096, VNET_DMA_BYTES);
    cfg = (struct uplink_config){ .switch_name = "lan",
                                  .net = nfx.p[1].client_view,
                                  .regs = NIC,
                                  .regs_phys = NIC,
                                  .irq_channel = NIC_IRQ_CH,
                                  .dma = (uintptr_t)dma,
                                  .dma_size = VNET_DMA_BYTES };
    nfx.p[1].on_notify = up_on_notify;
    net_client_init(&nfx.p[0].cl, &nfx.p[0].client_view);
    net_client_flush(&nfx.p[0].cl);
    uplink_init(&up, &cfg, (uintptr_t)dma, "lan_uplink");
    vswitch_init(&nfx.sw, &nfx.cfg);
    nfx_pump();
    return up.ready ? NULL : sim_pd.console;
}

TEST(uplink_starts_and_says_so)
{
    CHECK(setup() == NULL);
    CHECK(sim_pd_console_has("lan_uplink: uplink of switch lan on the virtio-net device at "
                             "0xa003e00 (52:54:00:12:34:56)\n"));
}

TEST(uplink_outside_hosts_reach_ports_and_are_learnt)
{
    CHECK(setup() == NULL);
    uint8_t port1[6];
    nfx_mac(0, port1);
    uint32_t len = nfx_frame(frame, port1, outside, 100, 3);
    CHECK(svd_deliver(&dev, frame, len));
    nic_interrupt();
    CHECK_EQ(nfx_recv(0, got), len);
    CHECK(memcmp(got, frame, len) == 0);
    CHECK_EQ(vswitch_lookup(&nfx.sw, outside), 1);
    CHECK_EQ(dev.isr, 0); /* acknowledged */
    CHECK_EQ(sim_pd.irq_acks[NIC_IRQ_CH], 1);
    /* The port answers: out on the wire, without a header of any kind but virtio-net's. */
    len = nfx_frame(frame, outside, port1, 1500, 4);
    CHECK(nfx_send(0, frame, len));
    CHECK_EQ(dev.num_sent, 1);
    CHECK_EQ(dev.sent_len[0], len);
    CHECK(memcmp(dev.sent[0], frame, len) == 0);
    CHECK(!dev.nonzero_header);
    /* Broadcasts go out too. */
    len = nfx_frame(frame, bcast, port1, 28, 5);
    CHECK(nfx_send(0, frame, len));
    CHECK_EQ(dev.num_sent, 2);
}

TEST(uplink_many_frames_both_ways)
{
    CHECK(setup() == NULL);
    uint8_t port1[6];
    nfx_mac(0, port1);
    for (unsigned k = 0; k < 200; k++) {
        uint32_t len = nfx_frame(frame, port1, outside, 60 + k, (uint8_t)k);
        CHECK(svd_deliver(&dev, frame, len));
        nic_interrupt();
        CHECK_EQ(nfx_recv(0, got), len);
        len = nfx_frame(frame, outside, port1, 60 + k, (uint8_t)k);
        CHECK(nfx_send(0, frame, len));
        nic_interrupt(); /* the transmit completion */
    }
    CHECK_EQ(dev.num_sent, SVD_FRAMES); /* the model keeps the first ones */
    CHECK_EQ(up.nic.count.rx_frames, 200);
    CHECK_EQ(up.nic.count.tx_frames, 200);
    CHECK_EQ(up.nic.count.tx_full + up.nic.count.rx_bad + up.nic.count.tx_bad, 0);
}

TEST(uplink_outside_frame_with_a_ports_mac_is_dropped)
{
    CHECK(setup() == NULL);
    uint8_t port1[6];
    nfx_mac(0, port1);
    uint32_t len = nfx_frame(frame, bcast, port1, 50, 1);
    CHECK(svd_deliver(&dev, frame, len));
    nic_interrupt();
    CHECK_EQ(nfx_recv(0, got), 0);
    CHECK_EQ(nfx.sw.port[1].count.spoofed, 1);
    CHECK_EQ(vswitch_lookup(&nfx.sw, port1), 0);
}

TEST(uplink_a_nic_it_cannot_drive_is_one_line)
{
    nfx_setup(2, 1);
    svd_init(&dev, NIC);
    dev.version = 1;
    if (!dma)
        dma = aligned_alloc(4096, VNET_DMA_BYTES);
    cfg = (struct uplink_config){ .switch_name = "lan",
                                  .net = nfx.p[1].client_view,
                                  .regs = NIC,
                                  .regs_phys = NIC,
                                  .irq_channel = NIC_IRQ_CH,
                                  .dma = (uintptr_t)dma,
                                  .dma_size = VNET_DMA_BYTES };
    uplink_init(&up, &cfg, (uintptr_t)dma, "lan_uplink");
    CHECK(!up.ready);
    CHECK(sim_pd_console_has("lan_uplink: error: the NIC at 0xa003e00: the device has the legacy "
                             "interface only (QEMU needs -global virtio-mmio.force-legacy=false); "
                             "no uplink\n"));
    uplink_init(&up, &cfg, 0, "lan_uplink");
    CHECK(sim_pd_console_has("the DMA region's physical address was not set"));
    uplink_notified(&up, NIC_IRQ_CH); /* touches nothing */
    CHECK_EQ(sim_pd.irq_acks[NIC_IRQ_CH], 0);
}
