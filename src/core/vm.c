/* VM lifecycle (init, boot, reset, stop) and the exit dispatcher. */
#include <vmm/log.h>
#include <vmm/reset.h>
#include <vmm/util.h>
#include <vmm/vm.h>

/* SCTLR_EL1 with the MMU and caches off and the ARMv8.0 RES1 bits set: what the boot protocol
 * expects on entry, and what a reset must restore. */
#define SCTLR_EL1_BOOT 0x30d00838u
#define MPIDR_RES1 UINT64_C(0x80000000)

/* A vGIC frame (GICv2 distributor, GICv3 distributor, GICv3 redistributors) as an MMIO region;
 * `ppi_enable` is where in a frame of `stride` bytes (0: one frame) ISENABLER0 is, the register
 * through which a vCPU enables its PPIs. */
struct gic_frame {
    uint64_t (*read)(struct vgic *gic, unsigned vcpu, uint64_t offset, unsigned width);
    void (*write)(struct vgic *gic, unsigned vcpu, uint64_t offset, unsigned width, uint64_t value);
    uint64_t stride, ppi_enable;
};

static const struct gic_frame gicv2_dist = { vgic_v2_dist_read, vgic_v2_dist_write, 0, 0x100 };
static const struct gic_frame gicv3_dist = { vgic_v3_dist_read, vgic_v3_dist_write, 0, 0x100 };
static const struct gic_frame gicv3_redist = { vgic_v3_redist_read, vgic_v3_redist_write,
                                               GICV3_REDIST_STRIDE, 0x10100 };

static enum mmio_result gic_frame_access(struct vm *vm, const void *ctx, unsigned vcpu,
                                         uint64_t offset, unsigned width, bool write,
                                         uint64_t *value)
{
    const struct gic_frame *frame = ctx;
    if (!write) {
        *value = frame->read(&vm->gic, vcpu, offset, width);
        return MMIO_OK;
    }
    frame->write(&vm->gic, vcpu, offset, width, *value);
    uint64_t in_frame = frame->stride ? offset % frame->stride : offset;
    if ((in_frame & ~UINT64_C(7)) == frame->ppi_enable)
        vm_ptimer_check_claim(vm); /* enabling INTID 30 claims the physical timer */
    if (vm->deferred_acks)
        vm_passthrough_enabled(vm);
    return MMIO_OK;
}

static bool add_gic_mmio(struct vm *vm)
{
    const struct vmm_config *cfg = vm->cfg;
    if (cfg->gic_version == 2)
        return vm_add_mmio(vm, cfg->gicd_base, GICV2_DIST_SIZE, "GICv2 distributor",
                           gic_frame_access, &gicv2_dist);
    return vm_add_mmio(vm, cfg->gicd_base, GICV3_DIST_SIZE, "GICv3 distributor", gic_frame_access,
                       &gicv3_dist) &&
           vm_add_mmio(vm, cfg->gicr_base, (uint64_t)GICV3_REDIST_STRIDE * cfg->num_vcpus,
                       "GICv3 redistributors", gic_frame_access, &gicv3_redist);
}

static const struct vmm_irq_passthrough *passthrough_of_irq(const struct vm *vm, unsigned irq)
{
    for (unsigned i = 0; i < vm->cfg->num_irqs; i++) {
        if (vm->cfg->irqs[i].irq == irq)
            return &vm->cfg->irqs[i];
    }
    return NULL;
}

/*
 * The guest EOI'd a passthrough interrupt: the line is the device's again; unmask it in seL4. A
 * guest that masked the interrupt at the distributor first (Linux does for threaded one-shot
 * handlers, which clear the device after the EOI and unmask at the end) gets the unmask when it
 * enables the interrupt again: a line still high from before would otherwise be reported at once
 * and delivered a second time after the device was cleared.
 */
