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
 *
 * Direct requests (BLK_OP_READ_DIRECT, BLK_OP_WRITE_DIRECT) move the data by the storage
 * device's DMA straight to or from the client's DMA window: one physically contiguous range of
 * memory the build gives the server for this client (a VM's guest RAM), which the server itself
 * never maps. `data` is then the offset in the TX data region of a table of `segs` struct
 * blk_seg, each naming bytes of the window by offset; their lengths add up to count * 512 (a
 * segment need not be a multiple of 512). The server offers them (blk_info.direct_max_segs > 0,
 * the most segments one request may have, at most BLK_DIRECT_MAX_SEGS) only when its device does
 * DMA and the client has a window (blk_info.direct_window bytes); it copies the table out once
 * and checks every segment (length > 0, inside the window, no overflow) and the sum before the
 * device sees any of it, and answers a bad one BLK_S_IOERR (BLK_S_UNSUPP when not offered).
 * A client must not reuse a segment's memory until the request is answered: the device may
 * write it until then, whatever else the client does meanwhile.
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
    BLK_OP_READ_DIRECT = 16,
    BLK_OP_WRITE_DIRECT = 17,
};

#define BLK_DIRECT_MAX_SEGS 256u

enum blk_status {
    BLK_S_OK = 0,
    BLK_S_IOERR = 1,
    BLK_S_UNSUPP = 2,
};

struct blk_request {
    uint32_t op;
    uint32_t count;  /* sectors */
    uint64_t sector; /* first sector, in the client's range */
    uint64_t data;   /* offset in the TX data region of the data (direct: of the segment table) */
    uint32_t segs;   /* direct: entries in the segment table; otherwise 0 */
    uint32_t reserved;
};

/* One segment of a direct request: `len` bytes at `offset` in the client's DMA window. */
struct blk_seg {
    uint64_t offset;
    uint32_t len;
    uint32_t reserved;
};

#define BLK_INFO_MAGIC 0x626c6b69u /* "iklb" */
#define BLK_INFO_BYTES 64u

struct blk_info {
    uint32_t magic; /* BLK_INFO_MAGIC once ready */
    uint32_t read_only;
    uint64_t capacity; /* sectors in the client's range */
    uint32_t max_sectors_per_request;
    uint32_t direct_max_segs; /* 0: no direct requests from this client */
    uint64_t direct_window;   /* bytes of the client's DMA window (direct requests only) */
    uint32_t pad[8];
};

_Static_assert(sizeof(struct blk_info) == BLK_INFO_BYTES, "blk_info is 64 bytes");
_Static_assert(sizeof(struct blk_request) == 32, "blk_request is 32 bytes");
_Static_assert(sizeof(struct blk_seg) == 16, "blk_seg is 16 bytes");

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
