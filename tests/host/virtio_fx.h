/*
 * Both ends of the fixture's virtio console, for tests and the fuzzer: a guest driver model
 * that reaches the device through real MMIO exits and builds its virtqueues in guest RAM, and a
 * fake backend, the server side of the connection over fx_backend.
 */
#ifndef VIRTIO_FX_H
#define VIRTIO_FX_H

#include <proto/conn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vmm/virtio.h>

#include "fixture.h"

/* virtio-mmio registers and values the tests use (virtio 1.2, 4.2.2). */
enum {
    VIO_MAGIC = 0x000,
    VIO_VERSION = 0x004,
    VIO_DEVICE_ID = 0x008,
    VIO_VENDOR_ID = 0x00c,
    VIO_DEVICE_FEATURES = 0x010,
    VIO_DEVICE_FEATURES_SEL = 0x014,
    VIO_DRIVER_FEATURES = 0x020,
    VIO_DRIVER_FEATURES_SEL = 0x024,
    VIO_QUEUE_SEL = 0x030,
    VIO_QUEUE_NUM_MAX = 0x034,
    VIO_QUEUE_NUM = 0x038,
    VIO_QUEUE_READY = 0x044,
    VIO_QUEUE_NOTIFY = 0x050,
    VIO_INTERRUPT_STATUS = 0x060,
    VIO_INTERRUPT_ACK = 0x064,
    VIO_STATUS = 0x070,
    VIO_QUEUE_DESC_LOW = 0x080,
    VIO_QUEUE_DESC_HIGH = 0x084,
    VIO_QUEUE_DRIVER_LOW = 0x090,
    VIO_QUEUE_DRIVER_HIGH = 0x094,
    VIO_QUEUE_DEVICE_LOW = 0x0a0,
    VIO_QUEUE_DEVICE_HIGH = 0x0a4,
    VIO_SHM_SEL = 0x0ac,
    VIO_SHM_LEN_LOW = 0x0b0,
    VIO_SHM_LEN_HIGH = 0x0b4,
    VIO_SHM_BASE_LOW = 0x0b8,
    VIO_SHM_BASE_HIGH = 0x0bc,
    VIO_QUEUE_RESET = 0x0c0,
    VIO_CONFIG_GENERATION = 0x0fc,
    VIO_CONFIG = 0x100,
};
#define VIO_S_ACK 1u
#define VIO_S_DRIVER 2u
#define VIO_S_DRIVER_OK 4u
#define VIO_S_FEATURES_OK 8u
#define VIO_S_NEEDS_RESET 0x40u
#define VIO_F_VERSION_1_HI 1u /* bit 32: bit 0 of the high word */
#define VIO_D_NEXT 1u
#define VIO_D_WRITE 2u
#define VIO_D_INDIRECT 4u
#define VIO_RXQ 0u
#define VIO_TXQ 1u
#define VIO_QMAX 128u

/* Guest RAM the driver model uses: queue areas, then data buffers. */
#define VIO_QAREA(q) (FX_RAM_BASE + 0x800000u + (q)*0x10000u)
#define VIO_DATA (FX_RAM_BASE + 0x900000u)

/* A register access through a real MMIO exit from vCPU 0 (x5); returns x5 afterwards. */
uint64_t vio_access(uint32_t off, unsigned width, int write, uint64_t value);
uint32_t vio_read(uint32_t off);
void vio_write(uint32_t off, uint32_t value);

/* Guest RAM at `gpa` (inside the fixture's RAM). */
uint8_t *vio_ram(uint64_t gpa);

/* The driver's view of one queue. */
struct vdrv_queue {
    uint16_t num;
    uint64_t desc, avail, used;
    uint16_t avail_idx; /* next available index the driver publishes */
    uint16_t used_seen; /* used entries the driver has read */
    uint16_t next_desc; /* next free descriptor (round robin) */
};
extern struct vdrv_queue vdrv_q[2];

/* Status = 0, ACKNOWLEDGE | DRIVER, features (high word `feat_hi`, low `feat_lo`) and
 * FEATURES_OK; returns the status read back. */
uint32_t vdrv_negotiate(uint32_t feat_hi, uint32_t feat_lo);
/* Set queue `q` up with `num` entries at VIO_QAREA(q) (areas packed, aligned) and enable it. */
void vdrv_queue_setup(unsigned q, uint16_t num);
/* The whole of Linux's probe: negotiate VERSION_1, both queues of `num`, DRIVER_OK. True if
 * the device took it (FEATURES_OK stuck, both queues ready, DRIVER_OK, no NEEDS_RESET). */
bool vdrv_setup(uint16_t num);

/* Write descriptor `i` of queue `q`. */
void vdrv_desc(unsigned q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next);
/* Publish `head` in the available ring (the index moves on; no notification). */
void vdrv_avail(unsigned q, uint16_t head);
/* A chain of `n` buffers (gpa, len each), all device-readable or all device-writable, in free
 * descriptors, published; returns its head. */
uint16_t vdrv_chain(unsigned q, const uint64_t *gpa, const uint32_t *len, unsigned n,
                    bool writable);
/* QueueNotify. */
void vdrv_notify(unsigned q);
/* The used ring's index as the device wrote it, and the next entry not yet seen (false if
 * there is none). */
uint16_t vdrv_used_idx(unsigned q);
bool vdrv_next_used(unsigned q, uint32_t *id, uint32_t *len);
/* True if the device's interrupt line is up in the vGIC. */
bool vio_line(void);

/* ---- the fake backend (server side) ---- */
struct fake_backend {
    struct conn conn;
    uint8_t out[1 << 16]; /* output taken from TX buffers, in order */
    size_t out_len;
    unsigned notified; /* notifications sent to the VMM */
    bool auto_notify;  /* notify the VMM when the ring rule says so (else the test does) */
};
extern struct fake_backend fb;

/* Attach to the fixture's connection (after vm_init: the VMM lent its RX buffers already). */
void fb_attach(void);
/* Take up to `max` TX_ACTIVE entries, append their bytes to fb.out; give them back on TX_FREE
 * if `give_back`. Returns how many were taken. */
unsigned fb_take_output(unsigned max, bool give_back);
/* Fill one RX_FREE buffer with `data` and queue it on RX_ACTIVE; false if none was free. */
bool fb_send_input(const void *data, uint32_t len);
/* Queue a raw entry on ring `ring` (TX_FREE or RX_ACTIVE), notifying by the ring rule. */
bool fb_push(unsigned ring, uint64_t offset, uint32_t len, uint32_t id);
/* Entries on a ring the VMM produces (TX_ACTIVE, RX_FREE), as the backend sees them. */
uint32_t fb_count(unsigned ring);
/* Notify the VMM now (as the backend's notification arriving). */
void fb_notify_vmm(void);

/* Every buffer of the device's connection (the console's or the network device's) is in
 * exactly one place; `tx_fill` is the TX buffer the console is filling (-1: none). If not, a
 * line says where they are. */
bool vio_buffers_accounted(const struct virtio_bufconn *b, int tx_fill);

#endif
