/* The block server fixture (see blk_fixture.h). */
#include "blk_fixture.h"

#include <stdlib.h>
#include <string.h>

#include "sim_pd.h"

struct bfx bfx;

static const char *const names[BFX_CLIENTS] = { "linux1", "linux2", "native" };

void bfx_setup(unsigned n, bool virtio)
{
    sim_pd_reset();
    sim_pd.name = "disk";
    for (unsigned i = 0; i < BFX_CLIENTS; i++) {
        free(bfx.c[i].data);
        free(bfx.c[i].window);
    }
    free(bfx.ramdisk);
    uint8_t *keep_disk = bfx.dev.disk;
    bfx.dev.disk = NULL;
    free(keep_disk);
    memset(&bfx, 0, sizeof(bfx));
    bfx.dma_pa = (uintptr_t)bfx.dma;
    struct blk_server_config *cfg = &bfx.cfg;
    if (virtio) {
        sim_vblk_init(&bfx.dev, BFX_DISK_SECTORS);
        cfg->storage = BLK_STORAGE_VIRTIO;
        cfg->regs = sim_vblk_base(&bfx.dev);
        cfg->irq_channel = BFX_IRQ_CH;
        cfg->dma = (uintptr_t)bfx.dma;
        cfg->dma_paddr = &bfx.dma_pa;
        cfg->dma_size = sizeof(bfx.dma);
    } else {
        bfx.ramdisk = malloc((size_t)BFX_DISK_SECTORS * 512);
        memset(bfx.ramdisk, 0xee, (size_t)BFX_DISK_SECTORS * 512);
        cfg->storage = BLK_STORAGE_RAMDISK;
        cfg->ramdisk = bfx.ramdisk;
        cfg->ramdisk_size = (uint64_t)BFX_DISK_SECTORS * 512;
    }
    cfg->num_clients = n;
    for (unsigned i = 0; i < n; i++) {
        struct bfx_client *c = &bfx.c[i];
        c->data = calloc(1, BFX_DATA_SIZE);
        struct blk_client_config *cc = &cfg->clients[i];
        cc->name = names[i];
        cc->conn = (struct conn_config){ .queue = (uintptr_t)c->queue,
                                         .capacity = BFX_CAPACITY,
                                         .tx_data = (uintptr_t)c->data,
                                         .tx_size = BFX_DATA_SIZE,
                                         .rx_data = 0,
                                         .rx_size = 0,
                                         .channel = BFX_SERVER_CH(i) };
        for (unsigned k = 0; k < BFX_CHUNKS; k++) {
            c->paddr[k] = (uintptr_t)c->data + (uint64_t)k * BLK_DATA_CHUNK;
            cc->data_paddr[k] = &c->paddr[k];
        }
        c->window = calloc(1, BFX_WINDOW);
        c->window_pa = (uintptr_t)c->window;
        cc->window_paddr = &c->window_pa;
        cc->window_size = BFX_WINDOW;
        cc->start = (uint64_t)i * 1024;
        cc->sectors = 1024;
        struct conn_config view = cc->conn;
        conn_attach(&c->raw, &view);
        c->next_id = 100;
    }
}

void bfx_start(void)
{
    blk_server_init(&bfx.server, &bfx.cfg);
}

uint8_t *bfx_disk(void)
{
    return bfx.cfg.storage == BLK_STORAGE_VIRTIO ? bfx.dev.disk : bfx.ramdisk;
}

void bfx_queue_entry(unsigned i, uint64_t offset, uint32_t len, uint32_t id)
{
    struct ring_entry e = { offset, len, id };
    ring_push(&bfx.c[i].raw.ring[CONN_TX_ACTIVE], &e, NULL);
}

uint32_t bfx_queue(unsigned i, uint32_t op, uint64_t sector, uint32_t count, uint64_t data,
                   uint64_t hdr_off)
{
    struct bfx_client *c = &bfx.c[i];
    struct blk_request r = { op, count, sector, data, 0, 0 };
    memcpy(c->data + hdr_off, &r, sizeof(r));
    uint32_t id = c->next_id++;
    bfx_queue_entry(i, hdr_off, sizeof(r), id);
    return id;
}

uint32_t bfx_queue_direct(unsigned i, uint32_t op, uint64_t sector, uint32_t count,
                          const struct blk_seg *segs, uint32_t nsegs, uint64_t table_off,
                          uint64_t hdr_off)
{
    struct bfx_client *c = &bfx.c[i];
    if (table_off <= BFX_DATA_SIZE && (uint64_t)nsegs * sizeof(*segs) <= BFX_DATA_SIZE - table_off)
        memcpy(c->data + table_off, segs, (size_t)nsegs * sizeof(*segs));
    struct blk_request r = { op, count, sector, table_off, nsegs, 0 };
    memcpy(c->data + hdr_off, &r, sizeof(r));
    uint32_t id = c->next_id++;
    bfx_queue_entry(i, hdr_off, sizeof(r), id);
    return id;
}

bool bfx_device_irq(void)
{
    if (bfx.cfg.storage != BLK_STORAGE_VIRTIO || !sim_vblk_irq(&bfx.dev))
        return false;
    blk_server_notified(&bfx.server, BFX_IRQ_CH);
    return true;
}

void bfx_kick(unsigned i)
{
    blk_server_notified(&bfx.server, BFX_SERVER_CH(i));
    bfx_device_irq();
}

bool bfx_answer(unsigned i, struct ring_entry *out)
{
    return ring_pop(&bfx.c[i].raw.ring[CONN_RX_ACTIVE], out);
}

bool bfx_answered(unsigned i, uint32_t id, uint32_t status)
{
    struct ring_entry e;
    return bfx_answer(i, &e) && e.id == id && e.len == status;
}

const struct blk_info *bfx_info(unsigned i)
{
    return (const struct blk_info *)(bfx.c[i].queue + blk_info_offset(BFX_CAPACITY));
}
