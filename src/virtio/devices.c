/* A VM's virtio devices: checked and built from its configuration, registered as MMIO regions,
 * reset with the guest, and reached by their backends' notifications. */
#include <vmm/log.h>
#include <vmm/util.h>
#include <vmm/vgic.h>
#include <vmm/vm.h>

#include "virtio_internal.h"

static const struct virtio_ops *ops_of(enum vmm_virtio_type type)
{
    switch (type) {
    case VMM_VIRTIO_CONSOLE: return &virtio_console_ops;
    case VMM_VIRTIO_BLK: return &virtio_blk_ops;
    case VMM_VIRTIO_NET: return &virtio_net_ops;
    default: return NULL;
    }
}

static const char *type_name(enum vmm_virtio_type type)
{
    switch (type) {
    case VMM_VIRTIO_NET: return "network device";
    case VMM_VIRTIO_BLK: return "block device";
    case VMM_VIRTIO_CONSOLE: return "console";
    default: return "unknown type";
    }
}

static enum mmio_result region_access(struct vm *vm, const void *ctx, unsigned vcpu,
                                      uint64_t offset, unsigned width, bool write, uint64_t *value)
{
    const struct vmm_virtio_device *v = ctx;
    return virtio_mmio_access(&vm->virtio[v - vm->cfg->virtio], vcpu, offset, width, write, value);
}

/* What is wrong with the connection's configuration, or NULL. */
static const char *conn_problem(const struct virtio_ops *ops, const struct conn_config *c)
{
    if (!ring_capacity_ok(c->capacity))
        return "its ring capacity is not a power of two";
    if (!c->queue || !c->tx_data)
        return "a region of its backend connection is not mapped";
    return ops->conn_problem ? ops->conn_problem(c) : NULL;
}

/* Device `i` of the configuration against the VM and the devices before it. */
static bool check_device(const struct vm *vm, unsigned i, char *why, size_t why_len)
{
    const struct vmm_config *cfg = vm->cfg;
    const struct vmm_virtio_device *v = &cfg->virtio[i];
    const char *problem;
    if (!ops_of(v->type)) {
        fmt_format(why, why_len, "type %u (%s) is not supported by this VMM", (unsigned)v->type,
                   type_name(v->type));
        return false;
    }
    if (v->base + v->size < v->base) {
        fmt_format(why, why_len,
                   "its registers (0x%llx bytes at 0x%llx) wrap around the address "
                   "space",
                   (unsigned long long)v->size, (unsigned long long)v->base);
        return false;
    }
    if (v->base % VIRTIO_MMIO_MIN_SIZE || v->size < VIRTIO_MMIO_MIN_SIZE ||
        v->size % VIRTIO_MMIO_MIN_SIZE) {
        fmt_format(why, why_len,
                   "its registers (0x%llx bytes at 0x%llx) are not a multiple of 0x%x bytes at "
                   "an address aligned to 0x%x",
                   (unsigned long long)v->size, (unsigned long long)v->base, VIRTIO_MMIO_MIN_SIZE,
                   VIRTIO_MMIO_MIN_SIZE);
        return false;
    }
    if (ranges_overlap(v->base, v->size, cfg->ram_base, cfg->ram_size)) {
        fmt_format(why, why_len, "its registers at 0x%llx overlap guest RAM",
                   (unsigned long long)v->base);
        return false;
    }
    if (v->irq < VGIC_NUM_PRIVATE || v->irq >= vm->gic.num_irqs || v->irq >= VGIC_MAX_IRQS) {
        fmt_format(why, why_len, "interrupt %u is not an SPI of this VM's GIC (32..%u)", v->irq,
                   vm->gic.num_irqs - 1);
        return false;
    }
    for (unsigned p = 0; p < cfg->num_irqs; p++) {
        if (cfg->irqs[p].irq == v->irq || cfg->irqs[p].channel == v->conn.channel) {
            fmt_format(why, why_len,
                       "interrupt %u / channel %u: the passthrough interrupt %u on channel %u "
                       "has one of them",
                       v->irq, v->conn.channel, cfg->irqs[p].irq, cfg->irqs[p].channel);
            return false;
        }
    }
    if (cfg->wakeup_channel >= 0 && v->conn.channel == (unsigned)cfg->wakeup_channel) {
        fmt_format(why, why_len, "channel %u is the wake-up timer's", v->conn.channel);
        return false;
    }
    for (unsigned j = 0; j < i; j++) {
        const struct vmm_virtio_device *o = &cfg->virtio[j];
        if (o->irq == v->irq || o->conn.channel == v->conn.channel) {
            fmt_format(why, why_len,
                       "interrupt %u / channel %u: virtio device '%s' has one of them already",
                       v->irq, v->conn.channel, o->name);
            return false;
        }
    }
    if ((problem = conn_problem(ops_of(v->type), &v->conn)) ||
        (ops_of(v->type)->config_problem && (problem = ops_of(v->type)->config_problem(v)))) {
        fmt_format(why, why_len, "%s", problem);
        return false;
    }
    return true;
}

