/*
 * The core's one EL1 physical timer, shared between the guest and the VMM.
 *
 * seL4 (CNTHCTL_EL2.EL1PCEN) lets the guest program CNTP_* directly, without a trap, and does not
 * switch those registers between threads. The VMM needs the same timer to wake vCPUs sleeping in
 * WFI. So the timer belongs to one vCPU of the guest, its owner: the only vCPU of a 1-vCPU VM, or
 * in an SMP VM the first vCPU that enables the timer's interrupt in its vGIC. The VMM borrows the
 * hardware only while the owner cannot run (asleep in WFI, or off): it saves the guest's CTL and
 * CVAL, programs its own deadline, and puts the guest's values back before the owner runs again.
 * The owner's own deadline is one of the wake-up deadlines meanwhile, so its WFI ends when its
 * timer would have fired.
 *
 * When the guest's timer fires while the guest holds the hardware, its interrupt is passed through
 * like a device's: seL4 leaves the line masked until the guest EOIs the virtual interrupt, and a
 * line still asserted then fires again.
 *
 * In a system of several VMs the timer's interrupt belongs to the timer PD (proto/timer.h): the
 * VMM asks it for its wake-ups and the guest gets no physical timer interrupt.
 */
#include <proto/timer.h>
#include <vmm/log.h>
#include <vmm/vm.h>

#define CTL_ON (PTIMER_CTL_ENABLE | PTIMER_CTL_IMASK)
#define FIRING (PTIMER_CTL_ENABLE | PTIMER_CTL_ISTATUS)

static unsigned channel(const struct vm *vm)
{
    return (unsigned)vm->cfg->wakeup_channel;
}

static bool running(const struct vm *vm, unsigned vcpu)
{
    return vm->power[vcpu] == VCPU_ON && !vm->sleeping[vcpu];
}

static void unmask_line(struct vm *vm)
{
    if (vm->ptimer.held) {
        vm->ptimer.held = false;
        hyp_irq_ack(channel(vm));
    }
}

/* The guest EOI'd its physical timer interrupt: seL4 may report the line again. */
static void ack_ptimer(unsigned vcpu, unsigned irq, void *cookie)
{
    struct vm *vm = cookie;
    vgic_deassert(&vm->gic, vcpu, irq);
    unmask_line(vm);
}

/* The guest's timer condition is its interrupt line's level: from the hardware while the guest
 * holds the timer, from the saved values while the VMM borrows it. */
static bool ptimer_level(unsigned vcpu, unsigned irq, void *cookie)
{
    const struct vm *vm = cookie;
    const struct vm_ptimer *t = &vm->ptimer;
    (void)irq;
    if (t->owner != (int)vcpu)
        return false;
    uint64_t ctl = t->saved_ctl, cval = t->saved_cval;
    if (!t->borrowed)
        hyp_ptimer_read(&ctl, &cval);
    return (ctl & CTL_ON) == PTIMER_CTL_ENABLE && cval <= hyp_counter_now();
}

static void set_owner(struct vm *vm, unsigned vcpu)
{
    vm->ptimer.owner = (int)vcpu;
    vgic_set_owner(&vm->gic, vcpu, vm->cfg->ptimer_irq, ack_ptimer, ptimer_level, vm);
}

static bool service(const struct vm *vm)
{
    return vm->cfg->wakeup_slot != 0;
}

/* Ask the timer PD for a wake-up at `deadline` (0: none). */
static void service_arm(struct vm *vm, uint64_t deadline)
{
    if (vm->ptimer.armed_cval == deadline)
        return;
    vm->ptimer.armed_cval = deadline;
    timer_slot_write((struct timer_slot *)vm->cfg->wakeup_slot, deadline);
    hyp_notify(channel(vm));
}

void vm_ptimer_stop(struct vm *vm)
{
    if (vm->cfg->wakeup_channel < 0)
        return;
    if (service(vm)) {
        service_arm(vm, 0);
        vm->ptimer.owner = -1;
        vm->ptimer.warned_shared = false;
        return;
    }
    hyp_ptimer_write(0, 0);
    unmask_line(vm);
    vm->ptimer.borrowed = false;
    vm->ptimer.owner = -1;
    vm->ptimer.warned_shared = vm->ptimer.warned_wfi = false;
}

