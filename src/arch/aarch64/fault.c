/* Stage-2 faults (emulated MMIO, unmapped accesses), trapped instructions and guest HVCs. */
#include <vmm/esr.h>
#include <vmm/log.h>
#include <vmm/psci.h>
#include <vmm/reset.h>
#include <vmm/util.h>
#include <vmm/vm.h>

#define AARCH64_INSN_SIZE 4u

static const struct mmio_region *find_mmio(const struct vm *vm, uint64_t addr)
{
    for (unsigned i = 0; i < vm->num_mmio; i++) {
        if (addr >= vm->mmio[i].base && addr - vm->mmio[i].base < vm->mmio[i].size)
            return &vm->mmio[i];
    }
    return NULL;
}

static void report_abort(struct vm *vm, const struct vm_exit *exit, const struct data_abort *da,
                         const char *what)
{
    if (!log_limit_pass(&vm->log.abort, LOG_ERROR, "fault", "reports of accesses nothing answers"))
        return;
    unsigned ec = esr_class_of(exit->esr);
    if (exit->instruction_fault) {
        LOG_ERR("fault",
                "vCPU %u: instruction fetch from 0x%llx at pc 0x%llx: %s (ESR 0x%llx: "
                "%s, %s)",
                exit->vcpu, (unsigned long long)exit->addr, (unsigned long long)exit->pc, what,
                (unsigned long long)exit->esr, esr_class_name(ec), esr_fsc_name(exit->esr & 0x3f));
    } else if (da->valid) {
        LOG_ERR("fault",
                "vCPU %u: %u-byte %s of 0x%llx (x%u) at pc 0x%llx: %s (ESR 0x%llx: %s, "
                "%s)",
                exit->vcpu, da->width, da->write ? "write" : "read", (unsigned long long)exit->addr,
                da->rt, (unsigned long long)exit->pc, what, (unsigned long long)exit->esr,
                esr_class_name(ec), esr_fsc_name(da->dfsc));
    } else {
        LOG_ERR("fault",
                "vCPU %u: %s of 0x%llx at pc 0x%llx without a valid syndrome: %s (ESR "
                "0x%llx: %s, %s)",
                exit->vcpu, da->write ? "write" : "read", (unsigned long long)exit->addr,
                (unsigned long long)exit->pc, what, (unsigned long long)exit->esr,
                esr_class_name(ec), esr_fsc_name(da->dfsc));
    }
}

static uint64_t width_mask(unsigned width)
{
    return width >= 8 ? ~UINT64_C(0) : (UINT64_C(1) << (width * 8)) - 1;
}

enum refusal { NO_DEVICE, DEVICE_REFUSED, NOT_EMULATED };

/* Nothing answers this access (no device, the device refused it, or its instruction is not one
 * the VMM can emulate): report it and let the guest take an external abort, as on hardware. */
static void refuse_access(struct vm *vm, const struct vm_exit *exit, const struct data_abort *da,
                          enum refusal why, const struct mmio_region *r, const char *detail,
                          struct exit_reply *reply)
{
    char what[160];
    if (why == DEVICE_REFUSED)
        fmt_format(what, sizeof(what), "%s", r->name);
    else if (why == NOT_EMULATED)
        fmt_format(what, sizeof(what), "%s", detail);
    else
        fmt_format(what, sizeof(what), "not RAM nor a device this VM has");
    report_abort(vm, exit, da, what);
    if (vm_inject_abort(vm, exit->vcpu, exit->instruction_fault, da->write))
        reply->resume = true;
    else
        vm_stop(vm, "cannot inject the abort");
}

static void trace_access(const struct vm_exit *exit, const struct mmio_region *r,
                         const struct data_abort *da, uint64_t value)
{
    LOG_INFO("mmio", "%s vcpu=%u %c off=0x%llx w=%u val=0x%llx esr=0x%llx", r->name, exit->vcpu,
             da->write ? 'W' : 'R', (unsigned long long)(exit->addr - r->base), da->width,
             (unsigned long long)value, (unsigned long long)exit->esr);
}

/* How long a vCPU whose access a device cannot take yet waits before making it again. */
#define RETRY_US 1000u

/* The device cannot take the access yet: the vCPU makes it again (its PC is left on the
 * instruction) after a while, or at once if nothing could wake it then. */
static void retry_later(struct vm *vm, const struct vm_exit *exit, struct exit_reply *reply)
{
    uint64_t ticks = hyp_counter_freq() / (1000000u / RETRY_US);
    if (!vm_vcpu_hold(vm, exit->vcpu, exit->pc, ticks ? ticks : 1, 0))
        reply->resume = true;
}

