/*
 * Directed yields: on the one physical core every vCPU of a VM is a seL4 thread at the VM's
 * priority with its own scheduling context, so a vCPU that waits for another (a spinlock whose
 * holder was preempted, an IPI it waits to see handled) would burn its time slice before the one
 * it waits for runs. The VMM sees some of these waits and lets the other vCPUs run first by
 * holding the waiter: suspended like a WFI sleep (wfi.c, vm_vcpu_hold), restarted when one of the
 * vCPUs it waits for exits (it has had a turn), when an interrupt becomes pending for it, or after
 * at most YIELD_BOUND_US. A held vCPU may be restarted earlier than necessary, never later than
 * the bound, so a vCPU that waits for something no other vCPU will do stays responsive.
 *
 * WFE. seL4 sets HCR_EL2.TWE (and TWI) for vCPUs unless built with DISABLE_WFI_WFE_TRAPS, which
 * this SDK's kernels are not: a WFE traps only when the PE would otherwise wait for an event, i.e.
 * its event register was clear. That register belongs to the physical PE; seL4 neither exposes
 * nor switches it, and SEV from another vCPU does not trap. What the VMM can and cannot know:
 *   - an exception return sets the event register, so after each switch into a vCPU its first WFE
 *     completes without trapping: a trapped WFE comes from a vCPU that has run and found no event
 *     since it was last entered, which includes every SEV other vCPUs (which only ran while it did
 *     not) executed before;
 *   - an SEV, or a store clearing its exclusive monitor, made by another vCPU after the WFE
 *     trapped cannot be seen: both mean the other vCPU ran, and it is released at that vCPU's next
 *     exit or at the bound, whichever comes first;
 *   - interrupts are the VMM's own: what its list registers held when the WFE trapped evidently did
 *     not end the wait (masked, or not signalled), like at a trapped WFI; a new one ends the hold.
 * So the nearest safe rule: a trapped WFE returns at once when no other vCPU of the VM can run (a
 * 1-vCPU VM, or the others asleep, held or off: nobody else could make the event), and otherwise
 * waits until another vCPU has exited, a new interrupt for it arrives, or the bound passes. QEMU
 * (TCG) never traps WFE (it executes it as YIELD), so there this rule never fires; on hardware it
 * covers Linux's spinlocks and smp_cond_load (WFE loops), not its YIELD loops (cpu_relax).
 *
 * SGIs. When a vCPU sends an SGI to vCPUs that can now take it and run (an SGI wakes a target
 * asleep in WFI), the sender is held until one of those targets exits: the target, woken or just
 * preempted, runs its handler now instead of after the sender's time slice, and a sender that
 * waits for the handler (a function call IPI) finds it done. At that exit the target gives the
 * turn back: it is held in turn until the sender has exited once more (or the bound), so the
 * sender goes on where it left off instead of waiting for the target's whole time slice. Holding
 * only the sender made Linux boot slower (bench/smp_cost.py: 4 vCPUs +28 %): a target that went on
 * to spin for the sender (stop_machine, a lock the sender held while sending) kept the core for
 * its whole slice. Both resume in place (hyp_vcpu_resume): the exit's handler has already left
 * their registers as its reply would have. An exit whose reply carries results (HVC) is answered,
 * never held.
 */
#include <vmm/vm.h>

/* The longest a yield holds a vCPU. */
#define YIELD_BOUND_US 50u

static uint64_t bound_ticks(void)
{
    uint64_t t = hyp_counter_freq() / (1000000u / YIELD_BOUND_US);
    return t ? t : 1;
}

/* vCPUs other than `vcpu` that seL4 may run now. */
static uint32_t runnable_others(const struct vm *vm, unsigned vcpu)
{
    uint32_t m = 0;
    for (unsigned v = 0; v < vm->cfg->num_vcpus; v++) {
        if (v != vcpu && vm_vcpu_runnable(vm, v))
            m |= 1u << v;
    }
    return m;
}

