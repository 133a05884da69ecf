/*
 * The block protocol over a connection (proto/conn.h) between a client (a VMM's virtio-blk, or a
 * native PD) and the block server (components/blk_server), which gives each client its own range
 * of one storage device and enforces it.
 *
 * The client's TX data region holds its requests and their data buffers; both sides map it
 * read-write (the server writes what a read returns). The RX data region is unused.
 *   request:  the client writes a struct blk_request into the TX data region and queues a
 *             TX_ACTIVE entry naming it (offset, len = sizeof(struct blk_request), id of the
 *             client's choosing).
 *   response: the server queues an RX_ACTIVE entry with the same offset and id, and len = the
 *             status (BLK_S_*), once the request is done; exactly one per request, in any order.
 * Sectors are 512 bytes and count from the start of the client's range. The server checks every
 * request (its header inside the data region, the data buffer inside it, op known, count > 0
 * for reads and writes, sector + count within the range, no overflow) and answers a bad one
 * with BLK_S_IOERR or BLK_S_UNSUPP without touching the device. GET_ID writes BLK_ID_BYTES
 * bytes (the serial, padded with zeros) into the data buffer.
 *
 * Right after the four rings, at blk_info_offset(capacity) of the queue region (both sides know
 * the capacity; the region's size is not part of a connection's configuration), lies a struct
 * blk_info the server writes once it knows the client's range (it may have to read a partition
 * table first): its fields, then (release) `magic`. A client reads `magic` (acquire) before the
 * rest and takes nothing from it on trust: the capacity bounds only what it offers its guest,
 * the server enforces the range itself. The server notifies the client once it is ready.
 * `max_sectors_per_request` is the most one request may carry (the server answers a larger one
 * with BLK_S_IOERR); it is at least BLK_MIN_REQUEST_SECTORS whenever the device allows.
 */
#ifndef PROTO_BLK_H
#define PROTO_BLK_H

#include <proto/conn.h>
#include <stdint.h>

#define BLK_SECTOR_SIZE 512u
#define BLK_MIN_REQUEST_SECTORS 2048u /* 1 MiB */
#define BLK_ID_BYTES 20u

enum blk_op {
    BLK_OP_READ = 0,
    BLK_OP_WRITE = 1,
    BLK_OP_FLUSH = 4,
    BLK_OP_GET_ID = 8,
};

enum blk_status {
    BLK_S_OK = 0,
    BLK_S_IOERR = 1,
    BLK_S_UNSUPP = 2,
};

struct blk_request {
    uint32_t op;
    uint32_t count;  /* sectors */
    uint64_t sector; /* first sector, in the client's range */
    uint64_t data;   /* offset of the data buffer in the TX data region */
};

#define BLK_INFO_MAGIC 0x626c6b69u /* "iklb" */
#define BLK_INFO_BYTES 64u

struct blk_info {
    uint32_t magic; /* BLK_INFO_MAGIC once ready */
    uint32_t read_only;
    uint64_t capacity; /* sectors in the client's range */
    uint32_t max_sectors_per_request;
    uint32_t pad[11];
};

_Static_assert(sizeof(struct blk_info) == BLK_INFO_BYTES, "blk_info is 64 bytes");
_Static_assert(sizeof(struct blk_request) == 24, "blk_request is 24 bytes");

static inline uint64_t blk_info_offset(uint32_t capacity)
{
    return conn_queue_bytes(capacity);
}

/* Bytes of queue region a block connection needs: the rings and the blk_info. */
static inline uint64_t blk_queue_bytes(uint32_t capacity)
{
    return blk_info_offset(capacity) + BLK_INFO_BYTES;
}

#endif
