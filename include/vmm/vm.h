/* One virtual machine: its configuration, vGIC, vCPU states, emulated MMIO and boot images. */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vmm/config.h>
#include <vmm/exit.h>
#include <vmm/guest.h>
#include <vmm/hyp.h>
#include <vmm/psci.h>
#include <vmm/seed.h>
#include <vmm/vgic.h>
#include <vmm/virtio.h>

#define VM_MAX_VCPUS VGIC_MAX_VCPUS
#define VM_MAX_MMIO 16 /* the distributor, redistributors, virtio devices */

struct vm;

enum mmio_result {
    MMIO_OK,
    MMIO_ABORT, /* the device refuses the access: report it and stop/abort the guest */
    MMIO_RETRY, /* not yet (nothing done): the vCPU waits a moment and makes the access again */
};

/* An emulated device: `offset` is from the region base; reads store into *value. */
typedef enum mmio_result (*mmio_handler_fn)(struct vm *vm, const void *ctx, unsigned vcpu,
                                            uint64_t offset, unsigned width, bool write,
                                            uint64_t *value);

struct mmio_region {
    uint64_t base, size;
    const char *name;
    mmio_handler_fn handler;
    const void *ctx; /* passed to the handler */
};

enum vcpu_power {
    VCPU_OFF,
    VCPU_ON,
};

enum vm_state {
    VM_NOT_STARTED,
    VM_RUNNING,
    VM_STOPPED, /* stopped after an error the VMM could not answer */
    VM_POWERED_OFF,
    VM_RESETTING, /* vCPUs are draining their list registers before the next boot */
};

/* The core's EL1 physical timer, which the guest and the VMM share (src/core/ptimer.c). */
struct vm_ptimer {
    int owner;     /* vCPU whose physical timer it is; -1 until one claims it */
    bool borrowed; /* the VMM holds the hardware; the guest's values wait in saved_* */
    bool held;     /* the hardware line stays masked in seL4 until the guest EOIs it */
    bool warned_shared, warned_wfi;
    uint64_t saved_ctl, saved_cval;
    uint64_t armed_ctl, armed_cval; /* what the VMM last wrote */
};

/* What the directed yields of yield.c did this boot (in the exit statistics). */
struct vm_yield_stats {
    uint64_t wfe_held;    /* trapped WFEs held so that another vCPU could run first */
    uint64_t wfe_at_once; /* trapped WFEs that returned at once (no other vCPU could run) */
    uint64_t sgi_held;    /* SGI senders held until a target had a turn */
    uint64_t turns_back;  /* targets held after their turn until the sender ran again */
    uint64_t
        ended_by_exit; /* holds another vCPU's exit ended (the rest: an interrupt, the bound) */
};

/* Rate limits of the lines a guest can cause (log.h), reset at init and at every boot. */
struct vm_log_limits {
    struct log_limit abort;  /* accesses nothing answers */
    struct log_limit sysreg; /* system registers the VMM does not emulate */
    struct log_limit trap;   /* traps and faults the VMM cannot handle (the guest stops) */
    struct log_limit stop;   /* the guest stopped */
    struct log_limit smc;    /* unknown SMC/HVC functions */
    struct log_limit cpu_on; /* CPU_ON for MPIDRs the VM does not have */
    struct log_limit power;  /* vCPUs started and stopped through PSCI */
    struct log_limit vppi;   /* virtual PPIs the vGIC cannot take */
    struct log_limit notify; /* notifications on channels that carry no guest interrupt */
};

struct vm {
    const struct vmm_config *cfg;
    void *ram; /* guest RAM as the VMM sees it */
    struct guest_layout layout;
    struct vgic gic;
    enum vcpu_power power[VM_MAX_VCPUS];
    /* A vCPU in WFI with nothing to take: its fault is not answered until an interrupt is
     * pending for it or its virtual timer's deadline passes; then it restarts at wake_pc. */
    bool sleeping[VM_MAX_VCPUS];
    uint64_t wake_pc[VM_MAX_VCPUS];
    uint64_t wake_deadline[VM_MAX_VCPUS]; /* physical counter; 0 = none */
    bool draining[VM_MAX_VCPUS];          /* running the reset drain stub */
    bool reset_waits_dma; /* a reset waits for block requests whose DMA may reach guest RAM */
    /* A vCPU held by a directed yield (yield.c) sleeps as in WFI, at most a short bound, and is
     * also woken when one of held_for[v] exits. held_watch is the union of those sets; it may
     * still name vCPUs no hold waits for any more (it is trimmed at their next exit). */
    uint32_t held_for[VM_MAX_VCPUS];
    uint32_t held_watch;
    uint32_t held_sgi;  /* the held vCPUs that are SGI senders waiting for a target's turn */
    uint32_t turn_owed; /* senders the current exit let go: the exiting target waits for them */
    struct vm_yield_stats yields;
    /* Passthrough interrupts (bit n = cfg->irqs[n]) EOI'd while disabled at the distributor:
     * acknowledged to seL4 when the guest enables them again. */
    uint32_t deferred_acks;
    struct vm_ptimer ptimer;
    struct seed_state seeds; /* the guest's fresh kaslr-seed and rng-seed at each boot */
    struct mmio_region mmio[VM_MAX_MMIO];
    unsigned num_mmio;
    enum vm_state state;
    unsigned boots;
    uint64_t exits;
    uint64_t exits_by_kind[EXIT_UNKNOWN + 1];
    uint64_t exits_wfx;
    struct vm_log_limits log;
    struct virtio_dev virtio[VIRTIO_MAX_DEVICES]; /* emulated virtio-mmio devices */
    unsigned num_virtio;
};

