/*
 * virtio-mmio devices the VMM emulates for its guest (virtio 1.2: register layout version 2,
 * split virtqueues), each served by a backend PD over a connection (proto/conn.h).
 *
 * The transport (src/virtio/mmio.c) owns the register file, feature negotiation, queue set-up,
 * the interrupt (one vGIC SPI per device, level-sensitive: high while InterruptStatus != 0) and
 * reset. Virtqueues (src/virtio/virtq.c) read everything from guest RAM once, check every index,
 * address and length against the queue and guest RAM, and put a device whose guest misbehaves
 * in DEVICE_NEEDS_RESET with a rate-limited, decoded report. Device types (src/virtio/console.c,
 * blk.c, net.c) move data between guest buffers and the backend's data regions; the console and
 * the network device cut theirs into fixed-size buffers (bufconn.c). src/virtio/devices.c builds a
 * VM's devices from its configuration and connects them to the VM.
 */
#ifndef VMM_VIRTIO_H
#define VMM_VIRTIO_H

#include <proto/blk.h>
#include <proto/conn.h>
#include <stdbool.h>
#include <stdint.h>
#include <vmm/config.h>
#include <vmm/log.h>

struct vm;
struct vgic;
struct virtio_dev;

#define VIRTIO_MAX_DEVICES 8 /* per VM */
#define VIRTIO_MAX_QUEUES 2  /* of any device type here */
#define VIRTQ_MAX_SIZE 512u  /* the largest QueueNumMax any device offers */
#define VIRTIO_MMIO_MIN_SIZE 0x200u

/* Guest RAM as the devices see it: every guest address is checked against it. */
struct virtio_mem {
    uint8_t *ram; /* mapped in the VMM */
    uint64_t base, size;
};

/* One split virtqueue, as the driver set it up. */
struct virtq {
    uint32_t num; /* QueueNum as written; checked (at most VIRTQ_MAX_SIZE) when enabled */
    bool ready;   /* QueueReady */
    uint64_t desc, driver, device;
    uint8_t *desc_p, *avail_p, *used_p; /* the three areas in the VMM, once checked */
    uint16_t last_avail;                /* next available-ring entry to take */
    uint16_t used_idx;                  /* next used-ring entry to write */
    bool used_any; /* entries went into the used ring since the last interrupt check */
};

/* A device's side of a backend connection whose data regions are cut into fixed-size buffers
 * (src/virtio/bufconn.c; the console's and the network device's). The VMM is the client: it
 * carves each data region into buffers, identified by their index (also the id in ring
 * entries), and tracks where each one is, so it takes back only what it lent, once. */
#define VIRTIO_BUFCONN_MAX_BUFS 64u
struct virtio_bufconn_kind;
struct virtio_bufconn {
    const struct virtio_bufconn_kind *kind; /* buffer size, entry rules, report wording */
    struct conn conn;
    bool conn_dead; /* a ring went corrupt: nothing more goes either way */
    unsigned tx_bufs, rx_bufs;
    uint64_t tx_free; /* TX buffers the VMM may fill */
    uint64_t tx_lent; /* TX buffers on TX_ACTIVE or at the backend */
    uint64_t rx_lent; /* RX buffers on RX_FREE or at the backend */
    uint64_t rx_idle; /* RX buffers the VMM holds empty, to lend again */
    /* Filled RX buffers waiting for the guest's receive buffers, oldest first. */
    uint8_t rx_held[VIRTIO_BUFCONN_MAX_BUFS];
    unsigned rx_held_first, rx_held_count;
    uint16_t rx_len[VIRTIO_BUFCONN_MAX_BUFS];
    bool notify_backend;  /* a ring the backend consumes went from empty to non-empty */
    uint64_t bad_entries; /* entries from the backend that break the protocol (reported) */
};

/* The console's side of its backend connection (src/virtio/console.c): SERIAL_BUF_SIZE
 * buffers; several output chains may share one TX buffer. */
struct virtio_console {
    struct virtio_bufconn bc;
    int tx_fill; /* TX buffer being filled (-1: none) */
    uint32_t tx_fill_len;
    bool tx_pending;        /* a transmitq0 chain taken but not all of it copied yet */
    uint16_t tx_head;       /* its head */
    uint64_t tx_done;       /* bytes of it copied so far */
    uint16_t rx_first_used; /* bytes of the oldest held RX buffer copied to the guest so far */
    uint64_t tx_dropped;    /* output bytes dropped (counted, and reported rate-limited) */
};

/* The block device's side of its connection to the block server (src/virtio/blk.c,
 * proto/blk.h). The VMM is the client: page 0 of the data region holds one request header per
 * request slot (the slot is the id in ring entries), the other pages the requests' data,
 * allocated per request as a run of whole pages. Each slot remembers which guest chain it
 * serves and the device's epoch then: a completion from before a reset is dropped. */