static void ack_passthrough(unsigned vcpu, unsigned irq, void *cookie)
{
    struct vm *vm = cookie;
    vgic_deassert(&vm->gic, vcpu, irq);
    for (unsigned i = 0; i < vm->cfg->num_irqs && i < 32; i++) {
        if (vm->cfg->irqs[i].irq != irq)
            continue;
        if (vgic_irq_enabled(&vm->gic, vcpu, irq))
            hyp_irq_ack(vm->cfg->irqs[i].channel);
        else
            vm->deferred_acks |= 1u << i;
        return;
    }
    const struct vmm_irq_passthrough *p = passthrough_of_irq(vm, irq);
    if (p)
        hyp_irq_ack(p->channel);
}

void vm_passthrough_enabled(struct vm *vm)
{
    for (uint32_t m = vm->deferred_acks; m; m &= m - 1) {
        unsigned i = (unsigned)__builtin_ctz(m);
        if (vgic_irq_enabled(&vm->gic, 0, vm->cfg->irqs[i].irq)) {
            vm->deferred_acks &= ~(1u << i);
            hyp_irq_ack(vm->cfg->irqs[i].channel);
        }
    }
}

/* The guest EOI'd the virtual timer: let seL4 report it again. */
static void ack_vppi(unsigned vcpu, unsigned irq, void *cookie)
{
    struct vm *vm = cookie;
    vgic_deassert(&vm->gic, vcpu, irq);
    hyp_ack_vppi(vcpu, irq);
}

static bool setup_gic(struct vm *vm)
{
    const struct vmm_config *cfg = vm->cfg;
    if (!vgic_init(&vm->gic, cfg->gic_version, cfg->gic_num_irqs, cfg->num_vcpus, cfg->gic_num_lrs))
        return false;
    for (unsigned v = 0; v < cfg->num_vcpus; v++) {
        if (!vgic_set_owner(&vm->gic, v, cfg->vtimer_irq, ack_vppi, vm_vtimer_level, vm))
            return false;
    }
    for (unsigned i = 0; i < cfg->num_irqs; i++) {
        if (cfg->irqs[i].irq < VGIC_NUM_PRIVATE) {
            LOG_ERR("vgic", "passthrough interrupt %u on channel %u is not an SPI",
                    cfg->irqs[i].irq, cfg->irqs[i].channel);
            return false;
        }
        if (!vgic_set_owner(&vm->gic, 0, cfg->irqs[i].irq, ack_passthrough, NULL, vm))
            return false;
    }
    return true;
}

bool vm_add_mmio(struct vm *vm, uint64_t base, uint64_t size, const char *name,
                 mmio_handler_fn handler, const void *ctx)
{
    for (unsigned i = 0; i < vm->num_mmio; i++) {
        if (ranges_overlap(base, size, vm->mmio[i].base, vm->mmio[i].size)) {
            LOG_ERR("mmio", "%s at 0x%llx overlaps %s", name, (unsigned long long)base,
                    vm->mmio[i].name);
            return false;
        }
    }
    if (vm->num_mmio == VM_MAX_MMIO || size == 0) {
        LOG_ERR("mmio", "cannot register %s (%u regions in use, size 0x%llx)", name, vm->num_mmio,
                (unsigned long long)size);
        return false;
    }
    vm->mmio[vm->num_mmio++] = (struct mmio_region){ base, size, name, handler, ctx };
    return true;
}

void vm_log_limits_reset(struct vm *vm)
{
    struct log_limit *const limits[] = {
        &vm->log.abort,  &vm->log.sysreg,     &vm->log.trap,   &vm->log.stop,
        &vm->log.smc,    &vm->log.cpu_on,     &vm->log.power,  &vm->log.vppi,
        &vm->log.notify, &vm->gic.log_access, &vm->gic.log_lr,
    };
    for (unsigned i = 0; i < ARRAY_SIZE(limits); i++)
        log_limit_reset(limits[i]);
    virtio_devices_log_limits_reset(vm);
}