bool virtio_devices_init(struct vm *vm)
{
    const struct vmm_config *cfg = vm->cfg;
    char why[200];
    if (cfg->num_virtio > VIRTIO_MAX_DEVICES || (cfg->num_virtio && !cfg->virtio)) {
        LOG_ERR("virtio", "refusing to start: %u virtio devices configured (at most %u)",
                cfg->num_virtio, VIRTIO_MAX_DEVICES);
        return false;
    }
    for (unsigned i = 0; i < cfg->num_virtio; i++) {
        const struct vmm_virtio_device *v = &cfg->virtio[i];
        struct virtio_dev *d = &vm->virtio[i];
        if (!v->name) {
            LOG_ERR("virtio", "refusing to start: virtio device %u has no name", i);
            return false;
        }
        if (!check_device(vm, i, why, sizeof(why))) {
            LOG_ERR("virtio", "refusing to start: virtio %s '%s': %s", type_name(v->type), v->name,
                    why);
            return false;
        }
        if (!vm_add_mmio(vm, v->base, v->size, v->name, region_access, v))
            return false;
        vmm_memset(d, 0, sizeof(*d));
        d->cfg = v;
        d->ops = ops_of(v->type);
        d->mem = (struct virtio_mem){ vm->ram, cfg->ram_base, cfg->ram_size };
        d->gic = &vm->gic;
        d->ops->attach(d);
        virtio_reset(d);
        vm->num_virtio = i + 1;
    }
    return true;
}

void virtio_devices_reset(struct vm *vm)
{
    for (unsigned i = 0; i < vm->num_virtio; i++)
        virtio_reset(&vm->virtio[i]);
}

bool virtio_devices_notified(struct vm *vm, unsigned channel)
{
    for (unsigned i = 0; i < vm->num_virtio; i++) {
        struct virtio_dev *d = &vm->virtio[i];
        if (d->cfg->conn.channel == channel) {
            d->ops->backend(d, vm->state == VM_RUNNING);
            return true;
        }
    }
    return false;
}

unsigned virtio_devices_dma_pending(const struct vm *vm)
{
    unsigned n = 0;
    for (unsigned i = 0; i < vm->num_virtio; i++) {
        const struct virtio_dev *d = &vm->virtio[i];
        if (d->ops->reset_waits)
            n += d->ops->reset_waits(d);
    }
    return n;
}

void virtio_devices_log_limits_reset(struct vm *vm)
{
    for (unsigned i = 0; i < vm->num_virtio; i++) {
        struct virtio_dev *d = &vm->virtio[i];
        log_limit_reset(&d->log_access);
        log_limit_reset(&d->log_guest);
        log_limit_reset(&d->log_backend);
    }
}
