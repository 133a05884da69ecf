/*
 * Virtual GIC: one interrupt state model, a GICv2 distributor on top of it, and delivery through
 * the hardware list registers (via hyp_inject_irq).
 *
 * State is kept as 32-bit bitmaps per group of 32 interrupts, so the distributor's set/clear
 * registers are single bit operations and finding the next interrupt to deliver is a scan of words.
 * SGIs and PPIs (0..31) are banked per vCPU; SPIs are shared. Sizes come from configuration
 * (number of interrupts, vCPUs, list registers) up to the architectural maxima below.
 */
#ifndef VMM_VGIC_H
#define VMM_VGIC_H

#include <stdbool.h>
#include <stdint.h>
#include <vmm/log.h>

#define VGIC_MAX_VCPUS 8
#define VGIC_MAX_IRQS 1020 /* INTIDs 0..1019 */
#define VGIC_MAX_WORDS 32  /* 32 interrupts per word */
#define VGIC_MAX_LRS 16
#define VGIC_NUM_PRIVATE 32
#define VGIC_NUM_SGIS 16

/* Called when the guest EOIs an interrupt that has an owner (passthrough IRQ, virtual PPI), and
 * when the VMM drops an owned line that turned out low: the owner lets the source report again. */
typedef void (*vgic_ack_fn)(unsigned vcpu, unsigned irq, void *cookie);
/* The present level of an owned level-sensitive line whose source the VMM can sample (the
 * guest's timers): true while the source's condition holds. */
typedef bool (*vgic_level_fn)(unsigned vcpu, unsigned irq, void *cookie);

struct vgic_bank {
    uint32_t enabled;
    uint32_t pending; /* latched pending (edge events, ISPENDR writes) */
    uint32_t line;    /* input line level, meaningful for level-sensitive interrupts */
    uint32_t active;  /* active state set by the guest through ISACTIVER */
    uint32_t
        in_lr;     /* currently held by a list register (pending or active in the vCPU interface) */
    uint32_t edge; /* ICFGR: 1 = edge-triggered, 0 = level-sensitive */
    uint32_t group; /* IGROUPR */
    uint8_t priority[32];
};

struct vgic_owner {
    vgic_ack_fn ack;
    vgic_level_fn level; /* NULL: the line is trusted until the guest EOIs it */
    void *cookie;
};

/* What a list register holds, while its bit in vgic_vcpu.lr_used is set. */
struct vgic_lr_slot {
    uint16_t irq;
    uint8_t priority; /* as injected */
};

/* The lowest priority a 5-bit priority field holds. No priority mask unmasks it (an interrupt is
 * signalled only if its priority is higher than the mask), so it never goes into a list
 * register: it waits in the distributor until the guest raises its priority. */
#define VGIC_PRIO_NEVER_SIGNALLED 0xf8u

struct vgic_vcpu {
    struct vgic_bank priv; /* SGIs and PPIs */
    struct vgic_owner priv_owner[VGIC_NUM_PRIVATE];
    uint8_t sgi_sources[VGIC_NUM_SGIS]; /* per SGI: bitmap of requesting vCPUs */
    struct vgic_lr_slot lr[VGIC_MAX_LRS];
    uint32_t lr_used; /* bit n: list register n holds an entry */
    /* List registers that held an entry when the vCPU last trapped on WFI. A WFI traps only when
     * nothing could wake the PE (HCR_EL2.TWI), so those entries could not be signalled then (an
     * active one, or one masked by the vCPU interface's priority mask, running priority or group
     * enables, none of which seL4 lets the VMM see): they do not keep the vCPU awake. */
    uint32_t lr_idle;
    /* Private lines whose owner can sample them (vgic_level_fn). One such line asserted but not
     * in a list register may have dropped since without an exit (the guest turned its timer
     * off), so it is sampled before the guest can observe it, unless it was reported during the
     * VMM's current activation (`fresh`, valid while fresh_epoch == the vgic's epoch). */
    uint32_t level_owned;
    uint32_t fresh;
    uint64_t fresh_epoch;
    uint32_t injected; /* statistics */
    bool asleep;       /* GICv3 GICR_WAKER.ProcessorSleep */
};

struct vgic {
    unsigned version;  /* 2 or 3 */
    unsigned num_irqs; /* multiple of 32, at most VGIC_MAX_IRQS rounded up */
    unsigned num_vcpus;
    unsigned num_lrs;
    uint32_t ctlr; /* GICD_CTLR: bit n enables group n */
    struct vgic_vcpu vcpu[VGIC_MAX_VCPUS];
    struct vgic_bank spi[VGIC_MAX_WORDS];  /* index 0 unused (private interrupts are banked) */
    uint8_t targets[VGIC_MAX_WORDS * 32];  /* GICv2 ITARGETSR byte per SPI */
    uint64_t irouter[VGIC_MAX_WORDS * 32]; /* GICv3 IROUTER per SPI */
    struct vgic_owner spi_owner[VGIC_MAX_WORDS * 32];
    /* vCPUs whose interrupt state changed since the VMM last looked (bit n = vCPU n): only
     * those can have become ready to wake from WFI. */
    uint32_t kicked;
    /* SPI words (bit n = INTIDs 32n..32n+31) that may hold a pending or asserted interrupt; a
     * word without is skipped when looking for one to deliver. */
    uint32_t spi_live;
    /* vCPUs (bit n = vCPU n) for which vgic_deliver last left a deliverable interrupt outside
     * the list registers (none free, or the last kept for a higher priority). Without, a newly
     * pending interrupt is the only candidate (see deliver_new). */
    uint32_t backlog;
    /* vCPUs an SGI was sent to since the VMM last looked (directed yields). */
    uint32_t sgi_sent;
    /* Counts the VMM's activations (exits and notifications; vgic_new_activation): vCPUs may
     * have run between two of them, never during one. */
    uint64_t epoch;
    /* Rate limits of the vGIC's reports (log.h): invalid guest accesses, list-register trouble.
     * Not interrupt state: vgic_init clears them; the VM says what they suppressed first. */
    struct log_limit log_access, log_lr;
};

