/*
 * The block server's storage: one device behind one interface, chosen at start by the kind the
 * configuration names (no #if): QEMU's virtio block device (drivers/virtio_blk), or a RAM disk
 * in the server's own memory. Requests are queued and complete later (the RAM disk's at once,
 * reported by storage_complete like the others), each carrying the caller's tag.
 */
#ifndef BLK_SERVER_STORAGE_H
#define BLK_SERVER_STORAGE_H

#include <proto/blk.h>
#include <stdbool.h>
#include <stdint.h>
#include <virtio_blk/virtio_blk.h>

#include "config.h"

/* A request's physical segments: a buffer in the data region spans at most BLK_MAX_CHUNKS + 1
 * pieces, a direct request has up to BLK_DIRECT_MAX_SEGS. */
#define STORAGE_MAX_SEGS \
    (BLK_DIRECT_MAX_SEGS > BLK_MAX_CHUNKS + 1 ? BLK_DIRECT_MAX_SEGS : BLK_MAX_CHUNKS + 1)
#define STORAGE_MAX_INFLIGHT 128u

struct storage_io {
    uint32_t op; /* BLK_OP_READ, _WRITE, _FLUSH (proto/blk.h) */
    uint64_t sector;
    uint32_t count;
    uint8_t *buf;                          /* the data, as this PD maps it (NULL: direct) */
    struct vblk_seg seg[STORAGE_MAX_SEGS]; /* ... and by physical address (DMA drivers) */
    unsigned nsegs;
    bool direct; /* the segments are in a client's DMA window, which only the device reaches */
    uint32_t tag;
};

enum storage_result {
    STORAGE_QUEUED,
    STORAGE_FULL,    /* try again after completions */
    STORAGE_TOO_BIG, /* the device cannot take it in one request */
};

struct storage {
    unsigned kind;
    const char *name;  /* of the driver, for messages */
    uint64_t capacity; /* sectors */
    bool read_only;
    bool needs_paddr;   /* requests must carry physical segments */
    uint64_t max_bytes; /* largest request it always takes */
    /* Most physical segments of at most max_bytes in all that it always takes in one request
     * (0: it cannot do direct requests). */
    uint32_t direct_segs;
    struct vblk vblk;
    uint8_t *ram;
    /* RAM disk completions, in order. */
    struct {
        uint32_t tag;
        uint8_t status;
    } done[STORAGE_MAX_INFLIGHT];
    unsigned done_first, done_count;
    /* A buffer the server may read into at start (partition tables), with its address. */
    uint8_t *scratch;
    uint64_t scratch_pa;
};

/* Starts the device the configuration names; NULL, or why it cannot. */
const char *storage_init(struct storage *s, const struct blk_server_config *cfg);
enum storage_result storage_submit(struct storage *s, const struct storage_io *io);
/* Call after a batch of submissions. */
void storage_kick(struct storage *s);
/* 1: a request completed (*tag, *status a BLK_S_*); 0: none now. */
int storage_complete(struct storage *s, uint32_t *tag, uint8_t *status);
/* The device's interrupt: acknowledge it at the device. */
void storage_irq(struct storage *s);
/* Reads one sector and waits for it (at start only, before any other request), at most
 * `timeout_ticks` of the counter: a pointer to its bytes, or NULL. A read that timed out may
 * still complete later, with the tag STORAGE_SCRATCH_TAG. */
const uint8_t *storage_read_sector(struct storage *s, uint64_t lba, uint64_t timeout_ticks);

#define STORAGE_SCRATCH_TAG 0xffffffffu

#endif
