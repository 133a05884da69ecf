/*
 * The virtio-mmio transport (virtio 1.2, 4.2.2, register layout version 2): each register is
 * described once in a table (offset, direction, handler); every register is 32 bits wide and
 * takes aligned 32-bit accesses only, the configuration space from 0x100 takes aligned 8, 16 or
 * 32-bit ones. Anything else is reported (rate-limited), reads as zero and is ignored when
 * written: the guest goes on, as with the distributor's reserved registers.
 */
#include <vmm/log.h>
#include <vmm/util.h>
#include <vmm/vgic.h>

#include "virtio_internal.h"

#define BAD_ACCESSES "reports of invalid virtio-mmio accesses"

enum reg_dir { REG_R = 1, REG_W = 2, REG_RW = 3 };

struct virtio_reg {
    const char *name;
    uint8_t dir;
    uint32_t (*read)(struct virtio_dev *d, uint32_t offset);
    void (*write)(struct virtio_dev *d, uint32_t offset, uint32_t value);
};

static void access_warning(struct virtio_dev *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void access_warning(struct virtio_dev *d, const char *fmt, ...)
{
    if (!log_limit_pass(&d->log_access, LOG_WARN, "virtio", BAD_ACCESSES))
        return;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    fmt_vformat(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    LOG_WARNING("virtio", VIRTIO_LABEL_FMT ": %s", VIRTIO_LABEL(d), msg);
}

const char *virtio_queue_name(const struct virtio_dev *d, unsigned q)
{
    return q < d->ops->num_queues ? d->ops->queue_names[q] : "no such queue";
}

uint64_t virtio_offered(const struct virtio_dev *d)
{
    return d->ops->offered ? d->ops->offered(d) : d->ops->features;
}

bool virtio_live(const struct virtio_dev *d)
{
    const uint32_t live = VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK;
    return (d->status & live) == live && !d->needs_reset;
}

void virtio_interrupt(struct virtio_dev *d, uint32_t bits)
{
    d->isr |= bits;
    vgic_assert(d->gic, 0, d->cfg->irq);
}

void virtio_reset(struct virtio_dev *d)
{
    d->status = 0;
    d->needs_reset = false;
    d->isr = 0;
    vgic_deassert(d->gic, 0, d->cfg->irq);
    d->device_features_sel = d->driver_features_sel = 0;
    d->driver_features = 0;
    d->driver_features_beyond = false;
    d->queue_sel = 0;
    d->shm_sel = 0;
    for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
        vmm_memset(&d->vq[q], 0, sizeof(d->vq[q]));
        d->vq[q].num = d->ops->queue_num_max;
    }
    if (d->ops->reset)
        d->ops->reset(d);
}

void virtio_guest_error(struct virtio_dev *d, const char *queue, const char *fmt, ...)
{
    if (log_limit_pass(&d->log_guest, LOG_ERROR, "virtio",
                       "reports of virtio drivers breaking the rules")) {
        char msg[240];
        va_list ap;
        va_start(ap, fmt);
        fmt_vformat(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        LOG_ERR("virtio",
                VIRTIO_LABEL_FMT ": %s%s%s; the device needs a reset (DEVICE_NEEDS_RESET)",
                VIRTIO_LABEL(d), queue ? queue : "", queue ? ": " : "", msg);
    }
    if (!d->needs_reset) {
        d->needs_reset = true;
        virtio_interrupt(d, VIRTIO_INT_CONFIG);
    }
}

void virtio_backend_warning(struct virtio_dev *d, const char *fmt, ...)
{
    if (!log_limit_pass(&d->log_backend, LOG_WARN, "virtio", "reports of a backend misbehaving"))
        return;
    char msg[240];
    va_list ap;
    va_start(ap, fmt);
    fmt_vformat(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    LOG_WARNING("virtio", VIRTIO_LABEL_FMT ": backend on channel %u: %s", VIRTIO_LABEL(d),
                d->cfg->conn.channel, msg);
}

/* ---- registers ---------------------------------------------------------------------------- */

static uint32_t rd_magic(struct virtio_dev *d, uint32_t off)
{
    (void)d, (void)off;
    return VIRTIO_MMIO_MAGIC;
}

static uint32_t rd_version(struct virtio_dev *d, uint32_t off)
{
    (void)d, (void)off;
    return VIRTIO_MMIO_VERSION;
}

static uint32_t rd_device_id(struct virtio_dev *d, uint32_t off)
{
    (void)off;
    return d->ops->device_id;
}

static uint32_t rd_vendor_id(struct virtio_dev *d, uint32_t off)
{
    (void)d, (void)off;
    return VIRTIO_MMIO_VENDOR;
}

static uint32_t rd_device_features(struct virtio_dev *d, uint32_t off)
{
    (void)off;
    if (d->device_features_sel > 1)
        return 0;
    return (uint32_t)(virtio_offered(d) >> (32 * d->device_features_sel));
}

static void wr_device_features_sel(struct virtio_dev *d, uint32_t off, uint32_t v)
{
    (void)off;
    d->device_features_sel = v;
}

static void wr_driver_features(struct virtio_dev *d, uint32_t off, uint32_t v)
{
    (void)off;
    if (d->status & VIRTIO_STATUS_FEATURES_OK) {
        access_warning(d, "DriverFeatures written (0x%x, word %u) after FEATURES_OK; ignored", v,
                       d->driver_features_sel);
        return;
    }
    if (d->driver_features_sel > 1) {
        d->driver_features_beyond |= v != 0; /* nothing up there is offered */
        return;
    }
    unsigned shift = 32 * d->driver_features_sel;
    d->driver_features = (d->driver_features & ~((uint64_t)0xffffffffu << shift)) | (uint64_t)v
                                                                                        << shift;
}

static void wr_driver_features_sel(struct virtio_dev *d, uint32_t off, uint32_t v)
{
    (void)off;
    d->driver_features_sel = v;
}

static void wr_queue_sel(struct virtio_dev *d, uint32_t off, uint32_t v)
{
    (void)off;
    d->queue_sel = v;
}

/* The selected queue, or NULL if there is none (reads as an absent queue: QueueNumMax 0). */
static struct virtq *selected_queue(struct virtio_dev *d)
{
    return d->queue_sel < d->ops->num_queues ? &d->vq[d->queue_sel] : NULL;
}

/* The selected queue for a write that sets it up; NULL (reported) if there is none, or it is
 * enabled (the driver must not change an enabled queue). */
static struct virtq *queue_to_set_up(struct virtio_dev *d, const char *reg, uint32_t v)
{
    struct virtq *q = selected_queue(d);
    if (!q)
        access_warning(d, "%s written (0x%x) with QueueSel %u, which is no queue; ignored", reg, v,
                       d->queue_sel);
    else if (q->ready)
        access_warning(d, "%s written (0x%x) while %s is enabled; ignored", reg, v,
                       virtio_queue_name(d, d->queue_sel));
    else
        return q;
    return NULL;
}

static uint32_t rd_queue_num_max(struct virtio_dev *d, uint32_t off)
{
    (void)off;
    return selected_queue(d) ? d->ops->queue_num_max : 0;
}

static void wr_queue_num(struct virtio_dev *d, uint32_t off, uint32_t v)
{
    (void)off;
    struct virtq *q = queue_to_set_up(d, "QueueNum", v);
    if (q) /* checked when the queue is enabled */
        q->num = v;
}

static uint32_t rd_queue_ready(struct virtio_dev *d, uint32_t off)
{
    (void)off;
    const struct virtq *q = selected_queue(d);
    return q && q->ready;
}

static void wr_queue_ready(struct virtio_dev *d, uint32_t off, uint32_t v)
{
    (void)off;
    struct virtq *q = selected_queue(d);
    unsigned qi = d->queue_sel;
    if (!q || v > 1) {
        access_warning(d, "QueueReady written (0x%x) with QueueSel %u: %s; ignored", v, qi,
                       q ? "neither 0 nor 1" : "no such queue");
        return;
    }
    if (!v) {
        if (q->ready) {
            q->ready = false;
            if (d->ops->queue_stop)
                d->ops->queue_stop(d, qi);
        }
        return;
    }
    if (q->ready)
        return;
    char why[160];
    if (!virtq_enable(d, q, why, sizeof(why)))
        virtio_guest_error(d, virtio_queue_name(d, qi), "cannot be enabled: %s", why);
}

static void wr_queue_notify(struct virtio_dev *d, uint32_t off, uint32_t v)
{
    (void)off;
    if (v >= d->ops->num_queues) {
        access_warning(d, "QueueNotify for queue %u, which the device does not have; ignored", v);
        return;
    }
    /* Before DRIVER_OK, or with the queue off, there is nothing to do: buffers already made
     * available are taken when the device goes live. */
    if (virtio_live(d) && d->vq[v].ready)
        d->ops->queue_notify(d, v);
}

static uint32_t rd_isr(struct virtio_dev *d, uint32_t off)
{
    (void)off;
    return d->isr;
}

static void wr_isr_ack(struct virtio_dev *d, uint32_t off, uint32_t v)
{
    (void)off;
    d->isr &= ~v;
    if (!d->isr)
        vgic_deassert(d->gic, 0, d->cfg->irq);
}

static uint32_t rd_status(struct virtio_dev *d, uint32_t off)
{
    (void)off;
    return d->status | (d->needs_reset ? VIRTIO_STATUS_NEEDS_RESET : 0);
}

/* FEATURES_OK holds only for a subset of what is offered that includes VIRTIO_F_VERSION_1. */
static bool features_acceptable(const struct virtio_dev *d)
{
    uint64_t f = d->driver_features;
    return !d->driver_features_beyond && !(f & ~virtio_offered(d)) && (f >> VIRTIO_F_VERSION_1) & 1;
}

static void wr_status(struct virtio_dev *d, uint32_t off, uint32_t v)
{
    (void)off;
    if (v == 0) {
        virtio_reset(d);
        return;
    }
    bool was_live = virtio_live(d);
    /* The device alone sets DEVICE_NEEDS_RESET; bits above the status byte do not exist. */
    uint32_t s = v & 0xffu & ~VIRTIO_STATUS_NEEDS_RESET;
    if ((s & VIRTIO_STATUS_FEATURES_OK) && !(d->status & VIRTIO_STATUS_FEATURES_OK) &&
        !features_acceptable(d)) {
        s &= ~VIRTIO_STATUS_FEATURES_OK;
        access_warning(d,
                       "driver features 0x%llx%s are not a subset of 0x%llx with VERSION_1; "
                       "FEATURES_OK stays clear",
                       (unsigned long long)d->driver_features,
                       d->driver_features_beyond ? " (and bits above 63)" : "",
                       (unsigned long long)virtio_offered(d));
    }
    d->status = s;
    if (!was_live && virtio_live(d) && d->ops->driver_ok)
        d->ops->driver_ok(d);
}

/* QueueDescLow/High, QueueDriverLow/High, QueueDeviceLow/High. */
static void wr_queue_addr(struct virtio_dev *d, uint32_t off, uint32_t v)
{
    static const char *const names[6] = { "QueueDescLow",    "QueueDescHigh",  "QueueDriverLow",
                                          "QueueDriverHigh", "QueueDeviceLow", "QueueDeviceHigh" };
    unsigned which = (off - 0x80) / 0x10, high = (off & 4) != 0;
    struct virtq *q = queue_to_set_up(d, names[which * 2 + high], v);
    if (!q)
        return;
    uint64_t *field = which == 0 ? &q->desc : which == 1 ? &q->driver : &q->device;
    unsigned shift = high ? 32 : 0;
    *field = (*field & ~((uint64_t)0xffffffffu << shift)) | (uint64_t)v << shift;
}

static void wr_shm_sel(struct virtio_dev *d, uint32_t off, uint32_t v)
{
    (void)off;
    d->shm_sel = v;
}

/* No shared memory regions: every one reads as length -1 (absent), base -1. */
static uint32_t rd_shm_none(struct virtio_dev *d, uint32_t off)
{
    (void)d, (void)off;
    return 0xffffffffu;
}

static uint32_t rd_config_generation(struct virtio_dev *d, uint32_t off)
{
    (void)off;
    return d->config_generation;
}

#define REG(off, name, dir, rd, wr) [(off) / 4] = { name, dir, rd, wr }

static const struct virtio_reg regs[VIRTIO_MMIO_CONFIG / 4] = {
    REG(0x000, "MagicValue", REG_R, rd_magic, NULL),
    REG(0x004, "Version", REG_R, rd_version, NULL),
    REG(0x008, "DeviceID", REG_R, rd_device_id, NULL),
    REG(0x00c, "VendorID", REG_R, rd_vendor_id, NULL),
    REG(0x010, "DeviceFeatures", REG_R, rd_device_features, NULL),
    REG(0x014, "DeviceFeaturesSel", REG_W, NULL, wr_device_features_sel),
    REG(0x020, "DriverFeatures", REG_W, NULL, wr_driver_features),
    REG(0x024, "DriverFeaturesSel", REG_W, NULL, wr_driver_features_sel),
    REG(0x030, "QueueSel", REG_W, NULL, wr_queue_sel),
    REG(0x034, "QueueNumMax", REG_R, rd_queue_num_max, NULL),
    REG(0x038, "QueueNum", REG_W, NULL, wr_queue_num),
    REG(0x044, "QueueReady", REG_RW, rd_queue_ready, wr_queue_ready),
    REG(0x050, "QueueNotify", REG_W, NULL, wr_queue_notify),
    REG(0x060, "InterruptStatus", REG_R, rd_isr, NULL),
    REG(0x064, "InterruptACK", REG_W, NULL, wr_isr_ack),
    REG(0x070, "Status", REG_RW, rd_status, wr_status),
    REG(0x080, "QueueDescLow", REG_W, NULL, wr_queue_addr),
    REG(0x084, "QueueDescHigh", REG_W, NULL, wr_queue_addr),
    REG(0x090, "QueueDriverLow", REG_W, NULL, wr_queue_addr),
    REG(0x094, "QueueDriverHigh", REG_W, NULL, wr_queue_addr),
    REG(0x0a0, "QueueDeviceLow", REG_W, NULL, wr_queue_addr),
    REG(0x0a4, "QueueDeviceHigh", REG_W, NULL, wr_queue_addr),
    REG(0x0ac, "SHMSel", REG_W, NULL, wr_shm_sel),
    REG(0x0b0, "SHMLenLow", REG_R, rd_shm_none, NULL),
    REG(0x0b4, "SHMLenHigh", REG_R, rd_shm_none, NULL),
    REG(0x0b8, "SHMBaseLow", REG_R, rd_shm_none, NULL),
    REG(0x0bc, "SHMBaseHigh", REG_R, rd_shm_none, NULL),
    REG(0x0fc, "ConfigGeneration", REG_R, rd_config_generation, NULL),
};

/* Report an access that is not valid; a read of it returns zero. */
static void bad_access(struct virtio_dev *d, unsigned vcpu, uint64_t off, unsigned width,
                       bool write, uint64_t value, const char *what, const char *why)
{
    if (write)
        access_warning(d,
                       "vCPU %u: %u-byte write of 0x%llx to offset 0x%llx (%s) is not a valid "
                       "access (%s); ignored",
                       vcpu, width, (unsigned long long)value, (unsigned long long)off, what, why);
    else
        access_warning(d,
                       "vCPU %u: %u-byte read of offset 0x%llx (%s) is not a valid access (%s); "
                       "reads as zero",
                       vcpu, width, (unsigned long long)off, what, why);
}

static void config_access(struct virtio_dev *d, unsigned vcpu, uint64_t off, unsigned width,
                          bool write, uint64_t *value)
{
    uint64_t rel = off - VIRTIO_MMIO_CONFIG;
    const char *why = NULL;
    if (width > 4 || (rel & (width - 1)))
        why = "it takes aligned 8, 16 or 32-bit accesses";
    else if (rel >= d->ops->config_size || width > d->ops->config_size - rel)
        why = "beyond the device's configuration space";
    else if (write && !d->ops->config_write)
        why = "the configuration space is read-only";
    if (why) {
        bad_access(d, vcpu, off, width, write, *value, "configuration space", why);
        if (!write)
            *value = 0;
        return;
    }
    if (write)
        d->ops->config_write(d, (uint32_t)rel, width, (uint32_t)*value);
    else
        *value = d->ops->config_read(d, (uint32_t)rel, width);
}

enum mmio_result virtio_mmio_access(struct virtio_dev *d, unsigned vcpu, uint64_t off,
                                    unsigned width, bool write, uint64_t *value)
{
    if (off >= VIRTIO_MMIO_CONFIG) {
        config_access(d, vcpu, off, width, write, value);
        return MMIO_OK;
    }
    const struct virtio_reg *r = &regs[off / 4];
    const char *name = r->name ? r->name : "no register";
    const char *why = NULL;
    if (width != 4 || (off & 3))
        why = "registers take aligned 32-bit accesses";
    else if (!r->name)
        why = "nothing is there";
    else if (!(r->dir & (write ? REG_W : REG_R)))
        why = write ? "read-only" : "write-only";
    if (why) {
        bad_access(d, vcpu, off, width, write, *value, name, why);
        if (!write)
            *value = 0;
        return MMIO_OK;
    }
    /* A reset, or a queue stopped, forgets the requests at the backend: not while its DMA may
     * still write buffers the driver is then free to reuse. */
    bool forgets = off == VIRTIO_MMIO_STATUS || off == VIRTIO_MMIO_QUEUE_READY;
    if (write && forgets && !*value && d->ops->reset_waits) {
        unsigned pending = d->ops->reset_waits(d);
        if (pending) {
            if (log_limit_pass(&d->log_guest, LOG_INFO, "virtio", "resets that wait for DMA"))
                LOG_INFO("virtio",
                         VIRTIO_LABEL_FMT ": the %s waits for %u request(s) at the backend "
                                          "whose DMA may still write guest RAM",
                         VIRTIO_LABEL(d), off == VIRTIO_MMIO_STATUS ? "reset" : "queue stop",
                         pending);
            return MMIO_RETRY;
        }
    }
    if (write)
        r->write(d, (uint32_t)off, (uint32_t)*value);
    else
        *value = r->read(d, (uint32_t)off);
    return MMIO_OK;
}
