/*
 * What a VMM build knows about its VM: generated at build time (tools/vmm-config.py) from the
 * board's device tree, the Microkit system file and the guest images. src/ has no per-board values.
 */
#ifndef VMM_CONFIG_H
#define VMM_CONFIG_H

#include <proto/conn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vmm/guest_images.h>

enum boot_protocol {
    BOOT_LINUX, /* arm64 Image: header checked, loaded at RAM base + text_offset */
    BOOT_RAW,   /* raw binary loaded at kernel_addr, entered at entry */
};

/* A hardware interrupt delivered to the VMM on a Microkit channel and passed to the guest. */
struct vmm_irq_passthrough {
    unsigned channel;
    unsigned irq; /* INTID, the same in the guest */
};

/* Virtio device IDs (virtio 1.2, 5). */
enum vmm_virtio_type {
    VMM_VIRTIO_NET = 1,
    VMM_VIRTIO_BLK = 2,
    VMM_VIRTIO_CONSOLE = 3,
};

/* A virtio-mmio device the VMM emulates for the guest, served by a backend PD. */
struct vmm_virtio_device {
    enum vmm_virtio_type type;
    const char *name;        /* for log lines, e.g. "console" */
    uint64_t base;           /* guest physical address of its register block */
    uint64_t size;           /* of the register block (0x200) */
    unsigned irq;            /* its interrupt: an SPI no other device of the VM uses */
    struct conn_config conn; /* the connection to its backend */
    union {
        struct {
            /* The declaration says read-only: VIRTIO_BLK_F_RO, and writes fail in the VMM
             * already. Its capacity comes from the block server (proto/blk.h, blk_info). */
            unsigned read_only;
        } blk;
        struct {
            uint8_t mac[6];
            uint16_t mtu;
        } net;
    } u;
};

struct vmm_config {
    const char *vm_name;
    unsigned num_vcpus;

    uint64_t ram_base; /* guest physical */
    uint64_t ram_size;

    unsigned gic_version;
    uint64_t gicd_base; /* guest physical address of the emulated distributor */
    uint64_t gicr_base; /* GICv3: first redistributor frame (one RD + SGI pair per vCPU) */
    uint64_t gicc_base; /* GICv2: where the guest sees its CPU interface */
    unsigned gic_num_irqs;
    unsigned gic_num_lrs;
    unsigned vtimer_irq; /* PPI the kernel reports as a virtual PPI event */
    unsigned ptimer_irq; /* PPI of the EL1 physical timer (non-secure), the same in the guest */
    unsigned trace_mmio; /* log every emulated access ("mmio: ..."), for replay traces */

    /* Channel of the physical timer PPI, or -1 if the system file gives none: then WFI resumes
     * at once instead of sleeping and the guest's physical timer raises no interrupt. */
    int wakeup_channel;
    /* In a system of several VMs the timer PD owns the physical timer (proto/timer.h): then this
     * is the VMM's slot (wakeup_channel goes to the timer PD), and the guest's physical timer
     * raises no interrupt. 0: the VMM owns the timer's PPI itself. */
    uintptr_t wakeup_slot;

    const struct vmm_irq_passthrough *irqs;
    unsigned num_irqs;

    const struct vmm_virtio_device *virtio;
    unsigned num_virtio;

    enum boot_protocol protocol;
    const uint8_t *kernel, *kernel_end;
    unsigned kernel_gzip; /* the kernel is built in gzip-compressed and inflated into RAM */
    uint64_t kernel_addr; /* BOOT_RAW only; Linux goes to RAM base + text_offset */
    uint64_t entry;       /* BOOT_RAW only */
    const uint8_t *dtb, *dtb_end;
    uint64_t dtb_addr;
    const uint8_t *initrd, *initrd_end; /* may be empty */
    uint64_t initrd_addr;
    /* NULL: kernel and initrd are built into the VMM. Else they point into a region the boot
     * loader filled (vmm/guest_images.h), checked before use. */
    const struct vmm_preloaded_images *preloaded;

    /* Random bytes tools/vmm-config.py draws for each build: the key of the mix the guest's
     * kaslr-seed and rng-seed come from (src/core/seed.c). Secret: only the VMM reads it. */
    uint8_t build_secret[32];
    /* A hardware random number generator the system file gives the VMM, when the board has one
     * the VMM has a driver for: fills `len` bytes, false if it cannot. NULL: none (so far no
     * board here has one), and the seeds come from the counter mix alone. */
    bool (*hw_rng_read)(uint8_t *buf, size_t len);
    const char *hw_rng_name; /* for the boot log */
};

#endif
