/* A block server under test: up to three clients with their shared regions (queue, a data region
 * of two 2 MiB chunks whose "physical addresses" are their host addresses), each with a DMA
 * window of BFX_WINDOW bytes (its "physical address" its host address too), storage on a RAM
 * disk or the simulated virtio block device, and helpers that play a client's part: queue a
 * request, notify the server, collect the answers. */
#ifndef BLK_FIXTURE_H
#define BLK_FIXTURE_H

#include <blk_server/blk_server.h>
#include <stdbool.h>
#include <stdint.h>

#include "sim_virtio_blk.h"

#define BFX_CLIENTS 3
#define BFX_CAPACITY 16
#define BFX_CHUNKS 2
#define BFX_DATA_SIZE (BFX_CHUNKS * BLK_DATA_CHUNK)
#define BFX_DISK_SECTORS 8192 /* 4 MiB */
#define BFX_WINDOW 0x100000u
#define BFX_IRQ_CH 0
#define BFX_SERVER_CH(i) (1 + (i)) /* the server's channel to client i */

struct bfx_client {
    _Alignas(4096) uint8_t queue[8192];
    uint8_t *data; /* BFX_DATA_SIZE bytes */
    uint64_t paddr[BFX_CHUNKS];
    uint8_t *window; /* BFX_WINDOW bytes, zeroed */
    uint64_t window_pa;
    struct conn raw; /* the client's view of its rings */
    uint32_t next_id;
};

struct bfx {
    struct blk_server server;
    struct blk_server_config cfg;
    struct bfx_client c[BFX_CLIENTS];
    uint8_t *ramdisk;
    struct sim_vblk dev;
    _Alignas(4096) uint8_t dma[0x20000];
    uint64_t dma_pa;
};

extern struct bfx bfx;

/* Clients `n`, each given sectors [i * 1024, i * 1024 + 1024) of the disk (partition 0), on a
 * RAM disk of BFX_DISK_SECTORS whose bytes are all 0xee (virtio = false) or the simulated
 * device's zeroed disk (virtio = true). The server is not started. */
void bfx_setup(unsigned n, bool virtio);
/* Starts the server. */
void bfx_start(void);
/* The disk's bytes (whichever storage). */
uint8_t *bfx_disk(void);
/* Client i queues a request (header at `hdr_off` of its data region); returns its id. The
 * server is not notified. */
uint32_t bfx_queue(unsigned i, uint32_t op, uint64_t sector, uint32_t count, uint64_t data,
                   uint64_t hdr_off);
/* Client i queues a direct request: its segment table at `table_off` of its data region (the
 * header's `segs` is `nsegs`), header at `hdr_off`; returns its id. */
uint32_t bfx_queue_direct(unsigned i, uint32_t op, uint64_t sector, uint32_t count,
                          const struct blk_seg *segs, uint32_t nsegs, uint64_t table_off,
                          uint64_t hdr_off);
/* Client i queues a raw entry. */
void bfx_queue_entry(unsigned i, uint64_t offset, uint32_t len, uint32_t id);
/* Notifies the server on client i's channel (and the device's interrupt when raised). */
void bfx_kick(unsigned i);
/* The device's interrupt, delivered if raised; true if it was. */
bool bfx_device_irq(void);
/* Client i takes one answer; false if none. */
bool bfx_answer(unsigned i, struct ring_entry *out);
/* Client i's next answer is for `id`, with `status`. */
bool bfx_answered(unsigned i, uint32_t id, uint32_t status);
/* Client i's blk_info. */
const struct blk_info *bfx_info(unsigned i);

#endif