/* Set up the model; false (with a log line) if the configuration is out of range. */
bool vgic_init(struct vgic *gic, unsigned version, unsigned num_irqs, unsigned num_vcpus,
               unsigned num_lrs);

/* Give an interrupt an owner to notify on EOI (replaces any previous owner); `level`, when not
 * NULL, samples the line (see vgic_level_fn). */
bool vgic_set_owner(struct vgic *gic, unsigned vcpu, unsigned irq, vgic_ack_fn ack,
                    vgic_level_fn level, void *cookie);

/* Device side: raise/lower an input. Edge interrupts latch on assert; level ones follow the line.
 * Delivery happens at once when the interrupt can be delivered. */
bool vgic_assert(struct vgic *gic, unsigned vcpu, unsigned irq);
bool vgic_deassert(struct vgic *gic, unsigned vcpu, unsigned irq);

/* The guest EOI'd list register `lr` (seL4 VGIC maintenance); lr < 0 means no specific register. */
void vgic_maintenance(struct vgic *gic, unsigned vcpu, int lr);

/* Move deliverable interrupts into free list registers of `vcpu` (and mark it kicked). */
void vgic_deliver(struct vgic *gic, unsigned vcpu);

/* True if the guest has enabled `irq` (banked for `vcpu` when private). */
bool vgic_irq_enabled(const struct vgic *gic, unsigned vcpu, unsigned irq);

/* True if `vcpu` has something in its list registers it may be able to take (for waking it up):
 * an entry put there since its last trapped WFI. */
bool vgic_vcpu_has_pending(const struct vgic *gic, unsigned vcpu);

/* Sample `vcpu`'s owned level lines waiting outside the list registers (see vgic_level_fn): a
 * line whose source dropped it is lowered and its owner acknowledged, as a level input would
 * fall on hardware. */
void vgic_resample(struct vgic *gic, unsigned vcpu);
/* The VMM starts handling an exit or a notification: vCPUs may have run since the last one. */
static inline void vgic_new_activation(struct vgic *gic)
{
    gic->epoch++;
}
/* `vcpu` trapped on WFI: what its list registers hold now cannot wake it. */
void vgic_vcpu_wfi(struct vgic *gic, unsigned vcpu);

/* Send SGI `sgi` from `src` to every vCPU in `targets` (bitmap). */
void vgic_send_sgi(struct vgic *gic, unsigned src, unsigned sgi, uint32_t targets);

/* GICv2 distributor access: `offset` from the distributor base, `width` 1/2/4/8 bytes.
 * Reads return the value; reserved and unsupported accesses read as zero and ignore writes. */
uint64_t vgic_v2_dist_read(struct vgic *gic, unsigned vcpu, uint64_t offset, unsigned width);
void vgic_v2_dist_write(struct vgic *gic, unsigned vcpu, uint64_t offset, unsigned width,
                        uint64_t value);

#define GICV2_DIST_SIZE 0x1000u

/* GICv3 distributor: `offset` from GICD base. */
uint64_t vgic_v3_dist_read(struct vgic *gic, unsigned vcpu, uint64_t offset, unsigned width);
void vgic_v3_dist_write(struct vgic *gic, unsigned vcpu, uint64_t offset, unsigned width,
                        uint64_t value);
/* GICv3 redistributors, one RD_base + SGI_base pair per vCPU: `offset` from the first frame. */
uint64_t vgic_v3_redist_read(struct vgic *gic, unsigned vcpu, uint64_t offset, unsigned width);
void vgic_v3_redist_write(struct vgic *gic, unsigned vcpu, uint64_t offset, unsigned width,
                          uint64_t value);
/* A guest write to ICC_SGI1R_EL1 (group 1) or ICC_SGI0R_EL1 / ICC_ASGI1R_EL1 (group 0). */
void vgic_v3_write_sgir(struct vgic *gic, unsigned vcpu, uint64_t value);

/* The MPIDR affinity the VMM gives vCPU n (Aff0 = n): what GICv3 routing and SGIs match. */
static inline uint64_t vgic_vcpu_affinity(unsigned vcpu)
{
    return vcpu;
}

#define GICV3_DIST_SIZE 0x10000u
#define GICV3_REDIST_STRIDE 0x20000u

#endif
