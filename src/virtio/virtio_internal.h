/* Inside src/virtio: the virtio 1.2 constants, the device-type interface, the transport's and
 * the virtqueues' functions. */
#ifndef VIRTIO_INTERNAL_H
#define VIRTIO_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vmm/virtio.h>
#include <vmm/vm.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "virtio structures are little-endian");

/* virtio-mmio (virtio 1.2, 4.2.2) */
#define VIRTIO_MMIO_MAGIC 0x74726976u /* "virt" */
#define VIRTIO_MMIO_VERSION 2u
#define VIRTIO_MMIO_VENDOR 0x4c4d5653u /* "SVML": this VMM */
#define VIRTIO_MMIO_CONFIG 0x100u      /* device-specific configuration space */
#define VIRTIO_MMIO_QUEUE_READY 0x044u /* the QueueReady register */
#define VIRTIO_MMIO_STATUS 0x070u      /* the Status register */

/* Device status (2.1) */
#define VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VIRTIO_STATUS_DRIVER 2u
#define VIRTIO_STATUS_DRIVER_OK 4u
#define VIRTIO_STATUS_FEATURES_OK 8u
#define VIRTIO_STATUS_NEEDS_RESET 0x40u
#define VIRTIO_STATUS_FAILED 0x80u

/* InterruptStatus bits */
#define VIRTIO_INT_USED 1u
#define VIRTIO_INT_CONFIG 2u

/* Reserved feature bits (6) */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

/* Split virtqueues (2.7) */
#define VIRTQ_DESC_F_NEXT 1u
#define VIRTQ_DESC_F_WRITE 2u
#define VIRTQ_DESC_F_INDIRECT 4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_DESC_ALIGN 16u
#define VIRTQ_AVAIL_ALIGN 2u
#define VIRTQ_USED_ALIGN 4u
#define VIRTQ_DESC_BYTES(n) (16u * (uint64_t)(n))
#define VIRTQ_AVAIL_BYTES(n) (6u + 2u * (uint64_t)(n))
#define VIRTQ_USED_BYTES(n) (6u + 8u * (uint64_t)(n))

/* What a device type adds to the transport. */
struct virtio_ops {
    const char *type_name;
    uint32_t device_id;
    uint64_t features; /* offered; VIRTIO_F_VERSION_1 among them */
    /* NULL, or the features offered now when they depend on the device (a read-only disk). */
    uint64_t (*offered)(const struct virtio_dev *d);
    /* NULL, or what is wrong with the backend connection's configuration for this type. */
    const char *(*conn_problem)(const struct conn_config *c);
    unsigned num_queues;
    uint16_t queue_num_max;
    const char *const *queue_names;
    uint32_t config_size; /* bytes of configuration space */
    /* What is wrong with the device's own configuration (vmm_virtio_device.u), or NULL; may be
     * NULL when there is nothing to check. */
    const char *(*config_problem)(const struct vmm_virtio_device *v);
    /* A naturally aligned access of 1, 2 or 4 bytes inside the configuration space. */
    uint32_t (*config_read)(struct virtio_dev *d, uint32_t offset, unsigned width);
    /* NULL: the configuration space is read-only (writes are reported and ignored). */
    void (*config_write)(struct virtio_dev *d, uint32_t offset, unsigned width, uint32_t value);
    /* The driver notified queue `q` (ready, device live). */
    void (*queue_notify)(struct virtio_dev *d, unsigned q);
    /* The driver disabled queue `q` (QueueReady = 0): forget what it was doing with it. */
    void (*queue_stop)(struct virtio_dev *d, unsigned q);
    /* The device went live (DRIVER_OK with FEATURES_OK): queues may hold buffers already. */
    void (*driver_ok)(struct virtio_dev *d);
    /* NULL, or how many requests at the backend could still reach guest RAM by DMA: a reset
     * (Status = 0) or a queue stop (QueueReady = 0) waits until there are none, since the driver
     * reuses its buffers after it. */
    unsigned (*reset_waits)(const struct virtio_dev *d);
    /* Device-specific reset (the transport has reset the registers and queues). */
    void (*reset)(struct virtio_dev *d);
    /* Once, at VM init: attach the backend connection (the configuration was checked). */
    void (*attach)(struct virtio_dev *d);
    /* The backend notified; `guest_running`: the device may touch guest RAM. */
    void (*backend)(struct virtio_dev *d, bool guest_running);
};

extern const struct virtio_ops virtio_console_ops;
extern const struct virtio_ops virtio_blk_ops;
extern const struct virtio_ops virtio_net_ops;

/* ---- transport (mmio.c) ---- */
/* An access to the device's register block at `offset`, from the exit handler. Invalid
 * accesses are reported and read as zero / are ignored; none is refused. */
enum mmio_result virtio_mmio_access(struct virtio_dev *d, unsigned vcpu, uint64_t offset,
                                    unsigned width, bool write, uint64_t *value);
/* Status = 0: registers, queues and the interrupt back to their reset state. */
void virtio_reset(struct virtio_dev *d);
/* The features the device offers. */
uint64_t virtio_offered(const struct virtio_dev *d);
/* DRIVER_OK and FEATURES_OK set, and not in DEVICE_NEEDS_RESET: queues may be used. */
bool virtio_live(const struct virtio_dev *d);
/* Set InterruptStatus bits and raise the line. */
void virtio_interrupt(struct virtio_dev *d, uint32_t bits);
/* The guest did something no driver may do: report it (rate-limited) and put the device in
 * DEVICE_NEEDS_RESET with a configuration-change interrupt. */
