/* PSCI SYSTEM_RESET: every vCPU runs the drain stub, which empties its list registers and resets
 * its virtual CPU interface; once no block request at a server can still write guest RAM by DMA
 * (the images are copied in afresh, and the new boot's memory must not change under it), the VM
 * boots afresh. */
#include <vmm/log.h>
#include <vmm/reset.h>
#include <vmm/util.h>
#include <vmm/virtio.h>
#include <vmm/vm.h>

#define STUB_AREA 256u          /* per vCPU, in the last page of guest RAM */
#define STUB_LIST 192u          /* offset of the INTID list in a vCPU's area */
#define STUB_GROUP1 0x80000000u /* GICv3 list entries: EOI through ICC_EOIR1_EL1 */

_Static_assert(STUB_LIST + VGIC_MAX_LRS * 4 <= STUB_AREA, "stub list fits its area");
_Static_assert(VGIC_MAX_VCPUS *STUB_AREA <= 4096, "stub areas fit the last page");

static uint64_t stub_addr(const struct vm *vm, unsigned vcpu)
{
    return vm->cfg->ram_base + vm->cfg->ram_size - 4096 + (uint64_t)vcpu * STUB_AREA;
}

/* Write the stub and the INTIDs still in `vcpu`'s list registers; returns their count. */
static unsigned prepare_stub(struct vm *vm, unsigned vcpu)
{
    const struct vgic_vcpu *vc = &vm->gic.vcpu[vcpu];
    uint8_t *area = (uint8_t *)vm->ram + (stub_addr(vm, vcpu) - vm->cfg->ram_base);
    uint32_t list[VGIC_MAX_LRS];
    unsigned n = 0;
    bool v3 = vm->gic.version == 3;
    for (unsigned l = 0; l < vm->gic.num_lrs; l++) {
        if (!(vc->lr_used & (1u << l)))
            continue;
        unsigned irq = vc->lr[l].irq;
        const struct vgic_bank *b = irq < VGIC_NUM_PRIVATE ? &vc->priv : &vm->gic.spi[irq / 32];
        bool group1 = (b->group >> (irq % 32)) & 1;
        list[n++] = irq | (v3 && group1 ? STUB_GROUP1 : 0);
    }
    vmm_memcpy(area, v3 ? gic_drain_stub_v3 : gic_drain_stub_v2,
               (v3 ? gic_drain_stub_v3_words : gic_drain_stub_v2_words) * sizeof(uint32_t));
    vmm_memcpy(area + STUB_LIST, list, n * sizeof(uint32_t));
    return n;
}

/* The last step: boot, or wait for the DMA of block requests still at their server. */
static void reset_finish(struct vm *vm)
{
    unsigned pending = virtio_devices_dma_pending(vm);
    if (pending) {
        if (!vm->reset_waits_dma)
            LOG_INFO("reset",
                     "%u block request(s) at the block server may still write guest "
                     "RAM: the boot waits for their answers",
                     pending);
        vm->reset_waits_dma = true;
        vm->state = VM_RESETTING;
        return;
    }
    vm->reset_waits_dma = false;
    if (!vm_boot(vm))
        vm_stop(vm, "reset failed");
}

void vm_reset_dma_check(struct vm *vm)
{
    if (!vm->reset_waits_dma || vm->state != VM_RESETTING)
        return;
    for (unsigned v = 0; v < vm->cfg->num_vcpus; v++) {
        if (vm->draining[v])
            return;
    }
    reset_finish(vm);
}

void vm_reset(struct vm *vm)
{
    unsigned draining = 0;
    vm_stop_vcpus(vm);
    /* Nothing new goes into list registers while they are drained. */
    vm->gic.ctlr = 0;
    for (unsigned v = 0; v < vm->cfg->num_vcpus; v++) {
        unsigned n = prepare_stub(vm, v);
        struct vcpu_regs regs;
        vmm_memset(&regs, 0, sizeof(regs));
        regs.pc = stub_addr(vm, v);
        regs.spsr = GUEST_BOOT_SPSR;
        regs.x[0] = vm->cfg->gicc_base;
        regs.x[2] = stub_addr(vm, v) + STUB_LIST;
        regs.x[3] = n;
        regs.x[4] = VMM_FID_GIC_DRAINED;
        vm_vcpu_reset_sysregs(v);
        if (!hyp_vcpu_write_regs(v, &regs, VCPU_REGS_ALL))
            continue;
        if (n)
            LOG_INFO("reset", "vCPU %u: %u interrupt(s) left in its list registers; draining them",
                     v, n);
        vm->draining[v] = true;
        draining++;
        hyp_vcpu_start(v, regs.pc);
    }
    if (draining) {
        vm->state = VM_RESETTING;
        return;
    }
    reset_finish(vm);
}

bool vm_reset_drained(struct vm *vm, unsigned vcpu)
{
    if (vcpu >= VM_MAX_VCPUS || !vm->draining[vcpu])
        return false;
    hyp_vcpu_stop(vcpu);
    vm->draining[vcpu] = false;
    for (unsigned v = 0; v < vm->cfg->num_vcpus; v++) {
        if (vm->draining[v])
            return true;
    }
    reset_finish(vm);
    return true;
}