/* The common case, kept lean: the syndrome names the register and width. */
static void emulate_with_syndrome(struct vm *vm, const struct vm_exit *exit,
                                  const struct mmio_region *r, const struct data_abort *da,
                                  struct exit_reply *reply)
{
    struct vcpu_regs regs;
    /* Writing Rt back means writing every register before it in the kernel's order, so a load
     * reads those (not Rt itself) and writes them with Rt; a store reads up to Rt and writes only
     * the PC, which the fault message already gave. XZR is neither read nor written. */
    unsigned count = da->rt == 31 ? 0 : VCPU_REGS_UPTO_X(da->rt);
    unsigned to_read = da->write || !count ? count : count - 1;
    if (to_read && !hyp_vcpu_read_regs(exit->vcpu, &regs, to_read)) {
        vm_stop(vm, "cannot read the vCPU registers");
        return;
    }
    uint64_t value = 0;
    if (da->write)
        value = (da->rt == 31 ? 0 : regs.x[da->rt]) & width_mask(da->width);
    enum mmio_result res =
        r->handler(vm, r->ctx, exit->vcpu, exit->addr - r->base, da->width, da->write, &value);
    if (res == MMIO_RETRY) {
        retry_later(vm, exit, reply);
        return;
    }
    if (res != MMIO_OK) {
        refuse_access(vm, exit, da, DEVICE_REFUSED, r, NULL, reply);
        return;
    }
    if (!da->write && da->rt != 31)
        regs.x[da->rt] = data_abort_load_value(da, value & width_mask(da->width));
    if (vm->cfg->trace_mmio)
        trace_access(exit, r, da, value);
    regs.pc = exit->pc + AARCH64_INSN_SIZE;
    if (!hyp_vcpu_write_regs(exit->vcpu, &regs, da->write || !count ? 1 : count)) {
        vm_stop(vm, "cannot write the vCPU registers");
        return;
    }
    reply->resume = true;
}

void vm_handle_vm_fault(struct vm *vm, const struct vm_exit *exit, struct exit_reply *reply)
{
    struct data_abort da;
    esr_decode_data_abort(exit->esr, &da);
    const struct mmio_region *r = exit->instruction_fault ? NULL : find_mmio(vm, exit->addr);
    if (r && da.valid) {
        emulate_with_syndrome(vm, exit, r, &da, reply);
        return;
    }
    char why[160];
    if (r && vm_emulate_no_syndrome(vm, exit, why, sizeof(why))) {
        reply->resume = true;
        return;
    }
    refuse_access(vm, exit, &da, r ? NOT_EMULATED : NO_DEVICE, r, why, reply);
}

/* Finish a PSCI call: returns true when the calling vCPU should run on. */
static bool psci_finish(struct vm *vm, unsigned vcpu, enum psci_action action)
{
    switch (action) {
    case PSCI_ACT_RETURN: return true;
    case PSCI_ACT_CPU_OFF:
        LOG_LIMITED(&vm->log.power, "vCPU power reports", LOG_INFO, "psci", "vCPU %u: CPU_OFF",
                    vcpu);
        vm->power[vcpu] = VCPU_OFF;
        hyp_vcpu_stop(vcpu);
        return false;
    case PSCI_ACT_SYSTEM_OFF:
        vm_log_exit_stats(vm);
        vm_stop_vcpus(vm);
        virtio_devices_reset(vm); /* devices off too: their backends hear of it (net: counters) */
        vm->state = VM_POWERED_OFF;
        LOG_INFO("psci", "guest powered off (PSCI SYSTEM_OFF from vCPU %u)", vcpu);
        return false;
    case PSCI_ACT_SYSTEM_RESET:
        vm_log_exit_stats(vm);
        LOG_INFO("psci",
                 "guest requested a reset (PSCI SYSTEM_RESET from vCPU %u): rebooting "
                 "from pristine images",
                 vcpu);
        vm_reset(vm);
        return false;
    }
    return false;
}

static void handle_smc(struct vm *vm, const struct vm_exit *exit, struct exit_reply *reply,
                       bool advance)
{
    struct vcpu_regs regs;
    if (!hyp_vcpu_read_regs(exit->vcpu, &regs, VCPU_REGS_UPTO_X(3))) {
        vm_stop(vm, "cannot read the vCPU registers");
        return;
    }
    if (regs.x[0] == VMM_FID_GIC_DRAINED && vm_reset_drained(vm, exit->vcpu))
        return; /* the drain stub is done: that vCPU stays stopped */
    enum psci_action action;
    regs.x[0] = vm_psci_call(vm, exit->vcpu, regs.x, &action);
    if (action != PSCI_ACT_RETURN && !psci_finish(vm, exit->vcpu, action))
        return;
    if (advance)
        regs.pc += AARCH64_INSN_SIZE;
    if (!hyp_vcpu_write_regs(exit->vcpu, &regs, VCPU_REGS_UPTO_X(0))) {
        vm_stop(vm, "cannot write the vCPU registers");
        return;
    }
    reply->resume = true;
}