/* Make `vcpu` take a synchronous external abort (data or instruction) at its EL1 vector, as the
 * hardware would for an access nothing answers. */
bool vm_inject_abort(struct vm *vm, unsigned vcpu, bool instruction, bool write);

/* WFI: put `vcpu` to sleep until an interrupt or its virtual timer (fault.c calls this). */
bool vm_vcpu_sleep(struct vm *vm, unsigned vcpu, uint64_t resume_pc);
/* True if vm_vcpu_hold could hold `vcpu` now (a wake-up timer it may use): asked first where
 * finding out what a hold would wait for costs more than the answer. */
bool vm_vcpu_may_hold(const struct vm *vm, unsigned vcpu);
/* Suspend `vcpu` (which just exited and would resume at `resume_pc`) for at most `ticks` of the
 * counter, or until a list-register entry it may take appears (vgic_vcpu_has_pending, checked
 * whenever its interrupt state changes) or one of `until_exit_of` exits; false (and nothing done)
 * if that cannot be promised: no wake-up timer, or the timer's owner runs. */
bool vm_vcpu_hold(struct vm *vm, unsigned vcpu, uint64_t resume_pc, uint64_t ticks,
                  uint32_t until_exit_of);
/* A resume PC meaning "where the exit left it": the vCPU restarts with hyp_vcpu_resume. */
#define VM_PC_IN_PLACE UINT64_MAX
/* Restart a sleeping or held vCPU where it was to resume (re-arm the wake-up timer after). */
void vm_vcpu_wake(struct vm *vm, unsigned vcpu);
/* True if `vcpu` is on, not asleep or held, and not draining: seL4 may run it now. */
bool vm_vcpu_runnable(const struct vm *vm, unsigned vcpu);

/* Directed yields (yield.c). A trapped WFE: true if `vcpu` is held (another vCPU runs first),
 * false if it is to resume at once. */
bool vm_vcpu_wfe(struct vm *vm, unsigned vcpu, uint64_t resume_pc);
/* At the end of an exit of `vcpu` that sent SGIs (vm->gic.sgi_sent) or let SGI senders go
 * (vm->turn_owed): hold it while a target that can take one runs, or until a sender it let go
 * has run again (clearing reply->resume); see yield.c. */
void vm_yield_after_exit(struct vm *vm, unsigned vcpu, struct exit_reply *reply);
/* `vcpu` exited: it has had a turn, so the vCPUs held for it run again. Unless `may_hold` is
 * false (the exit's reply carries results), SGI senders among them are owed a turn in return. */
void vm_yield_exit_of(struct vm *vm, unsigned vcpu, bool may_hold);

/* Stop every vCPU, mark it off, forget any sleeping one and disarm the wake-up timer
 * (boot, reset, stop, power-off). */
void vm_stop_vcpus(struct vm *vm);
/* Give a vCPU the EL1 state a fresh start expects: MMU off, virtual timer off, MPIDR Aff0 = its
 * index (as PSCI and the vGIC number vCPUs). */
void vm_vcpu_reset_sysregs(unsigned vcpu);
/* Wake every sleeping vCPU that has an interrupt pending or whose deadline has passed. */
void vm_wake_check(struct vm *vm);
/* The same when the wake-up timer fired, which also moves the timer on. */
void vm_wake_expired(struct vm *vm);
/* Start (or restart) `vcpu` at `pc` (VM_PC_IN_PLACE: where its last exit left it), first giving
 * it back the physical timer if it owns it. */
void vm_vcpu_run(struct vm *vm, unsigned vcpu, uint64_t pc);
/* Re-arm the wake-up timer for the sleepers' earliest deadline (waking them if it cannot). */
void vm_sleepers_rearm(struct vm *vm);

