/*
 * For a Microkit protection domain that owns a VM: the one call its fault() entry point makes.
 * The PD program keeps Microkit's entry points (init, notified, fault) and hands the VM's faults
 * to the library; see vmm/main.c for the smallest such program and README for one that also
 * serves channels of its own. This header includes microkit.h, so only PD programs include it.
 */
#ifndef VMM_MICROKIT_H
#define VMM_MICROKIT_H

#include <microkit.h>
#include <vmm/vm.h>

/* Handle a fault of one of the VM's vCPUs (`child` is its index); returns whether to reply.
 *
 * vm_notified may leave an IRQ acknowledgement to ride on the event loop's next Recv
 * (microkit_deferred_irq_ack): a program that defers a signal of its own in the same notified()
 * call must do so only while microkit_have_signal is false, and otherwise signal at once. */
seL4_Bool vmm_microkit_fault(struct vm *vm, microkit_child child, microkit_msginfo msginfo,
                             microkit_msginfo *reply_msginfo);

#endif
