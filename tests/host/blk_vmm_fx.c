/* The VMM's virtio-blk fixture (see blk_vmm_fx.h). */
#include "blk_vmm_fx.h"

#include <stdlib.h>
#include <string.h>

#include "sim_hyp.h"
#include "sim_pd.h"

struct bvx bvx;

static _Alignas(4096) uint8_t queue[8192];
static _Alignas(4096) uint8_t data[BVX_DATA];

bool bvx_boot(bool real, bool read_only)
{
    free(bvx.ramdisk);
    uint64_t data_size = bvx.data_size ? bvx.data_size : BVX_DATA;
    memset(&bvx, 0, sizeof(bvx));
    memset(queue, 0, sizeof(queue));
    memset(data, 0, sizeof(data));
    sim_pd_reset();
    sim_pd.name = "disk";
    bvx.real = real;
    bvx.info = (struct blk_info *)(queue + blk_info_offset(BVX_CAP));
    fx_config(1);
    fx_add_virtio_blk(queue, BVX_CAP, data, data_size, read_only);
    struct conn_config view = fx.virtio[0].conn;
    view.channel = BVX_SERVER_CH;
    conn_attach(&bvx.fake, &view);
    if (!vm_init(&fx.vm, &fx.cfg, fx.ram) || !vm_boot(&fx.vm))
        return false;
    if (real) {
        bvx.ramdisk = malloc((size_t)BVX_DISK_SECTORS * 512);
        for (uint32_t s = 0; s < BVX_DISK_SECTORS; s++)
            memset(bvx.ramdisk + (size_t)s * 512, s & 0xff, 512);
        bvx.scfg = (struct blk_server_config){
            .storage = BLK_STORAGE_RAMDISK,
            .ramdisk = bvx.ramdisk,
            .ramdisk_size = (uint64_t)BVX_DISK_SECTORS * 512,
            .num_clients = 1,
        };
        bvx.scfg.clients[0] = (struct blk_client_config){
            .name = "test", .conn = view, .start = BVX_START, .sectors = BVX_SECTORS
        };
        blk_server_init(&bvx.server, &bvx.scfg);
        bvx_pump();
    }
    return true;
}

void bvx_pump(void)
{
    for (unsigned rounds = 0; rounds < 1000; rounds++) {
        bool moved = false;
        if (sim.notifies[FX_VIRTIO_CH]) {
            sim.notifies[FX_VIRTIO_CH] = 0;
            if (bvx.real)
                blk_server_notified(&bvx.server, BVX_SERVER_CH);
            moved = true;
        }
        if (sim_pd_take_notify(BVX_SERVER_CH)) {
            vm_notified(&fx.vm, FX_VIRTIO_CH);
            moved = true;
        }
        if (!moved)
            return;
    }
}

void bvx_fake_ready(uint64_t capacity, uint32_t max_sectors, bool ro)
{
    bvx.info->read_only = ro;
    bvx.info->capacity = capacity;
    bvx.info->max_sectors_per_request = max_sectors;
    __atomic_store_n(&bvx.info->magic, BLK_INFO_MAGIC, __ATOMIC_RELEASE);
    vm_notified(&fx.vm, FX_VIRTIO_CH);
}

void bvx_fake_ready_direct(uint64_t capacity, uint32_t max_sectors, uint32_t segs, uint64_t window)
{
    bvx.info->direct_max_segs = segs;
    bvx.info->direct_window = window;
    bvx_fake_ready(capacity, max_sectors, false);
}

bool bvx_fake_take(struct ring_entry *e, struct blk_request *r)
{
    if (!ring_pop(&bvx.fake.ring[CONN_TX_ACTIVE], e))
        return false;
    if (r && ring_entry_inside(e, BVX_DATA) && e->len >= sizeof(*r))
        memcpy(r, data + e->offset, sizeof(*r));
    return true;
}

void bvx_fake_answer(uint64_t offset, uint32_t status, uint32_t id)
{
    struct ring_entry e = { offset, status, id };
    ring_push(&bvx.fake.ring[CONN_RX_ACTIVE], &e, NULL);
    vm_notified(&fx.vm, FX_VIRTIO_CH);
}

bool bvx_driver(uint32_t features)
{
    if (!(vdrv_negotiate(VIO_F_VERSION_1_HI, features) & VIO_S_FEATURES_OK))
        return false;
    vdrv_queue_setup(0, BVX_Q);
    vio_write(VIO_STATUS, VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK | VIO_S_DRIVER_OK);
    bvx.next_desc = 0;
    return vio_read(VIO_STATUS) == (VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK | VIO_S_DRIVER_OK);
}

uint16_t bvx_chain(const struct bvx_seg *segs, unsigned n)
{
    uint16_t head = bvx.next_desc;
    for (unsigned i = 0; i < n; i++) {
        uint16_t at = (uint16_t)((head + i) % BVX_Q), next = (uint16_t)((head + i + 1) % BVX_Q);
        vdrv_desc(0, at, segs[i].gpa, segs[i].len,
                  (uint16_t)((segs[i].writable ? VIO_D_WRITE : 0) | (i + 1 < n ? VIO_D_NEXT : 0)),
                  next);
    }
    bvx.next_desc = (uint16_t)((head + n) % BVX_Q);
    vdrv_avail(0, head);
    vdrv_notify(0);
    if (bvx.real)
        bvx_pump();
    return head;
}

uint16_t bvx_request(uint32_t type, uint64_t sector, unsigned n, uint32_t each, uint32_t buf_off)
{
    struct bvx_seg segs[200];
    uint16_t head = bvx.next_desc;
    uint8_t *h = vio_ram(BVX_HDR + 16u * head);
    memset(h, 0, 16);
    memcpy(h, &type, 4);
    memcpy(h + 8, &sector, 8);
    *vio_ram(BVX_STATUS + head) = 0xee;
    bool writes = type == 0 || type == 8;
    segs[0] = (struct bvx_seg){ BVX_HDR + 16u * head, 16, false };
    for (unsigned i = 0; i < n; i++)
        segs[1 + i] = (struct bvx_seg){ BVX_BUF + buf_off + (uint64_t)i * each, each, writes };
    segs[n + 1] = (struct bvx_seg){ BVX_STATUS + head, 1, true };
    return bvx_chain(segs, n + 2);
}

uint8_t bvx_status(uint16_t head)
{
    return *vio_ram(BVX_STATUS + head);
}

bool bvx_used(uint32_t *id, uint32_t *len)
{
    return vdrv_next_used(0, id, len);
}

uint32_t bvx_config(uint32_t off)
{
    return vio_read(VIO_CONFIG + off);
}
