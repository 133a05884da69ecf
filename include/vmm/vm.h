/* One virtual machine: its configuration, vGIC, vCPU states, emulated MMIO and boot images. */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <stdbool.h>
#include <stdint.h>
#include <vmm/config.h>
#include <vmm/exit.h>
#include <vmm/guest.h>
#include <vmm/hyp.h>
#include <vmm/psci.h>
#include <vmm/vgic.h>

#define VM_MAX_VCPUS VGIC_MAX_VCPUS
#define VM_MAX_MMIO 8

struct vm;

enum mmio_result {
    MMIO_OK,
    MMIO_ABORT, /* the device refuses the access: report it and stop/abort the guest */
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
    struct mmio_region mmio[VM_MAX_MMIO];
    unsigned num_mmio;
    enum vm_state state;
    unsigned boots;
    uint64_t exits;
    uint64_t exits_by_kind[EXIT_UNKNOWN + 1];
    uint64_t exits_wfx;
};

/* Make `vcpu` take a synchronous external abort (data or instruction) at its EL1 vector, as the
 * hardware would for an access nothing answers. */
bool vm_inject_abort(struct vm *vm, unsigned vcpu, bool instruction, bool write);

/* WFI: put `vcpu` to sleep until an interrupt or its virtual timer (fault.c calls this). */
bool vm_vcpu_sleep(struct vm *vm, unsigned vcpu, uint64_t resume_pc);
/* Stop every vCPU, mark it off, forget any sleeping one and disarm the wake-up timer
 * (boot, reset, stop, power-off). */
void vm_stop_vcpus(struct vm *vm);
/* Give a vCPU the EL1 state a fresh start expects: MMU off, virtual timer off, MPIDR Aff0 = its
 * index (as PSCI and the vGIC number vCPUs). */
void vm_vcpu_reset_sysregs(unsigned vcpu);
/* Wake every sleeping vCPU that has an interrupt pending or whose deadline has passed. */
void vm_wake_check(struct vm *vm);

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
/* A notification on Microkit channel `channel` (passthrough IRQs). */
void vm_notified(struct vm *vm, unsigned channel);

/* Handlers used by vm_handle_exit, one per exit class (fault.c, psci.c, vm.c). */
void vm_handle_vm_fault(struct vm *vm, const struct vm_exit *exit, struct exit_reply *reply);
void vm_handle_vcpu_fault(struct vm *vm, const struct vm_exit *exit, struct exit_reply *reply);
void vm_handle_hvc(struct vm *vm, const struct vm_exit *exit, struct exit_reply *reply);
/* PSCI/SMCCC call from `vcpu` with arguments x0..x3; returns the x0 result. */
uint64_t vm_psci_call(struct vm *vm, unsigned vcpu, const uint64_t args[4],
                      enum psci_action *action);

#endif
