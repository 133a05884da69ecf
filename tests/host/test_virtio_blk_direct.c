/*
 * The VMM's virtio block device with a server that offers direct requests (proto/blk.h): reads
 * and writes go as tables of guest RAM segments (adjacent descriptors merged, offsets from the
 * start of guest RAM), the data region carries no data, and whatever cannot go direct is copied;
 * a reset waits until no request at the server can still write guest RAM by DMA.
 */
#include <string.h>

#include <vmm/psci.h>
#include <vmm/reset.h>

#include "blk_vmm_fx.h"
#include "fixture.h"
#include "sim_hyp.h"
#include "test.h"

#define BLK (&fx.vm.virtio[0].u.blk)
#define ALL ((1u << 1) | (1u << 2) | (1u << 6) | (1u << 9) | (1u << 28))

static uint8_t *region(void)
{
    return (uint8_t *)fx.virtio[0].conn.tx_data;
}

static struct blk_seg table_entry(const struct blk_request *r, unsigned i)
{
    struct blk_seg s;
    memcpy(&s, region() + r->data + (uint64_t)i * sizeof(s), sizeof(s));
    return s;
}

static bool used_is(uint16_t head, uint8_t status, uint32_t len)
{
    uint32_t id, l;
    if (!bvx_used(&id, &l) || id != head || l != len || bvx_status(head) != status) {
        printf("    no used entry %u of len %u with status %u\n", head, len, status);
        return false;
    }
    return true;
}

/* A read of three data descriptors, the first two adjacent in guest RAM. */
static uint16_t scattered_read(uint64_t sector)
{
    uint16_t head = bvx.next_desc;
    uint8_t *h = vio_ram(BVX_HDR + 16u * head);
    memset(h, 0, 16);
    memcpy(h + 8, &sector, 8);
    struct bvx_seg segs[] = {
        { BVX_HDR + 16u * head, 16, false }, { BVX_BUF, 1024, true },
        { BVX_BUF + 1024, 512, true },       { BVX_BUF + 0x3000, 512, true },
        { BVX_STATUS + head, 1, true },
    };
    return bvx_chain(segs, 5);
}

TEST(virtio_blk_direct_requests_name_guest_ram)
{
    CHECK(bvx_boot(false, false));
    bvx_fake_ready_direct(1000, 2048, 8, FX_RAM_SIZE);
    CHECK_EQ(BLK->direct_segs, 8);
    CHECK(sim_console_has("data by DMA in guest RAM"));
    CHECK(bvx_driver(ALL));
    memset(region(), 0x5a, BVX_DATA);

    uint16_t h = scattered_read(40);
    struct ring_entry e;
    struct blk_request r;
    CHECK(bvx_fake_take(&e, &r));
    CHECK_EQ(r.op, BLK_OP_READ_DIRECT);
    CHECK_EQ(r.sector, 40);
    CHECK_EQ(r.count, 4);
    CHECK_EQ(r.segs, 2);
    struct blk_seg s0 = table_entry(&r, 0), s1 = table_entry(&r, 1);
    CHECK_EQ(s0.offset, BVX_BUF - FX_RAM_BASE);
    CHECK_EQ(s0.len, 1536);
    CHECK_EQ(s1.offset, BVX_BUF + 0x3000 - FX_RAM_BASE);
    CHECK_EQ(s1.len, 512);
    CHECK_EQ(BLK->dma_pending, 1);
    /* The "device" writes guest RAM where the table says; the VMM copies nothing. */
    memset(vio_ram(BVX_BUF), 0x21, 1536);
    memset(vio_ram(BVX_BUF + 0x3000), 0x22, 512);
    bvx_fake_answer(e.offset, BLK_S_OK, e.id);
    CHECK(used_is(h, 0, 2049));
    CHECK_EQ(vio_ram(BVX_BUF)[1535], 0x21);
    CHECK_EQ(vio_ram(BVX_BUF + 0x3000)[0], 0x22);
    CHECK_EQ(BLK->dma_pending, 0);

    /* A write: one segment over three adjacent descriptors, after the header. */
    h = bvx_request(1, 7, 3, 512, 0x8000);
    CHECK(bvx_fake_take(&e, &r));
    CHECK_EQ(r.op, BLK_OP_WRITE_DIRECT);
    CHECK_EQ(r.count, 3);
    CHECK_EQ(r.segs, 1);
    s0 = table_entry(&r, 0);
    CHECK_EQ(s0.offset, BVX_BUF + 0x8000 - FX_RAM_BASE);
    CHECK_EQ(s0.len, 1536);
    /* Only the table's page of the data region was written: no data went through it. */
    unsigned touched = 0;
    for (uint64_t off = 4096; off < BVX_DATA; off += 4096)
        touched += region()[off + 600] != 0x5a;
    CHECK_EQ(touched, 0);
    bvx_fake_answer(e.offset, BLK_S_OK, e.id);
    CHECK(used_is(h, 0, 1));

    /* A failed direct read: status IOERR, nothing written. */
    h = scattered_read(41);
    CHECK(bvx_fake_take(&e, &r));
    bvx_fake_answer(e.offset, BLK_S_IOERR, e.id);
    CHECK(used_is(h, 1, 1));

    /* The status byte right after the data in guest RAM: merged while walking, then taken off
     * again, so the segment is the data alone. */
    uint16_t hd = bvx.next_desc;
    uint8_t *hdr = vio_ram(BVX_HDR + 16u * hd);
    memset(hdr, 0, 16);
    struct bvx_seg adj[] = { { BVX_HDR + 16u * hd, 16, false },
                             { BVX_BUF + 0x9000, 512, true },
                             { BVX_BUF + 0x9200, 1, true } };
    h = bvx_chain(adj, 3);
    CHECK(bvx_fake_take(&e, &r));
    CHECK_EQ(r.op, BLK_OP_READ_DIRECT);
    CHECK_EQ(r.segs, 1);
    s0 = table_entry(&r, 0);
    CHECK_EQ(s0.offset, BVX_BUF + 0x9000 - FX_RAM_BASE);
    CHECK_EQ(s0.len, 512);
    bvx_fake_answer(e.offset, BLK_S_OK, e.id);
    uint32_t id, len;
    CHECK(bvx_used(&id, &len) && id == h && len == 513 && *vio_ram(BVX_BUF + 0x9200) == 0);

    /* FLUSH and GET_ID stay ordinary requests. */
    h = bvx_request(4, 0, 0, 0, 0);
    CHECK(bvx_fake_take(&e, &r));
    CHECK_EQ(r.op, BLK_OP_FLUSH);
    bvx_fake_answer(e.offset, BLK_S_OK, e.id);
    CHECK(used_is(h, 0, 1));
    CHECK_EQ(BLK->direct_reqs, 4);
    CHECK_EQ(BLK->copied_reqs, 0);
    CHECK_EQ(BLK->req_free, 0xffff);
}