bool vm_vcpu_wfe(struct vm *vm, unsigned vcpu, uint64_t resume_pc)
{
    if (vm->state != VM_RUNNING || !runnable_others(vm, vcpu)) {
        vm->yields.wfe_at_once++;
        return false;
    }
    /* What the list registers hold now did not end the wait (see above). */
    vgic_vcpu_wfi(&vm->gic, vcpu);
    uint32_t everyone_else = ((1u << vm->cfg->num_vcpus) - 1) & ~(1u << vcpu);
    if (!vm_vcpu_hold(vm, vcpu, resume_pc, bound_ticks(), everyone_else)) {
        vm->yields.wfe_at_once++;
        return false;
    }
    vm->yields.wfe_held++;
    return true;
}

/* True if the exit's reply would only resume the vCPU: it can as well be suspended now and
 * resumed later in place (hyp_vcpu_resume), its registers as the exit's handler left them. An
 * HVC's reply carries its results: that exit is answered, not held. */
static bool resumes_in_place(const struct vm *vm, const struct exit_reply *reply)
{
    return reply->resume && !reply->set_hvc_regs && vm->state == VM_RUNNING;
}

static void after_sgi(struct vm *vm, unsigned vcpu, uint32_t targets, struct exit_reply *reply)
{
    /* A sender that is a target too has a new interrupt of its own to take: it runs on. What its
     * list registers held before the exit it has seen (taken, or masked), like at a WFE. */
    if (!resumes_in_place(vm, reply) || (targets >> vcpu) & 1 || !vm_vcpu_may_hold(vm, vcpu))
        return;
    uint32_t waiting = 0;
    for (uint32_t m = targets & runnable_others(vm, vcpu); m; m &= m - 1) {
        unsigned t = (unsigned)__builtin_ctz(m);
        if (vgic_vcpu_has_pending(&vm->gic, t)) /* it has something new to take */
            waiting |= 1u << t;
    }
    if (!waiting || !vm_vcpu_hold(vm, vcpu, VM_PC_IN_PLACE, bound_ticks(), waiting))
        return;
    reply->resume = false;
    vm->held_sgi |= 1u << vcpu;
    vm->yields.sgi_held++;
}

static void give_back(struct vm *vm, unsigned vcpu, uint32_t owed, struct exit_reply *reply)
{
    owed &= runnable_others(vm, vcpu);
    if (!owed || !resumes_in_place(vm, reply))
        return;
    if (!vm_vcpu_hold(vm, vcpu, VM_PC_IN_PLACE, bound_ticks(), owed))
        return;
    reply->resume = false;
    vm->yields.turns_back++;
}

void vm_yield_after_exit(struct vm *vm, unsigned vcpu, struct exit_reply *reply)
{
    uint32_t sgis = vm->gic.sgi_sent, owed = vm->turn_owed;
    vm->gic.sgi_sent = vm->turn_owed = 0;
    if (sgis)
        after_sgi(vm, vcpu, sgis, reply);
    if (owed)
        give_back(vm, vcpu, owed, reply);
}

void vm_yield_exit_of(struct vm *vm, unsigned vcpu, bool may_hold)
{
    uint32_t bit = 1u << vcpu, watch = 0;
    bool woke = false;
    for (unsigned v = 0; v < vm->cfg->num_vcpus; v++) {
        if (!vm->sleeping[v] || !vm->held_for[v])
            continue;
        if (vm->held_for[v] & bit) {
            if (may_hold && (vm->held_sgi & (1u << v)))
                vm->turn_owed |= 1u << v;
            vm_vcpu_wake(vm, v);
            vm->yields.ended_by_exit++;
            woke = true;
        } else {
            watch |= vm->held_for[v];
        }
    }
    vm->held_watch = watch;
    if (woke)
        vm_sleepers_rearm(vm);
}