#define VIRTIO_BLK_MAX_REQS 64u    /* requests at the block server at once */
#define VIRTIO_BLK_PAGE 4096u      /* the data region's allocation unit */
#define VIRTIO_BLK_MAX_PAGES 4096u /* 16 MiB of data region at most */
struct virtio_blk_req {
    uint32_t epoch; /* the device's epoch when it went to the server */
    uint16_t head;  /* the guest's chain */
    uint8_t type;   /* VIRTIO_BLK_T_* */
    uint32_t first_page, pages;
    uint32_t len;    /* data bytes */
    uint8_t *status; /* the guest's status byte, in guest RAM */
    bool direct;     /* the data moves by the server's DMA in guest RAM; page = its segments */
};
struct virtio_blk {
    struct conn conn;
    const struct blk_info *info; /* in the queue region, written by the server */
    bool conn_dead;              /* a ring went corrupt: every request fails from now on */
    bool ready;                  /* the server's blk_info was read */
    bool refused;                /* the server's limits do not fit this device's: never ready */
    uint64_t capacity;           /* sectors offered to the guest (0 until ready) */
    uint32_t max_sectors;        /* per request, the server's */
    bool server_ro;
    /* Direct requests (proto/blk.h): the most segments the server takes in one, 0 if it offers
     * none (then every byte is copied through the data region). Guest RAM is the window. */
    uint32_t direct_segs;
    unsigned dma_pending; /* direct requests at the server: its device may still reach guest RAM */
    uint32_t epoch;       /* bumped by every reset and queue stop */
    unsigned num_reqs, pages;
    uint64_t req_free; /* slots not at the server */
    uint64_t page_used[VIRTIO_BLK_MAX_PAGES / 64];
    struct virtio_blk_req req[VIRTIO_BLK_MAX_REQS];
    bool held; /* a chain taken from the queue that waits for a slot or data pages */
    uint16_t held_head;
    bool notify_backend;
    /* Counted, and reported (rate-limited). */
    uint64_t bad_entries, dropped, refused_reqs;
    uint64_t direct_reqs, copied_reqs; /* reads and writes sent each way */
};

/* The network device's side of its connection to the virtual switch (src/virtio/net.c,
 * proto/net.h): NET_BUF_SIZE buffers, one frame each. */
struct virtio_net_counters {
    uint64_t tx_frames, tx_bytes; /* frames the guest sent that went to the switch */
    uint64_t rx_frames, rx_bytes; /* frames put into the guest's receive buffers */
    /* Transmit chains dropped (the chain is returned to the guest, the frame is not sent). */
    uint64_t tx_no_header;  /* shorter than the virtio-net header */
    uint64_t tx_bad_header; /* an offload or GSO the device did not offer */
    uint64_t tx_too_short;  /* frame shorter than an Ethernet header */
    uint64_t tx_too_long;   /* frame over MTU + Ethernet header */
    uint64_t tx_link_down;  /* sent while the connection to the switch was stopped */
    uint64_t bad_chains;    /* chains the transport refused (outside guest RAM, loops...) */
    /* Received frames dropped. */
    uint64_t rx_too_small; /* the guest's receive chain could not hold header + frame */
    uint64_t rx_no_driver; /* the device was not live (no driver, reset, rebooting) */
    /* Entries from the switch that break the protocol are counted in bc.bad_entries. */
};
struct virtio_net {
    struct virtio_bufconn bc; /* conn_dead: link down */
    bool was_live;            /* a driver ran it since the last reset */
    bool counters_wanted;     /* ask the switch for its counters when a TX buffer is free */
    struct virtio_net_counters count;
};

struct virtio_dev {
    const struct vmm_virtio_device *cfg;
    const struct virtio_ops *ops;
    struct virtio_mem mem;
    struct vgic *gic;
    uint32_t status;  /* as the driver wrote it (FEATURES_OK only if accepted) */
    bool needs_reset; /* DEVICE_NEEDS_RESET: the guest misbehaved; nothing runs until reset */
    uint32_t isr;     /* InterruptStatus */
    uint32_t config_generation;
    uint32_t device_features_sel, driver_features_sel;
    uint64_t driver_features;
    bool driver_features_beyond; /* the driver wrote feature bits above 63 */
    uint32_t queue_sel;
    uint32_t shm_sel;
    struct virtq vq[VIRTIO_MAX_QUEUES];
    /* Rate limits (log.h): invalid register accesses, a driver breaking the rules, a backend
     * misbehaving. */
    struct log_limit log_access, log_guest, log_backend;
    union {
        struct virtio_console console;
        struct virtio_blk blk;
        struct virtio_net net;
    } u;
};

/* Check the configuration's virtio devices, register their MMIO regions, attach their backend
 * connections. False, with a line naming the device and the problem, if one is wrong. */
bool virtio_devices_init(struct vm *vm);
/* The guest (re)boots: every device is reset (status 0, queues off, interrupt low); backend
 * buffers keep their owners, and input not yet delivered waits for the next driver. */
void virtio_devices_reset(struct vm *vm);
/* A notification on `channel`: true if it is a device's backend (then handled). */
bool virtio_devices_notified(struct vm *vm, unsigned channel);
/* Requests at a backend whose device may still write guest RAM by DMA (a reset waits for
 * them: the next boot's memory must not change under it). */
unsigned virtio_devices_dma_pending(const struct vm *vm);
/* Say what the devices' rate limits suppressed and start afresh (with the VM's). */
void virtio_devices_log_limits_reset(struct vm *vm);

#endif
