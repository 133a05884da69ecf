/*
 * WFI that sleeps. seL4 traps a guest's WFI and masks the virtual timer while the vCPU is not
 * running, so a sleeping vCPU would never hear its own timer: the VMM reads the vCPU's timer
 * deadlines, arms the physical timer for the earliest (ptimer.c decides when it may), and wakes
 * the vCPU early when an interrupt becomes pending for it.
 */
#include <vmm/log.h>
#include <vmm/vm.h>

static uint64_t earliest(uint64_t a, uint64_t b)
{
    return !a || (b && b < a) ? b : a;
}

void vm_vcpu_run(struct vm *vm, unsigned vcpu, uint64_t pc)
{
    bool timer_lost = vm_ptimer_before_run(vm, vcpu);
    if (pc == VM_PC_IN_PLACE)
        hyp_vcpu_resume(vcpu);
    else
        hyp_vcpu_start(vcpu, pc);
    if (timer_lost)
        vm_sleepers_rearm(vm);
}

/* Every caller sets the wake-up timer afterwards, as vm_vcpu_run would if the physical timer went
 * back to its owner. */
static void wake(struct vm *vm, unsigned vcpu)
{
    vm->sleeping[vcpu] = false;
    vm->wake_deadline[vcpu] = 0;
    vm->held_for[vcpu] = 0;
    vm->held_sgi &= ~(1u << vcpu);
    vm_ptimer_before_run(vm, vcpu);
    if (vm->wake_pc[vcpu] == VM_PC_IN_PLACE)
        hyp_vcpu_resume(vcpu);
    else
        hyp_vcpu_start(vcpu, vm->wake_pc[vcpu]);
}

void vm_vcpu_wake(struct vm *vm, unsigned vcpu)
{
    wake(vm, vcpu);
}

bool vm_vcpu_runnable(const struct vm *vm, unsigned vcpu)
{
    return vm->power[vcpu] == VCPU_ON && !vm->sleeping[vcpu] && !vm->draining[vcpu];
}

void vm_sleepers_rearm(struct vm *vm)
{
    uint64_t next = 0;
    for (unsigned v = 0; v < vm->cfg->num_vcpus; v++)
        next = earliest(next, vm->sleeping[v] ? vm->wake_deadline[v] : 0);
    if (next && !vm_ptimer_may_borrow(vm)) {
        /* The owner of the physical timer runs: nothing would end these sleeps on time, and
         * WFI may always complete early. */
        for (unsigned v = 0; v < vm->cfg->num_vcpus; v++) {
            if (vm->sleeping[v] && vm->wake_deadline[v])
                wake(vm, v);
        }
        next = 0;
    }
    vm_ptimer_arm(vm, next);
}

/* How often a WFI that only a held timer event could end completes anyway. */
#define WFI_POLL_HZ 1000u

/* When a timer ends a WFI. One whose line the vGIC already holds has raised its event, which the
 * vCPU cannot take now (disabled, or masked by priority): nothing would wake the PE on hardware,
 * but a guest may be polling the timer's status with WFI (which may complete at any time), so
 * the WFI completes after a short while instead of at once, again and again. */
static uint64_t timer_wakeup(const struct vm *vm, unsigned vcpu, unsigned irq, uint64_t deadline)
{
    if (!(vm->gic.vcpu[vcpu].priv.line & (1u << irq)))
        return deadline;
    return hyp_counter_now() + hyp_counter_freq() / WFI_POLL_HZ;
}

/* Suspend `vcpu` until `deadline` (0: none) or an interrupt for it; false, with nothing done, if
 * no timer could end the wait on time (the physical timer's owner runs). */
static bool suspend_until(struct vm *vm, unsigned vcpu, uint64_t resume_pc, uint64_t deadline)
{
    vm->sleeping[vcpu] = true; /* first: `vcpu` may own the timer itself */
    if (deadline && !vm_ptimer_may_borrow(vm)) {
        vm->sleeping[vcpu] = false;
        return false;
    }
    vm->wake_pc[vcpu] = resume_pc;
    vm->wake_deadline[vcpu] = deadline;
    vm->held_for[vcpu] = 0; /* a hold sets its own after this */
    vm->held_sgi &= ~(1u << vcpu);
    /* The fault stays unanswered: the vCPU waits, and the VMM's one reply object is free for the
     * next fault (hyp_vcpu_park); waking writes its PC and resumes it, or resumes it in place. */
    hyp_vcpu_park(vcpu);
    vm_sleepers_rearm(vm);
    return true;
}