void virtio_guest_error(struct virtio_dev *d, const char *queue, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The backend did something wrong (rate-limited warning naming the device). */
void virtio_backend_warning(struct virtio_dev *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *virtio_queue_name(const struct virtio_dev *d, unsigned q);

/* ---- split virtqueues (virtq.c) ---- */
/* The driver enables a queue: check it (size, alignment, areas inside guest RAM) and start it
 * from index 0; false with the reason in `why` if it cannot be. */
bool virtq_enable(struct virtio_dev *d, struct virtq *q, char *why, size_t why_len);
/* Take the next available chain head of queue `q`: 1 taken, 0 none, -1 the guest misbehaved
 * (reported; the device now needs a reset). */
int virtq_pop_avail(struct virtio_dev *d, unsigned q, uint16_t *head);
/* Put a chain into the used ring (`len`: bytes the device wrote into it). */
void virtq_push_used(struct virtio_dev *d, unsigned q, uint16_t head, uint32_t len);
/* After a batch of virtq_push_used: interrupt the driver unless it asked not to be. */
void virtq_signal(struct virtio_dev *d, unsigned q);

/* A guest buffer of one descriptor, resolved into VMM memory. */
struct virtq_seg {
    uint8_t *ptr;
    uint32_t len;
    bool writable;
};

/* Which buffers a queue's chains may hold: the device reads them, writes them, or both (the
 * readable ones first, as every chain must). */
enum virtq_dir { VIRTQ_DEVICE_READS, VIRTQ_DEVICE_WRITES, VIRTQ_MIXED };

/* Walks one descriptor chain, checking each descriptor before it is used: index, flags, the
 * buffer inside guest RAM, direction, total length, and no descriptor twice (loops). */
struct virtq_chain {
    struct virtio_dev *d;
    unsigned q;
    uint16_t head, next;
    enum virtq_dir dir;
    bool done, in_writable;
    /* The table the chain's descriptors are read from: the queue's, or (after a descriptor with
     * VIRTQ_DESC_F_INDIRECT, when the driver negotiated VIRTIO_F_INDIRECT_DESC) an indirect
     * table in guest RAM, which then holds the rest of the chain. */
    const uint8_t *table;
    uint32_t table_num;
    bool indirect;
    unsigned count;
    uint64_t total;
    uint32_t seen[VIRTQ_MAX_SIZE / 32];
};
void virtq_chain_start(struct virtq_chain *c, struct virtio_dev *d, unsigned q, uint16_t head,
                       enum virtq_dir dir);
/* 1: *seg is the next buffer; 0: the chain ended; -1: the guest misbehaved (reported; the
 * device now needs a reset). */
int virtq_chain_next(struct virtq_chain *c, struct virtq_seg *seg);

/* ---- connections cut into fixed-size buffers (bufconn.c) ---- */
/* What differs between the devices using struct virtio_bufconn. */
struct virtio_bufconn_kind {
    uint32_t buf_size;
    uint32_t rx_min_len, rx_max_len; /* an RX_ACTIVE entry's length (at most buf_size) */
    bool tx_free_len_checked;        /* a TX_FREE entry's length must fit its buffer */
    const char *peer;                /* who the reports name: "backend", "switch" */
    const char *rx_len_rule; /* how an RX_ACTIVE entry's length is wrong: "holds no bytes" */
    const char *when_dead;   /* what a stopped connection means, after "connection stopped" */
    /* NULL, or what else the device does when the connection stops (after the report). */
    void (*stopped)(struct virtio_dev *d);
    /* NULL, or true if input arriving now is dropped (the device counts it): its buffer is lent
     * again at once instead of being held. */
    bool (*rx_unwanted)(struct virtio_dev *d);
};
/* What is wrong with the connection's configuration for buffers of `buf_size`, or NULL. */
const char *bufconn_conn_problem(const struct conn_config *c, uint32_t buf_size);
/* Once, at VM init: attach the connection, carve the buffers, lend every RX buffer. */
void bufconn_attach(struct virtio_dev *d, struct virtio_bufconn *b,
                    const struct virtio_bufconn_kind *kind);
/* Offset of buffer `id` in its data region. */
uint64_t bufconn_offset(const struct virtio_bufconn *b, unsigned id);
/* Notify the backend if a ring it consumes went from empty to non-empty. */
void bufconn_kick(struct virtio_bufconn *b);
/* Queue TX buffer `id` holding `len` bytes on TX_ACTIVE (it is lent then); false if it cannot
 * go (TX_ACTIVE full, or corrupt: then the connection stops), the buffer unchanged. */
bool bufconn_tx_queue(struct virtio_dev *d, struct virtio_bufconn *b, unsigned id, uint32_t len);
/* The oldest held RX buffer is done with: lend it again. */
void bufconn_rx_release_first(struct virtio_dev *d, struct virtio_bufconn *b);
/* The backend notified: take the TX buffers it returns and the RX buffers it fills (held, in
 * order). Every entry is checked; a bad one is dropped and reported. */
void bufconn_take_entries(struct virtio_dev *d, struct virtio_bufconn *b);
/* Lend the idle RX buffers, as many as RX_FREE takes. */
void bufconn_lend_idle(struct virtio_dev *d, struct virtio_bufconn *b);

/* Guest RAM at [gpa, gpa + len) as a VMM pointer, or NULL if any of it is outside guest RAM. */
static inline uint8_t *virtio_gpa(const struct virtio_mem *m, uint64_t gpa, uint64_t len)
{
    if (gpa < m->base || len > m->size || gpa - m->base > m->size - len)
        return NULL;
    return m->ram + (gpa - m->base);
}

/* Device label in log lines: "console@0xa003e00". */
#define VIRTIO_LABEL_FMT "%s@0x%llx"
#define VIRTIO_LABEL(d) (d)->cfg->name, (unsigned long long)(d)->cfg->base

#endif
