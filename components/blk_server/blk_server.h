/*
 * The block server: one storage device (storage.h) shared by up to BLK_SERVER_MAX_CLIENTS
 * clients (VMs' virtio-blk devices, native PDs), each connected by the block protocol
 * (proto/blk.h) and given its own range of the disk: sectors from its configuration, or a
 * partition of the disk's MBR or GPT found at start.
 *
 * The server enforces each range itself, whatever a client (or the VMM behind it) puts in its
 * rings and data region: every request is copied out of the shared region once and checked
 * (its entry and header inside the data region, the op, the sectors inside the client's range
 * without overflow, the data buffer inside the data region, no write to a read-only range)
 * before the device sees it, and the device reads and writes only that client's data region.
 * Ranges of different clients never overlap (a client whose range would is refused at start).
 * Direct requests (proto/blk.h) are offered to a client with a DMA window when the device does
 * DMA: their segment table is copied out once and every segment checked to lie inside that
 * client's window, so the device reads and writes that window and nothing else for them.
 * A bad request is answered (IOERR or UNSUPP) and reported, a few lines per client, then
 * counted; a ring whose indices make no sense ends that client's connection.
 *
 * Clients take turns, one request each, so none can starve another; a client gets no more
 * requests taken than its response ring can hold answers for, so every completion finds room.
 */
#ifndef BLK_SERVER_H
#define BLK_SERVER_H

#include <proto/blk.h>
#include <proto/conn.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "storage.h"

#define BLK_SERVER_REPORTS 8 /* lines per client about its bad requests, then counted only */
#define BLK_START_TIMEOUT_MS 2000

struct blk_client_counters {
    uint64_t reads, writes, flushes, get_ids;
    uint64_t bytes_read, bytes_written;
    uint64_t direct;      /* of the reads and writes, the direct ones */
    uint64_t io_errors;   /* the device answered IOERR */
    uint64_t refused;     /* requests answered IOERR/UNSUPP without reaching the device */
    uint64_t bad_entries; /* ring entries that named no request header */
};

struct blk_client {
    const struct blk_client_config *cfg;
    bool configured; /* the configuration passed the checks */
    bool ready;      /* its range is known; blk_info written */
    bool ended;      /* a ring went corrupt: never touched again */
    struct conn conn;
    uint64_t start, sectors;
    bool read_only;
    uint64_t paddr[BLK_MAX_CHUNKS];
    uint64_t window_paddr, window_size; /* its DMA window, when direct_segs > 0 */
    uint32_t direct_segs;               /* most segments of a direct request; 0: not offered */
    uint32_t in_flight;                 /* requests taken and not yet answered */
    bool held;                          /* a request taken that the device had no room for */
    struct storage_io held_io;          /* ... and where each request taken is built */
    struct ring_entry held_entry;
    bool notify;
    unsigned reports;
    struct blk_client_counters count;
};

struct blk_inflight {
    bool used;
    uint8_t client;
    bool direct;
    uint32_t op;
    uint64_t bytes;
    struct ring_entry entry; /* the client's, to answer with */
};

struct blk_server {
    bool ready; /* the storage device works */
    struct storage st;
    unsigned irq_channel;
    unsigned num_clients;
    struct blk_client client[BLK_SERVER_MAX_CLIENTS];
    struct blk_inflight inflight[STORAGE_MAX_INFLIGHT];
    uint16_t free_tag[STORAGE_MAX_INFLIGHT];
    unsigned num_free;
    unsigned next;            /* the client that goes first in the next round */
    uint64_t bad_completions; /* completions naming no request in flight */
};

/* Starts the storage device, finds each client's range, writes each client's blk_info and
 * notifies it. What cannot work is said in one line each. */
void blk_server_init(struct blk_server *s, const struct blk_server_config *cfg);
/* A notification: the device's interrupt or any client's channel. */
void blk_server_notified(struct blk_server *s, unsigned channel);

#endif