void vm_ptimer_boot(struct vm *vm)
{
    if (service(vm)) {
        /* Whatever the slot held (a previous boot's deadline) is withdrawn. */
        vm->ptimer.armed_cval = 1;
        service_arm(vm, 0);
        return;
    }
    if (vm->cfg->wakeup_channel >= 0 && vm->cfg->num_vcpus == 1)
        set_owner(vm, 0);
}

bool vm_ptimer_may_borrow(const struct vm *vm)
{
    return vm->ptimer.owner < 0 || !running(vm, (unsigned)vm->ptimer.owner);
}

bool vm_ptimer_may_borrow_for(const struct vm *vm, unsigned vcpu)
{
    return vm_ptimer_may_borrow(vm) || vm->ptimer.owner == (int)vcpu;
}

bool vm_ptimer_wakeups_armed(const struct vm *vm)
{
    return service(vm) || vm->ptimer.borrowed;
}

/* The wake-up at `deadline` is the sleeping owner's alone, and its own timer's: that timer, left
 * as the guest set it, raises the guest's interrupt then, which wakes the owner (vm_ptimer_irq,
 * the vGIC's kick): nothing to borrow, nor to give back and take a second time on waking. */
static bool owner_deadline_only(const struct vm *vm, uint64_t deadline)
{
    const struct vm_ptimer *t = &vm->ptimer;
    if (t->owner < 0 || t->held || !vm->sleeping[t->owner])
        return false;
    for (unsigned v = 0; v < vm->cfg->num_vcpus; v++) {
        if ((int)v != t->owner && vm->sleeping[v] && vm->wake_deadline[v])
            return false;
    }
    return vm_ptimer_guest_deadline(vm, (unsigned)t->owner) == deadline;
}

void vm_ptimer_arm(struct vm *vm, uint64_t deadline)
{
    struct vm_ptimer *t = &vm->ptimer;
    if (service(vm)) {
        service_arm(vm, deadline);
        return;
    }
    if (!t->borrowed) {
        if (!deadline || owner_deadline_only(vm, deadline))
            return;
        hyp_ptimer_read(&t->saved_ctl, &t->saved_cval);
        t->saved_ctl &= CTL_ON;
        t->borrowed = true;
    }
    t->armed_ctl = deadline ? PTIMER_CTL_ENABLE : 0;
    t->armed_cval = deadline ? deadline : t->saved_cval;
    hyp_ptimer_write(t->armed_ctl, t->armed_cval);
    /* The line now follows the VMM's deadline; a guest interrupt already taken stays asserted in
     * the vGIC until its EOI. */
    unmask_line(vm);
}

static void give_back(struct vm *vm)
{
    struct vm_ptimer *t = &vm->ptimer;
    uint64_t ctl, cval;
    hyp_ptimer_read(&ctl, &cval);
    /* Values the VMM did not write came from a vCPU that had not claimed the timer yet: the
     * guest's latest word wins over what was saved. */
    if ((ctl & CTL_ON) == t->armed_ctl && cval == t->armed_cval) {
        hyp_ptimer_write(t->saved_ctl, t->saved_cval);
        hyp_ptimer_read(&ctl, &cval);
    }
    t->borrowed = false;
    /* If the guest's condition no longer holds, its virtual line drops; if it does, the hardware
     * interrupt reports it again. */
    if (t->owner >= 0 && !t->held && (ctl & (CTL_ON | PTIMER_CTL_ISTATUS)) != FIRING)
        vgic_deassert(&vm->gic, (unsigned)t->owner, vm->cfg->ptimer_irq);
}

bool vm_ptimer_before_run(struct vm *vm, unsigned vcpu)
{
    if (!vm->ptimer.borrowed || vm->ptimer.owner != (int)vcpu)
        return false;
    give_back(vm);
    return true;
}

uint64_t vm_ptimer_guest_deadline(const struct vm *vm, unsigned vcpu)
{
    const struct vm_ptimer *t = &vm->ptimer;
    if (t->owner != (int)vcpu || !vgic_irq_enabled(&vm->gic, vcpu, vm->cfg->ptimer_irq))
        return 0;
    uint64_t ctl = t->saved_ctl, cval = t->saved_cval;
    if (!t->borrowed)
        hyp_ptimer_read(&ctl, &cval);
    if ((ctl & CTL_ON) != PTIMER_CTL_ENABLE)
        return 0;
    return cval ? cval : 1;
}

/* The hardware holds the guest's values and their condition holds. */
static bool guest_timer_fired(void)
{
    uint64_t ctl, cval;
    hyp_ptimer_read(&ctl, &cval);
    return (ctl & (CTL_ON | PTIMER_CTL_ISTATUS)) == FIRING;
}