bool vm_init(struct vm *vm, const struct vmm_config *cfg, void *ram)
{
    char why[256];
    vmm_memset(vm, 0, sizeof(*vm)); /* every rate limit starts afresh too */
    vm->cfg = cfg;
    vm->ram = ram;
    log_set_vm_name(cfg->vm_name);
    LOG_INFO("vmm", "starting VM '%s' (guest RAM mapped at %p in the VMM)", cfg->vm_name, ram);
    if (cfg->num_vcpus == 0 || cfg->num_vcpus > VM_MAX_VCPUS) {
        LOG_ERR("boot", "refusing to start: %u vCPUs configured (1..%u supported)", cfg->num_vcpus,
                VM_MAX_VCPUS);
        return false;
    }
    if (!ram) {
        LOG_ERR("boot", "refusing to start: guest RAM is not mapped into the VMM (setvar_vaddr "
                        "\"guest_ram_vaddr\" missing from the system file?)");
        return false;
    }
    if (!guest_plan(cfg, &vm->layout, why, sizeof(why))) {
        LOG_ERR("boot", "refusing to start: %s", why);
        return false;
    }
    if (!setup_gic(vm) || !add_gic_mmio(vm) || !virtio_devices_init(vm))
        return false;
    return true;
}

void vm_stop_vcpus(struct vm *vm)
{
    for (unsigned v = 0; v < vm->cfg->num_vcpus; v++) {
        hyp_vcpu_stop(v);
        vm->power[v] = VCPU_OFF;
    }
    for (unsigned v = 0; v < VM_MAX_VCPUS; v++) {
        vm->sleeping[v] = false;
        vm->wake_deadline[v] = 0;
        vm->held_for[v] = 0;
    }
    vm->held_watch = vm->held_sgi = vm->turn_owed = 0;
    vm_ptimer_stop(vm);
}

void vm_vcpu_reset_sysregs(unsigned vcpu)
{
    hyp_vcpu_reset_sysregs(vcpu, SCTLR_EL1_BOOT, MPIDR_RES1 | vgic_vcpu_affinity(vcpu));
}

bool vm_boot(struct vm *vm)
{
    const struct vmm_config *cfg = vm->cfg;
    vm_stop_vcpus(vm);
    vm_log_limits_reset(vm); /* a fresh boot reports again */
    char why[160];
    if (!guest_copy_images(cfg, &vm->layout, vm->ram, why, sizeof(why))) {
        LOG_ERR("boot", "cannot load the guest: %s", why);
        return false;
    }
    vm_seed_guest_dtb(vm);
    if (!setup_gic(vm))
        return false;
    virtio_devices_reset(vm); /* status 0, queues off, interrupt low; backend buffers kept */
    vm_ptimer_boot(vm);
    /* Anything left masked by the previous run (a vPPI or IRQ never EOI'd) is unmasked again. */
    for (unsigned v = 0; v < cfg->num_vcpus; v++) {
        vm_vcpu_reset_sysregs(v);
        hyp_ack_vppi(v, cfg->vtimer_irq);
    }
    vm->deferred_acks = 0;
    for (unsigned i = 0; i < cfg->num_irqs; i++)
        hyp_irq_ack(cfg->irqs[i].channel);

    struct vcpu_regs regs;
    vmm_memset(&regs, 0, sizeof(regs));
    regs.pc = vm->layout.entry;
    regs.spsr = GUEST_BOOT_SPSR;
    regs.x[0] = vm->layout.dtb_addr;
    if (!hyp_vcpu_write_regs(0, &regs, VCPU_REGS_ALL)) {
        LOG_ERR("boot", "cannot set the registers of vCPU 0");
        return false;
    }
    vm->boots++;
    vm->exits = vm->exits_wfx = 0;
    vmm_memset(vm->exits_by_kind, 0, sizeof(vm->exits_by_kind));
    vmm_memset(&vm->yields, 0, sizeof(vm->yields));
    vm->state = VM_RUNNING;
    vm->power[0] = VCPU_ON;
    LOG_INFO("boot",
             "boot #%u: kernel 0x%llx (entry 0x%llx), dtb 0x%llx (%llu bytes), initrd "
             "0x%llx (%llu bytes), %u vCPU(s), %llu MiB RAM at 0x%llx",
             vm->boots, (unsigned long long)vm->layout.kernel_addr,
             (unsigned long long)vm->layout.entry, (unsigned long long)vm->layout.dtb_addr,
             (unsigned long long)vm->layout.dtb_size, (unsigned long long)vm->layout.initrd_addr,
             (unsigned long long)vm->layout.initrd_size, cfg->num_vcpus,
             (unsigned long long)(cfg->ram_size >> 20), (unsigned long long)cfg->ram_base);
    hyp_vcpu_start(0, regs.pc);
    return true;
}