TEST(virtio_blk_direct_falls_back_to_copying)
{
    /* More segments than the server takes: that request is copied. */
    CHECK(bvx_boot(false, false));
    bvx_fake_ready_direct(1000, 2048, 1, FX_RAM_SIZE);
    CHECK(bvx_driver(ALL));
    uint16_t h = scattered_read(3);
    struct ring_entry e;
    struct blk_request r;
    CHECK(bvx_fake_take(&e, &r));
    CHECK_EQ(r.op, BLK_OP_READ);
    CHECK_EQ(r.segs, 0);
    memset(region() + r.data, 0x33, 2048);
    bvx_fake_answer(e.offset, BLK_S_OK, e.id);
    CHECK(used_is(h, 0, 2049));
    CHECK_EQ(vio_ram(BVX_BUF + 0x3000)[511], 0x33);
    CHECK_EQ(BLK->copied_reqs, 1);
    CHECK_EQ(BLK->dma_pending, 0);
    /* ... while one that fits goes direct. */
    h = bvx_request(0, 4, 2, 512, 0);
    CHECK(bvx_fake_take(&e, &r));
    CHECK_EQ(r.op, BLK_OP_READ_DIRECT);
    bvx_fake_answer(e.offset, BLK_S_OK, e.id);
    CHECK(used_is(h, 0, 1025));

    /* A window smaller than guest RAM, or no segments offered: everything is copied. */
    CHECK(bvx_boot(false, false));
    bvx_fake_ready_direct(1000, 2048, 8, FX_RAM_SIZE - 4096);
    CHECK_EQ(BLK->direct_segs, 0);
    CHECK(sim_console_has("data copied"));
    CHECK(bvx_driver(ALL));
    h = bvx_request(1, 4, 2, 512, 0);
    CHECK(bvx_fake_take(&e, &r));
    CHECK_EQ(r.op, BLK_OP_WRITE);
    CHECK(bvx_boot(false, false));
    bvx_fake_ready_direct(1000, 2048, 0, FX_RAM_SIZE);
    CHECK_EQ(BLK->direct_segs, 0);
    /* A server offering more than a table page holds is taken at the most it holds. */
    CHECK(bvx_boot(false, false));
    bvx_fake_ready_direct(1000, 2048, 100000, FX_RAM_SIZE);
    CHECK_EQ(BLK->direct_segs, BLK_DIRECT_MAX_SEGS);
}

