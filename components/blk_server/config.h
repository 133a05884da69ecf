/*
 * The block server's configuration: its storage device and its clients. The build tool writes it
 * as a C file defining
 *
 *     const struct blk_server_config blk_server_config = { ... };
 *
 * from the system file's <block_server> (the device's registers and interrupt from the board's
 * device tree, or the RAM disk image built into this PD) and each client's declaration (a VM's
 * <virtio_blk/>, ...): its connection (proto/conn.h, proto/blk.h; the server's view), its range
 * of the disk and whether it may write.
 *
 * A client's TX data region is made of BLK_DATA_CHUNK-byte pages, each physically contiguous;
 * the Microkit tool writes each one's physical address into a variable of this PD (setvar
 * region_paddr) that `data_paddr` points to, so the storage device can reach a client's buffers
 * directly. Only a storage driver that does DMA needs them.
 *
 * A client may also have a DMA window (proto/blk.h, direct requests): one physically contiguous
 * range the device may read and write for it (a VM's guest RAM region), which this PD does not
 * map; `window_paddr` points to the variable holding its physical address (setvar
 * region_paddr) and `window_size` is its length. Without one (NULL) the client gets no direct
 * requests, nor does any client of a storage driver that does no DMA.
 */
#ifndef BLK_SERVER_CONFIG_H
#define BLK_SERVER_CONFIG_H

#include <proto/conn.h>
#include <stdint.h>

#define BLK_SERVER_MAX_CLIENTS 8
#ifndef BLK_DATA_CHUNK           /* the fuzzer makes it smaller, to be quick */
#define BLK_DATA_CHUNK 0x200000u /* 2 MiB: one large page */
#endif
#define BLK_MAX_CHUNKS 8
#define BLK_NAME_MAX 32

/* The storage drivers the server has. 0 is none: the build refuses such a board, and so does
 * the server. */
enum blk_storage_kind {
    BLK_STORAGE_NONE = 0,
    BLK_STORAGE_VIRTIO = 1,  /* "virtio,mmio" with a block device: drivers/virtio_blk */
    BLK_STORAGE_RAMDISK = 2, /* an image in this PD's own memory */
};

struct blk_client_config {
    const char *name;
    struct conn_config conn;                    /* the server's view */
    const uint64_t *data_paddr[BLK_MAX_CHUNKS]; /* per chunk of the TX data region */
    unsigned partition; /* 1..: that partition of the disk's MBR or GPT; 0: the range below */
    uint64_t start;     /* first sector (partition 0) */
    uint64_t sectors;   /* sectors (partition 0); 0: to the end of the disk */
    unsigned read_only;
    const uint64_t *window_paddr; /* NULL: no DMA window */
    uint64_t window_size;
};

struct blk_server_config {
    unsigned storage; /* enum blk_storage_kind */
    /* virtio: the device's registers (mapped uncached), its interrupt's channel, and the
     * driver's DMA region (one physically contiguous page) with its physical address. */
    uintptr_t regs;
    unsigned irq_channel;
    uintptr_t dma;
    const uint64_t *dma_paddr;
    uint64_t dma_size;
    /* RAM disk: the image in this PD's writable memory (a whole number of sectors). */
    uint8_t *ramdisk;
    uint64_t ramdisk_size;
    unsigned num_clients;
    struct blk_client_config clients[BLK_SERVER_MAX_CLIENTS];
};

extern const struct blk_server_config blk_server_config;

#endif