/* The guest's virtual timer (vtimer.c): when it fires, in physical counter ticks (0: it will
 * not), and its interrupt line's level now (a vgic_level_fn). */
uint64_t vm_vtimer_deadline(unsigned vcpu);
bool vm_vtimer_level(unsigned vcpu, unsigned irq, void *cookie);

/* The shared physical timer (ptimer.c). */
void vm_ptimer_boot(struct vm *vm);
void vm_ptimer_stop(struct vm *vm);
/* True if the VMM may use the hardware timer now (the owner, if any, cannot run). */
bool vm_ptimer_may_borrow(const struct vm *vm);
/* ... once `vcpu` no longer runs (it may own the timer itself). */
bool vm_ptimer_may_borrow_for(const struct vm *vm, unsigned vcpu);
/* The VMM's wake-ups use the timer now: it holds the physical timer, or the timer PD serves
 * them. If not, no sleeper has a deadline but the timer owner's own, and waking one changes
 * nothing to arm. */
bool vm_ptimer_wakeups_armed(const struct vm *vm);
/* Use the timer for the VMM's next wake-up (0: none), saving the guest's values first. */
void vm_ptimer_arm(struct vm *vm, uint64_t deadline);
/* `vcpu` is about to run: if it owns the timer, the guest's values go back into the hardware.
 * True if they did (the VMM no longer has a timer). */
bool vm_ptimer_before_run(struct vm *vm, unsigned vcpu);
/* When `vcpu`'s own physical timer would interrupt it, in counter ticks; 0 if it would not. */
uint64_t vm_ptimer_guest_deadline(const struct vm *vm, unsigned vcpu);
/* The timer's interrupt arrived on the wake-up channel. */
void vm_ptimer_irq(struct vm *vm);
/* After a vGIC write: a vCPU that enabled the timer's interrupt claims the timer. */
void vm_ptimer_check_claim(struct vm *vm);
/* Say once that `vcpu`'s WFI cannot sleep on a deadline while the owner runs. */
void vm_ptimer_report_busy(struct vm *vm, unsigned vcpu);

/* Say what every rate limit of the VM suppressed and start them afresh (init and every boot). */
void vm_log_limits_reset(struct vm *vm);
/* Log how many exits of each kind this boot took (at power-off and reset). */
void vm_log_exit_stats(const struct vm *vm);

/* Check the configuration and images, set up the vGIC and devices. Logs why on failure. */
bool vm_init(struct vm *vm, const struct vmm_config *cfg, void *ram);
/* Copy pristine images into guest RAM, reset the vGIC and start vCPU 0 at the entry point. */
bool vm_boot(struct vm *vm);
/* Stop every vCPU (the VM keeps its state for inspection). */
void vm_stop(struct vm *vm, const char *why);

bool vm_add_mmio(struct vm *vm, uint64_t base, uint64_t size, const char *name,
                 mmio_handler_fn handler, const void *ctx);

/* Handle one exit; fills the reply. */
void vm_handle_exit(struct vm *vm, const struct vm_exit *exit, struct exit_reply *reply);
/* A notification on Microkit channel `channel` (passthrough IRQs, the wake-up timer, device
 * backends); one on a channel the VM does not use is reported. An IRQ it acknowledges may be
 * acknowledged when the PD next waits for events (hyp_irq_ack_on_wait). */
void vm_notified(struct vm *vm, unsigned channel);
/* After a distributor write: passthrough interrupts whose acknowledgement waited for the guest
 * to enable them (see vm.c) are acknowledged now. */
void vm_passthrough_enabled(struct vm *vm);
/* True if `channel` is one of the VM's (a PD that serves channels of its own asks first). */
bool vm_owns_channel(const struct vm *vm, unsigned channel);

/* Handlers used by vm_handle_exit, one per exit class (fault.c, psci.c, vm.c). */
void vm_handle_vm_fault(struct vm *vm, const struct vm_exit *exit, struct exit_reply *reply);
void vm_handle_vcpu_fault(struct vm *vm, const struct vm_exit *exit, struct exit_reply *reply);
void vm_handle_hvc(struct vm *vm, const struct vm_exit *exit, struct exit_reply *reply);
/* A data abort without a syndrome on an emulated device (no_syndrome.c): decode the instruction
 * and perform it element by element. False, with the reason in `why`, if it must be refused; then
 * nothing was done (see no_syndrome.c for the one exception). */
bool vm_emulate_no_syndrome(struct vm *vm, const struct vm_exit *exit, char *why, size_t why_len);
/* PSCI/SMCCC call from `vcpu` with arguments x0..x3; returns the x0 result. */
uint64_t vm_psci_call(struct vm *vm, unsigned vcpu, const uint64_t args[4],
                      enum psci_action *action);

#endif