/* ICC_SGI1R_EL1, ICC_ASGI1R_EL1, ICC_SGI0R_EL1: op0=3 op1=0 CRn=12 CRm=11, op2 5/6/7. */
static bool is_gicv3_sgi_register(const struct sysreg_access *sr)
{
    return sr->op0 == 3 && sr->op1 == 0 && sr->crn == 12 && sr->crm == 11 && sr->op2 >= 5;
}

static void handle_sysreg(struct vm *vm, const struct vm_exit *exit, struct exit_reply *reply)
{
    struct sysreg_access sr;
    struct vcpu_regs regs;
    esr_decode_sysreg(exit->esr, &sr);
    unsigned count = sr.rt == 31 ? 3 : VCPU_REGS_UPTO_X(sr.rt);
    if (!hyp_vcpu_read_regs(exit->vcpu, &regs, count)) {
        vm_stop(vm, "cannot read the vCPU registers");
        return;
    }
    uint64_t value = sr.rt == 31 ? 0 : regs.x[sr.rt];
    if (!sr.read && vm->gic.version == 3 && is_gicv3_sgi_register(&sr)) {
        vgic_v3_write_sgir(&vm->gic, exit->vcpu, value);
    } else {
        LOG_LIMITED(&vm->log.sysreg, "reports of system registers not emulated", LOG_WARN, "fault",
                    "vCPU %u: %s of system register S%u_%u_C%u_C%u_%u (x%u) at pc 0x%llx is "
                    "not emulated: %s",
                    exit->vcpu, sr.read ? "MRS" : "MSR", sr.op0, sr.op1, sr.crn, sr.crm, sr.op2,
                    sr.rt, (unsigned long long)regs.pc,
                    sr.read ? "reads as zero" : "write ignored");
        if (sr.read && sr.rt != 31)
            regs.x[sr.rt] = 0;
    }
    regs.pc += AARCH64_INSN_SIZE;
    if (!hyp_vcpu_write_regs(exit->vcpu, &regs, sr.read ? count : 1)) {
        vm_stop(vm, "cannot write the vCPU registers");
        return;
    }
    reply->resume = true;
}

/* A WFI with something to take resumes at once, other WFIs sleep (wfi.c); a WFE lets the VM's
 * other vCPUs run first if there are any (yield.c). */
static void handle_wfx(struct vm *vm, const struct vm_exit *exit, struct exit_reply *reply)
{
    struct vcpu_regs regs;
    if (!hyp_vcpu_read_regs(exit->vcpu, &regs, 1)) {
        vm_stop(vm, "cannot read the vCPU registers");
        return;
    }
    regs.pc += AARCH64_INSN_SIZE;
    if (esr_wfx_is_wfe(exit->esr) ? vm_vcpu_wfe(vm, exit->vcpu, regs.pc)
                                  : vm_vcpu_sleep(vm, exit->vcpu, regs.pc))
        return; /* no reply: the vCPU restarts at regs.pc when woken */
    if (!hyp_vcpu_write_regs(exit->vcpu, &regs, 1)) {
        vm_stop(vm, "cannot write the vCPU registers");
        return;
    }
    reply->resume = true;
}

void vm_handle_vcpu_fault(struct vm *vm, const struct vm_exit *exit, struct exit_reply *reply)
{
    unsigned ec = esr_class_of(exit->esr);
    switch (ec) {
    case ESR_EC_WFX:
        vm->exits_wfx++;
        handle_wfx(vm, exit, reply);
        return;
    case ESR_EC_SMC64: handle_smc(vm, exit, reply, true); return;
    case ESR_EC_HVC64:
        handle_smc(vm, exit, reply, false); /* the return address is already past the HVC */
        return;
    case ESR_EC_SYSREG: handle_sysreg(vm, exit, reply); return;
    default:
        LOG_LIMITED(&vm->log.trap, "unhandled traps and faults", LOG_ERROR, "fault",
                    "vCPU %u: unhandled trap: ESR 0x%llx, class 0x%02x (%s), ISS 0x%x", exit->vcpu,
                    (unsigned long long)exit->esr, ec, esr_class_name(ec), esr_iss(exit->esr));
        vm_stop(vm, "unhandled trap");
        return;
    }
}

void vm_handle_hvc(struct vm *vm, const struct vm_exit *exit, struct exit_reply *reply)
{
    enum psci_action action;
    uint64_t result = vm_psci_call(vm, exit->vcpu, exit->x, &action);
    if (action != PSCI_ACT_RETURN && !psci_finish(vm, exit->vcpu, action))
        return;
    /* The reply carries the registers back: no register invocation needed. */
    reply->resume = true;
    reply->set_hvc_regs = true;
    reply->x0 = result;
    reply->pc = exit->pc + AARCH64_INSN_SIZE;
}