void vm_stop(struct vm *vm, const char *why)
{
    vm_stop_vcpus(vm);
    vm->state = VM_STOPPED;
    LOG_LIMITED(&vm->log.stop, "reports of the guest stopping", LOG_ERROR, "vm",
                "guest stopped: %s (the VMM stays up)", why);
}

static void report_user_exception(struct vm *vm, const struct vm_exit *exit)
{
    LOG_LIMITED(&vm->log.trap, "unhandled traps and faults", LOG_ERROR, "fault",
                "vCPU %u: user exception at pc 0x%llx (number 0x%llx, code 0x%llx)", exit->vcpu,
                (unsigned long long)exit->pc, (unsigned long long)exit->label,
                (unsigned long long)exit->code);
    vm_stop(vm, "unhandled user exception");
}

/* The rare ends of an exit, kept out of the path every exit takes. */
static __attribute__((noinline, cold)) void report_bad_vcpu(const struct vm_exit *exit)
{
    LOG_ERR("fault", "exit from vCPU %u, which this VM does not have (kind %u)", exit->vcpu,
            (unsigned)exit->kind);
}

static __attribute__((noinline, cold)) void report_bad_vppi(struct vm *vm,
                                                            const struct vm_exit *exit)
{
    LOG_LIMITED(&vm->log.vppi, "out-of-range virtual PPIs", LOG_WARN, "vgic",
                "vCPU %u: virtual PPI %u is out of range; dropped", exit->vcpu, exit->irq);
}

static __attribute__((noinline, cold)) void report_unknown(struct vm *vm,
                                                           const struct vm_exit *exit)
{
    LOG_LIMITED(&vm->log.trap, "unhandled traps and faults", LOG_ERROR, "fault",
                "vCPU %u: unknown fault label %llu at pc 0x%llx", exit->vcpu,
                (unsigned long long)exit->label, (unsigned long long)exit->pc);
    vm_stop(vm, "unknown fault");
}

void vm_handle_exit(struct vm *vm, const struct vm_exit *exit, struct exit_reply *reply)
{
    reply->resume = false;
    reply->set_hvc_regs = false;
    vm->exits++;
    vgic_new_activation(&vm->gic);
    if ((unsigned)exit->kind <= EXIT_UNKNOWN)
        vm->exits_by_kind[exit->kind]++;
    if (exit->vcpu >= vm->cfg->num_vcpus) {
        report_bad_vcpu(exit);
        return;
    }
    if ((vm->held_watch >> exit->vcpu) & 1)
        vm_yield_exit_of(vm, exit->vcpu, exit->kind != EXIT_HVC);
    if (exit->kind == EXIT_HVC) {
        /* The fast path: an HVC sends no SGI, and its reply, which carries the results, is
         * never held back (yield.c). */
        vm_handle_hvc(vm, exit, reply);
        if (vm->gic.kicked) /* the common case has nothing to look at: no call */
            vm_wake_check(vm);
        return;
    }
    switch (exit->kind) {
    case EXIT_VM_FAULT: vm_handle_vm_fault(vm, exit, reply); break;
    case EXIT_VCPU: vm_handle_vcpu_fault(vm, exit, reply); break;
    case EXIT_VPPI:
        if (!vgic_assert(&vm->gic, exit->vcpu, exit->irq))
            report_bad_vppi(vm, exit);
        reply->resume = true;
        break;
    case EXIT_VGIC_MAINTENANCE:
        vgic_maintenance(&vm->gic, exit->vcpu, exit->lr_index);
        reply->resume = true;
        break;
    case EXIT_USER_EXCEPTION: report_user_exception(vm, exit); break;
    case EXIT_UNKNOWN:
    default: report_unknown(vm, exit); break;
    }
    /* An exit may have made an interrupt pending for a vCPU sleeping in WFI (an SGI, say); then
     * the directed yields (yield.c) for SGIs this exit sent or senders it let go, which need to
     * know who runs. Kept apart so that the common exit ends in a tail call. */
    if (vm->gic.sgi_sent | vm->turn_owed) {
        vm_wake_check(vm);
        vm_yield_after_exit(vm, exit->vcpu, reply);
        return;
    }
    if (vm->gic.kicked)
        vm_wake_check(vm);
}