bool vm_vcpu_sleep(struct vm *vm, unsigned vcpu, uint64_t resume_pc)
{
    /* The WFI trapped, so nothing in the list registers could be signalled (HCR_EL2.TWI). */
    vgic_vcpu_wfi(&vm->gic, vcpu);
    vgic_resample(&vm->gic, vcpu);
    if (vm->cfg->wakeup_channel < 0 || vgic_vcpu_has_pending(&vm->gic, vcpu))
        return false;
    const struct vmm_config *cfg = vm->cfg;
    uint64_t deadline =
        earliest(timer_wakeup(vm, vcpu, cfg->vtimer_irq, vm_vtimer_deadline(vcpu)),
                 timer_wakeup(vm, vcpu, cfg->ptimer_irq, vm_ptimer_guest_deadline(vm, vcpu)));
    if (deadline && deadline <= hyp_counter_now())
        return false; /* the timer condition already holds: it fires as soon as the vCPU runs */
    if (!suspend_until(vm, vcpu, resume_pc, deadline)) {
        vm_ptimer_report_busy(vm, vcpu);
        return false;
    }
    return true;
}

/* A hold is short and another vCPU runs meanwhile, as if seL4 had preempted this one: its own
 * timers are not looked at (reading them costs three invocations), so one that fires during the
 * hold is taken when the hold ends, at most `ticks` late. */
bool vm_vcpu_may_hold(const struct vm *vm, unsigned vcpu)
{
    return vm->cfg->wakeup_channel >= 0 && vm_ptimer_may_borrow_for(vm, vcpu);
}

bool vm_vcpu_hold(struct vm *vm, unsigned vcpu, uint64_t resume_pc, uint64_t ticks,
                  uint32_t until_exit_of)
{
    if (vm->cfg->wakeup_channel < 0)
        return false;
    if (!suspend_until(vm, vcpu, resume_pc, hyp_counter_now() + ticks))
        return false;
    vm->held_for[vcpu] = until_exit_of;
    vm->held_watch |= until_exit_of;
    return true;
}

/* Wake the sleepers among `candidates` that have an interrupt pending, and with `expired` also
 * those whose deadline has passed. */
static void wake_ready(struct vm *vm, uint32_t candidates, bool expired)
{
    uint64_t now = expired ? hyp_counter_now() : 0;
    /* Asked before anyone wakes: waking the timer's owner gives the timer back. */
    bool rearm = expired, armed = vm_ptimer_wakeups_armed(vm);
    if (vm->state != VM_RUNNING)
        return;
    for (; candidates; candidates &= candidates - 1) {
        unsigned v = (unsigned)__builtin_ctz(candidates);
        if (v >= vm->cfg->num_vcpus || !vm->sleeping[v])
            continue;
        if (vgic_vcpu_has_pending(&vm->gic, v) ||
            (expired && vm->wake_deadline[v] && vm->wake_deadline[v] <= now)) {
            wake(vm, v);
            rearm |= armed;
        }
    }
    if (rearm)
        vm_sleepers_rearm(vm);
}

void vm_wake_check(struct vm *vm)
{
    /* Called after every exit: only sleeping vCPUs whose vGIC state changed are looked at. */
    uint32_t kicked = vm->gic.kicked, sleepers = 0;
    vm->gic.kicked = 0;
    for (; kicked; kicked &= kicked - 1) {
        unsigned v = (unsigned)__builtin_ctz(kicked);
        if (v < VM_MAX_VCPUS && vm->sleeping[v])
            sleepers |= 1u << v;
    }
    if (sleepers)
        wake_ready(vm, sleepers, false);
}

void vm_wake_expired(struct vm *vm)
{
    vm->gic.kicked = 0;
    wake_ready(vm, (1u << vm->cfg->num_vcpus) - 1, true);
}
