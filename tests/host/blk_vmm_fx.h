/* The VMM's virtio-blk under test: the fixture's VM with one block device at FX_VIRTIO_BASE, a
 * guest driver model building requests in guest RAM (any descriptor layout), and behind the
 * device either the real block server on a RAM disk (notifications pumped both ways) or a fake
 * server the test plays by hand on the connection's rings. */
#ifndef BLK_VMM_FX_H
#define BLK_VMM_FX_H

#include <blk_server/blk_server.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio_fx.h"

#define BVX_CAP 16u             /* ring capacity */
#define BVX_DATA (257u * 4096u) /* data region: 256 data pages, room for any request */
#define BVX_DISK_SECTORS 16384u /* the RAM disk: 8 MiB */
#define BVX_START 2048u         /* the VM's range of it */
#define BVX_SECTORS 4096u       /* 2 MiB */
#define BVX_SERVER_CH 7u        /* the server's channel to the VMM */
#define BVX_Q 512u              /* the guest's queue size */
#define BVX_HDR (VIO_DATA)      /* request headers in guest RAM, 16 bytes apart */
#define BVX_STATUS (VIO_DATA + 0x1000u)
#define BVX_BUF (VIO_DATA + 0x10000u) /* data buffers */

struct bvx {
    bool real;          /* the real server is behind the device */
    uint64_t data_size; /* of the data region (BVX_DATA unless a test sets less before boot) */
    struct blk_server server;
    struct blk_server_config scfg;
    uint8_t *ramdisk;
    struct conn fake; /* the fake server's view */
    struct blk_info *info;
    uint16_t next_desc;
};
extern struct bvx bvx;

/* Boots the fixture's VM with the block device (read-only if asked) and, if `real`, starts the
 * real server behind it and pumps until quiet. The RAM disk's bytes are (sector & 0xff). */
bool bvx_boot(bool real, bool read_only);
/* Deliver notifications both ways until nothing is pending (real server). */
void bvx_pump(void);
/* The fake server says it is ready: capacity, max sectors per request, read-only. */
void bvx_fake_ready(uint64_t capacity, uint32_t max_sectors, bool ro);
/* ... and offers direct requests: at most `segs` segments, a window of `window` bytes. */
void bvx_fake_ready_direct(uint64_t capacity, uint32_t max_sectors, uint32_t segs, uint64_t window);
/* The fake server takes one request off TX_ACTIVE; false if none. */
bool bvx_fake_take(struct ring_entry *e, struct blk_request *r);
/* The fake server answers (queues on RX_ACTIVE) and notifies the VMM. */
void bvx_fake_answer(uint64_t offset, uint32_t status, uint32_t id);
/* The guest driver: negotiate `features` (low word; VERSION_1 always), queue 0 of BVX_Q,
 * DRIVER_OK. True if the device took it. */
bool bvx_driver(uint32_t features);
/* One descriptor of the chain being built: gpa, len, writable. */
struct bvx_seg {
    uint64_t gpa;
    uint32_t len;
    bool writable;
};
/* Publish a chain of `n` descriptors (consecutive, round robin) and notify; returns its head. */
uint16_t bvx_chain(const struct bvx_seg *segs, unsigned n);
/* A request in the usual layout: header (type, sector) in its own descriptor, `n` data
 * descriptors of `each` bytes from BVX_BUF + `buf_off`, the status byte in its own. Returns
 * its head; the header is at BVX_HDR + 16 * head, the status at BVX_STATUS + head. */
uint16_t bvx_request(uint32_t type, uint64_t sector, unsigned n, uint32_t each, uint32_t buf_off);
uint8_t bvx_status(uint16_t head);
/* The next used entry: true with its id and length. */
bool bvx_used(uint32_t *id, uint32_t *len);
/* The device's configuration space (4 bytes at `off`). */
uint32_t bvx_config(uint32_t off);

#endif