TEST(virtio_blk_direct_reset_waits_for_the_dma)
{
    CHECK(bvx_boot(false, false));
    bvx_fake_ready_direct(1000, 2048, 8, FX_RAM_SIZE);
    CHECK(bvx_driver(ALL));
    (void)scattered_read(9);
    struct ring_entry e;
    struct blk_request r;
    CHECK(bvx_fake_take(&e, &r));
    CHECK_EQ(r.op, BLK_OP_READ_DIRECT);
    struct exit_reply rep;
    fx_smc(0, PSCI_SYSTEM_RESET, 0, 0, 0, &rep);
    CHECK_EQ(fx.vm.state, VM_RESETTING);
    fx_smc(0, VMM_FID_GIC_DRAINED, 0, 0, 0, &rep);
    /* Drained, but the server's device may still write guest RAM: no boot yet. */
    CHECK_EQ(fx.vm.state, VM_RESETTING);
    CHECK_EQ(fx.vm.boots, 1);
    CHECK(fx.vm.reset_waits_dma);
    CHECK(sim_console_has("may still write guest RAM: the boot waits"));
    bvx_fake_answer(e.offset, BLK_S_OK, e.id);
    CHECK_EQ(fx.vm.state, VM_RUNNING);
    CHECK_EQ(fx.vm.boots, 2);
    CHECK(!fx.vm.reset_waits_dma);
    CHECK_EQ(BLK->dropped, 1);
    CHECK_EQ(BLK->dma_pending, 0);
    uint32_t id, len;
    CHECK(!bvx_used(&id, &len));

    /* Nothing at the server: the reset boots at once, as before. */
    CHECK(bvx_driver(ALL));
    fx_smc(0, PSCI_SYSTEM_RESET, 0, 0, 0, &rep);
    fx_smc(0, VMM_FID_GIC_DRAINED, 0, 0, 0, &rep);
    CHECK_EQ(fx.vm.state, VM_RUNNING);
    CHECK_EQ(fx.vm.boots, 3);

    /* A device reset waits too: the Status write is not made while a direct request is at the
     * server; the vCPU is held on the instruction and makes it again later. */
    CHECK(bvx_driver(ALL));
    uint16_t h = bvx_request(1, 2, 1, 512, 0);
    CHECK(bvx_fake_take(&e, NULL));
    sim.now = 1000;
    sim.vcpu[0].regs.pc = 0x40080000;
    unsigned starts = sim.vcpu[0].starts;
    vio_write(VIO_STATUS, 0);
    CHECK(fx.vm.virtio[0].status != 0);
    CHECK(fx.vm.sleeping[0]);
    CHECK(sim_console_has("the reset waits for 1 request(s) at the backend"));
    /* Answered while the vCPU waits: the device was not reset, the guest gets its answer. */
    bvx_fake_answer(e.offset, BLK_S_OK, e.id);
    CHECK_EQ(BLK->dma_pending, 0);
    CHECK(used_is(h, 0, 1));
    /* The wait ends (its 1 ms); the vCPU starts on the store again, and now the reset is made. */
    sim.now = 1000 + SIM_COUNTER_FREQ / 1000;
    vm_notified(&fx.vm, FX_WAKEUP_CH);
    CHECK(!fx.vm.sleeping[0]);
    CHECK_EQ(sim.vcpu[0].starts, starts + 1);
    CHECK_EQ(sim.vcpu[0].start_pc, 0x40080000);
    vio_write(VIO_STATUS, 0);
    CHECK_EQ(fx.vm.virtio[0].status, 0);
    CHECK(!fx.vm.sleeping[0]);
    CHECK_EQ(BLK->dropped, 1);

    /* So does stopping the queue. */
    CHECK(bvx_driver(ALL));
    h = bvx_request(0, 3, 1, 512, 0);
    CHECK(bvx_fake_take(&e, NULL));
    vio_write(VIO_QUEUE_SEL, 0);
    vio_write(VIO_QUEUE_READY, 0);
    CHECK(fx.vm.virtio[0].vq[0].ready);
    CHECK(fx.vm.sleeping[0]);
    CHECK(sim_console_has("the queue stop waits for 1 request(s)"));
    bvx_fake_answer(e.offset, BLK_S_OK, e.id);
    CHECK(used_is(h, 0, 513));
    sim.now += SIM_COUNTER_FREQ / 1000;
    vm_notified(&fx.vm, FX_WAKEUP_CH);
    CHECK(!fx.vm.sleeping[0]);
    vio_write(VIO_QUEUE_READY, 0);
    CHECK(!fx.vm.virtio[0].vq[0].ready);
}
