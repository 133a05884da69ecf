/* A guest exit as the hypervisor seam reports it, decoded once, and what to answer. */
#ifndef VMM_EXIT_H
#define VMM_EXIT_H

#include <stdbool.h>
#include <stdint.h>

enum exit_kind {
    EXIT_VM_FAULT,         /* stage-2 fault: data or instruction abort */
    EXIT_HVC,              /* guest HVC the kernel did not take as one of its own calls */
    EXIT_VCPU,             /* trapped instruction with a syndrome: WFI/WFE, SMC, MSR/MRS, ... */
    EXIT_VPPI,             /* a virtual PPI (virtual timer) fired; the kernel masked it */
    EXIT_VGIC_MAINTENANCE, /* the guest EOI'd a list register */
    EXIT_USER_EXCEPTION,   /* exception the guest could not take itself */
    EXIT_UNKNOWN,
};

struct vm_exit {
    enum exit_kind kind;
    unsigned vcpu;
    uint64_t pc;
    uint64_t esr;  /* EXIT_VM_FAULT (FSR), EXIT_VCPU (HSR) */
    uint64_t addr; /* EXIT_VM_FAULT: guest physical address */
    bool instruction_fault;
    /* EXIT_HVC: x0-x7 as the kernel sends them with the fault. */
    uint64_t x[8];
    uint32_t irq;   /* EXIT_VPPI */
    int lr_index;   /* EXIT_VGIC_MAINTENANCE, -1 when none */
    uint64_t label; /* EXIT_UNKNOWN / EXIT_USER_EXCEPTION: raw kernel values */
    uint64_t code;
};

/* vm_handle_exit sets every field it means; the seam's copy needs no clearing. */
struct exit_reply {
    bool resume; /* reply to the fault so the vCPU runs on */
    /* EXIT_HVC only: the reply sets x0 and the PC; x1-x7 go back as they came, and SP, ELR and
     * SPSR are left alone. */
    bool set_hvc_regs;
    uint64_t x0, pc;
};

#endif
