/*
 * The driver side of a virtio-mmio device (virtio 1.2, 4.2.2, register layout version 2) and of
 * its split virtqueues (2.7), for the drivers native components use (drivers/virtio_blk, ...).
 * Registers go through include/pd/mmio.h; queue memory is a DMA region the caller gives with
 * its physical address (the device sees physical addresses only).
 *
 * The device is not trusted with the driver's own state: the free list and each chain's links
 * are kept in private arrays, never read back from the descriptor table, and every used-ring
 * entry is checked (a head that is not one the driver queued is counted and ignored).
 *
 * Only the modern interface (Version 2) is driven. QEMU's virtio-mmio devices are legacy
 * (Version 1) unless QEMU runs with `-global virtio-mmio.force-legacy=false`; the probe says so.
 */
#ifndef DRIVERS_VIRTIO_MMIO_H
#define DRIVERS_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Registers */
#define VMMIO_MAGIC 0x000
#define VMMIO_VERSION 0x004
#define VMMIO_DEVICE_ID 0x008
#define VMMIO_DEVICE_FEATURES 0x010
#define VMMIO_DEVICE_FEATURES_SEL 0x014
#define VMMIO_DRIVER_FEATURES 0x020
#define VMMIO_DRIVER_FEATURES_SEL 0x024
#define VMMIO_QUEUE_SEL 0x030
#define VMMIO_QUEUE_NUM_MAX 0x034
#define VMMIO_QUEUE_NUM 0x038
#define VMMIO_QUEUE_READY 0x044
#define VMMIO_QUEUE_NOTIFY 0x050
#define VMMIO_INTERRUPT_STATUS 0x060
#define VMMIO_INTERRUPT_ACK 0x064
#define VMMIO_STATUS 0x070
#define VMMIO_QUEUE_DESC_LOW 0x080
#define VMMIO_QUEUE_DESC_HIGH 0x084
#define VMMIO_QUEUE_DRIVER_LOW 0x090
#define VMMIO_QUEUE_DRIVER_HIGH 0x094
#define VMMIO_QUEUE_DEVICE_LOW 0x0a0
#define VMMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VMMIO_CONFIG_GENERATION 0x0fc
#define VMMIO_CONFIG 0x100

#define VMMIO_MAGIC_VALUE 0x74726976u /* "virt" */

/* Device status */
#define VMMIO_S_ACKNOWLEDGE 1u
#define VMMIO_S_DRIVER 2u
#define VMMIO_S_DRIVER_OK 4u
#define VMMIO_S_FEATURES_OK 8u
#define VMMIO_S_NEEDS_RESET 0x40u
#define VMMIO_S_FAILED 0x80u

#define VMMIO_F_VERSION_1 32

/* Split virtqueue layout */
#define VQ_DESC_F_NEXT 1u
#define VQ_DESC_F_WRITE 2u
#define VQ_MAX_NUM 1024u

struct vq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct vq {
    uint16_t num; /* a power of two, at most VQ_MAX_NUM */
    volatile struct vq_desc *desc;
    volatile uint16_t *avail; /* flags, idx, ring[num] */
    volatile uint8_t *used;   /* flags, idx, ring[num] of {id, len} */
    uint16_t avail_idx;       /* the driver's next available index */
    uint16_t last_used;       /* used entries taken so far */
    uint16_t num_free, free_head;
    uint16_t next[VQ_MAX_NUM];      /* the free list, and each chain's links (private) */
    uint16_t chain_len[VQ_MAX_NUM]; /* descriptors of the chain headed here (0: not queued) */
    uint16_t fill_at, fill_k;       /* vq_set's place in the chain being filled */
    uint64_t bad_used;              /* used entries naming no queued chain (ignored) */
};

/* Bytes of DMA memory a queue of `num` entries takes (vq_setup's layout: descriptors, the
 * available ring, then the used ring on the next 4 KiB page), as a constant expression. */
#define VQ_BYTES(num) ((((16u * (num) + 6u + 2u * (num)) + 4095u) & ~4095u) + 6u + 8u * (num))
size_t vq_bytes(unsigned num);

/* NULL if a device of `device_id` with the modern interface is at `regs`; else why not. */
const char *vmmio_probe(uintptr_t regs, uint32_t device_id);
/* Reset, ACKNOWLEDGE, DRIVER, then offer the device's features that are in `wanted`;
 * `required` (VERSION_1 among them) must all be offered. NULL on FEATURES_OK (the accepted set
 * in *accepted), else why not (the device is then marked FAILED). */
const char *vmmio_negotiate(uintptr_t regs, uint64_t required, uint64_t wanted, uint64_t *accepted);
/* Set up queue `index` in `mem` (physical address `paddr`, `size` bytes, zeroed here) with up
 * to `want` entries (fewer if the device takes fewer). NULL on success, else why not. */
const char *vq_setup(uintptr_t regs, unsigned index, struct vq *q, void *mem, uint64_t paddr,
                     size_t size, unsigned want);
void vmmio_driver_ok(uintptr_t regs);
void vmmio_fail(uintptr_t regs);
uint32_t vmmio_config_read32(uintptr_t regs, unsigned offset);
uint64_t vmmio_config_read64(uintptr_t regs, unsigned offset);
/* Reads InterruptStatus and acknowledges those bits; returns them. */
uint32_t vmmio_irq_ack(uintptr_t regs);
void vmmio_notify(uintptr_t regs, unsigned queue);
/* True if the device says it needs a reset (it gave up on something). */
bool vmmio_needs_reset(uintptr_t regs);

/* Take a chain of `n` descriptors from the free list; returns its head, or -1 if fewer than `n`
 * are free (or n is 0). Fill its buffers with vq_set, in order (device-readable ones first),
 * then vq_add_chain makes it available at the next vq_publish. */
int vq_alloc(struct vq *q, unsigned n);
/* Buffer `k` of the chain headed by `head` (vq_alloc's order). */
void vq_set(struct vq *q, uint16_t head, unsigned k, uint64_t paddr, uint32_t len, bool writable);
void vq_add_chain(struct vq *q, uint16_t head);
/* Makes the chains added since the last call available (the caller then notifies). */
void vq_publish(struct vq *q);
/* 1: a used chain (*head, *len written by the device), freed; 0: none; -1: a used entry that
 * names no queued chain (counted in bad_used, skipped). */
int vq_take_used(struct vq *q, uint16_t *head, uint32_t *len);

#endif