void vm_log_exit_stats(const struct vm *vm)
{
    const uint64_t *k = vm->exits_by_kind;
    const struct vm_yield_stats *y = &vm->yields;
    LOG_INFO("vm",
             "boot #%u took %llu exits: %llu stage-2 faults, %llu trapped instructions (%llu "
             "WFI/WFE), %llu HVC, %llu virtual PPI, %llu vGIC maintenance",
             vm->boots, (unsigned long long)vm->exits, (unsigned long long)k[EXIT_VM_FAULT],
             (unsigned long long)k[EXIT_VCPU], (unsigned long long)vm->exits_wfx,
             (unsigned long long)k[EXIT_HVC], (unsigned long long)k[EXIT_VPPI],
             (unsigned long long)k[EXIT_VGIC_MAINTENANCE]);
    if (vm->cfg->num_vcpus > 1)
        LOG_INFO("vm",
                 "boot #%u yields: %llu WFEs held while another vCPU ran, %llu returned at once; "
                 "%llu SGI senders held while a target ran, %llu targets held until the sender "
                 "ran again; %llu holds ended by an exit",
                 vm->boots, (unsigned long long)y->wfe_held, (unsigned long long)y->wfe_at_once,
                 (unsigned long long)y->sgi_held, (unsigned long long)y->turns_back,
                 (unsigned long long)y->ended_by_exit);
}

bool vm_owns_channel(const struct vm *vm, unsigned channel)
{
    const struct vmm_config *cfg = vm->cfg;
    if (cfg->wakeup_channel >= 0 && channel == (unsigned)cfg->wakeup_channel)
        return true;
    for (unsigned i = 0; i < cfg->num_irqs; i++) {
        if (cfg->irqs[i].channel == channel)
            return true;
    }
    for (unsigned i = 0; i < cfg->num_virtio; i++) {
        if (cfg->virtio[i].conn.channel == channel)
            return true;
    }
    return false;
}

void vm_notified(struct vm *vm, unsigned channel)
{
    vgic_new_activation(&vm->gic);
    if (vm->cfg->wakeup_channel >= 0 && channel == (unsigned)vm->cfg->wakeup_channel) {
        vm_ptimer_irq(vm);
        return;
    }
    for (unsigned i = 0; i < vm->cfg->num_irqs; i++) {
        if (vm->cfg->irqs[i].channel == channel) {
            vgic_assert(&vm->gic, 0, vm->cfg->irqs[i].irq);
            vm_wake_check(vm);
            return;
        }
    }
    if (virtio_devices_notified(vm, channel)) {
        vm_reset_dma_check(vm);
        vm_wake_check(vm); /* a device may have raised its interrupt */
        return;
    }
    LOG_LIMITED(&vm->log.notify, "notifications on unused channels", LOG_WARN, "irq",
                "notification on channel %u, which carries no guest interrupt", channel);
}