/* The guest's own timer fired: its interrupt stays masked in seL4 until the guest's EOI. Without
 * an owner yet nobody takes it: it stays masked until a vCPU claims it or the VMM borrows the
 * hardware. */
static void take_guest_interrupt(struct vm *vm)
{
    struct vm_ptimer *t = &vm->ptimer;
    t->held = true;
    if (t->owner >= 0) {
        vgic_assert(&vm->gic, (unsigned)t->owner, vm->cfg->ptimer_irq);
        vm_wake_check(vm);
    }
}

void vm_ptimer_irq(struct vm *vm)
{
    struct vm_ptimer *t = &vm->ptimer;
    if (service(vm)) {
        /* The timer PD says a deadline passed (the next one is asked for as sleepers rearm). */
        if (vm->state == VM_RUNNING) {
            t->armed_cval = 0;
            vm_wake_expired(vm);
        }
        return;
    }
    if (vm->state != VM_RUNNING) {
        hyp_irq_ack_on_wait(channel(vm));
        return;
    }
    if (t->borrowed) {
        /* The VMM's deadline: wake whoever it was for; re-arming moves the compare value on, so
         * the line is down before it is unmasked. If the owner woke on its own deadline, the
         * guest's timer (given back) has fired: this report is its interrupt, which goes into
         * the vGIC now rather than after a second report, and stays masked until its EOI. */
        vm_wake_expired(vm);
        /* Waking the owner gives the timer back (wake -> vm_ptimer_before_run -> give_back). */
        /* cppcheck-suppress knownConditionTrueFalse */
        if (t->borrowed || t->owner < 0 || t->held || !guest_timer_fired())
            hyp_irq_ack_on_wait(channel(vm));
        else
            take_guest_interrupt(vm);
        return;
    }
    if (!guest_timer_fired()) {
        hyp_irq_ack_on_wait(channel(vm)); /* left over from an earlier deadline */
        return;
    }
    take_guest_interrupt(vm);
}

void vm_ptimer_check_claim(struct vm *vm)
{
    struct vm_ptimer *t = &vm->ptimer;
    unsigned irq = vm->cfg->ptimer_irq;
    if (vm->cfg->wakeup_channel < 0)
        return;
    if (service(vm)) {
        for (unsigned v = 0; v < vm->cfg->num_vcpus && !t->warned_shared; v++) {
            if (!vgic_irq_enabled(&vm->gic, v, irq))
                continue;
            LOG_WARNING("timer",
                        "vCPU %u enabled the EL1 physical timer interrupt (INTID %u), but in this "
                        "system of several VMs that timer is the timer PD's, which ends every "
                        "VM's WFI: INTID %u is never raised, and a guest that programs CNTP_* "
                        "disturbs every VM's wake-ups",
                        v, irq, irq);
            t->warned_shared = true;
        }
        return;
    }
    for (unsigned v = 0; v < vm->cfg->num_vcpus; v++) {
        if ((int)v == t->owner || !vgic_irq_enabled(&vm->gic, v, irq))
            continue;
        if (t->owner >= 0) {
            if (!t->warned_shared)
                LOG_WARNING("timer",
                            "vCPU %u enabled the EL1 physical timer interrupt (INTID %u), but "
                            "vCPU %d already owns this core's only physical timer: seL4 does not "
                            "switch it between vCPUs, so the two would share one",
                            v, irq, t->owner);
            t->warned_shared = true;
            return;
        }
        set_owner(vm, v);
        LOG_INFO("timer",
                 "vCPU %u owns the EL1 physical timer (INTID %u); the VMM borrows it for WFI "
                 "wake-ups only while that vCPU cannot run",
                 v, irq);
        if (t->held)
            vgic_assert(&vm->gic, v, irq);
        if (t->borrowed && running(vm, v)) {
            give_back(vm);
            vm_sleepers_rearm(vm);
        }
        return;
    }
}

void vm_ptimer_report_busy(struct vm *vm, unsigned vcpu)
{
    if (vm->ptimer.warned_wfi)
        return;
    vm->ptimer.warned_wfi = true;
    LOG_WARNING("timer",
                "vCPU %u: WFI with a timer armed returns at once while vCPU %d runs, because "
                "that vCPU's physical timer is the one the VMM would wake it with",
                vcpu, vm->ptimer.owner);
}
