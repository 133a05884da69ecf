/*
 * WFI that sleeps. seL4 traps a guest's WFI and masks the virtual timer while the vCPU is not
 * running, so a sleeping vCPU would never hear its own timer: the VMM reads the vCPU's virtual
 * timer deadline and arms its own wake-up timer (the physical timer) for it, and wakes the vCPU
 * early when an interrupt becomes pending for it.
 */
#include <vmm/log.h>
#include <vmm/vm.h>

#define CNTV_CTL_ENABLE 1u
#define CNTV_CTL_IMASK 2u

static void rearm(struct vm *vm)
{
    uint64_t next = 0;
    for (unsigned v = 0; v < vm->cfg->num_vcpus; v++) {
        uint64_t d = vm->sleeping[v] ? vm->wake_deadline[v] : 0;
        if (d && (!next || d < next))
            next = d;
    }
    hyp_wakeup_at(next);
}

/* When the vCPU's virtual timer will fire, in physical counter ticks; 0 if it will not. */
static uint64_t vtimer_deadline(unsigned vcpu)
{
    uint64_t ctl = hyp_vcpu_read_sysreg(vcpu, VCPU_CNTV_CTL);
    if ((ctl & (CNTV_CTL_ENABLE | CNTV_CTL_IMASK)) != CNTV_CTL_ENABLE)
        return 0;
    uint64_t d =
        hyp_vcpu_read_sysreg(vcpu, VCPU_CNTV_CVAL) + hyp_vcpu_read_sysreg(vcpu, VCPU_CNTVOFF);
    return d ? d : 1;
}

bool vm_vcpu_sleep(struct vm *vm, unsigned vcpu, uint64_t resume_pc)
{
    if (vm->cfg->wakeup_channel < 0 || vgic_vcpu_has_pending(&vm->gic, vcpu))
        return false;
    uint64_t deadline = vtimer_deadline(vcpu);
    if (deadline && deadline <= hyp_counter_now())
        return false; /* the timer condition already holds: it fires as soon as the vCPU runs */
    vm->sleeping[vcpu] = true;
    vm->wake_pc[vcpu] = resume_pc;
    vm->wake_deadline[vcpu] = deadline;
    /* Suspending the vCPU thread withdraws its pending fault reply, which leaves the VMM's one
     * reply object free for the next fault; waking writes its PC and resumes it. */
    hyp_vcpu_stop(vcpu);
    rearm(vm);
    return true;
}

static void wake(struct vm *vm, unsigned vcpu)
{
    vm->sleeping[vcpu] = false;
    vm->wake_deadline[vcpu] = 0;
    hyp_vcpu_start(vcpu, vm->wake_pc[vcpu]);
}

void vm_wake_check(struct vm *vm)
{
    bool any = false, woke = false;
    uint64_t now = 0;
    if (vm->state != VM_RUNNING)
        return;
    for (unsigned v = 0; v < vm->cfg->num_vcpus; v++) {
        if (!vm->sleeping[v])
            continue;
        if (!any) {
            now = hyp_counter_now();
            any = true;
        }
        if (vgic_vcpu_has_pending(&vm->gic, v) ||
            (vm->wake_deadline[v] && vm->wake_deadline[v] <= now)) {
            wake(vm, v);
            woke = true;
        }
    }
    if (woke)
        rearm(vm);
}
