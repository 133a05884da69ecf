/*
 * The library's only file that includes microkit.h / seL4 headers. It implements include/vmm/hyp.h
 * with seL4 invocations and turns a Microkit fault message into a struct vm_exit for the VM
 * (vmm_microkit_fault, include/vmm/microkit.h). The PD program keeps Microkit's entry points.
 */
#include <microkit.h>
#include <stddef.h>
#include <vmm/exit.h>
#include <vmm/hyp.h>
#include <vmm/log.h>
#include <vmm/microkit.h>
#include <vmm/vm.h>

#include "generic_timer.h"

/* hyp.h's transfer order must be the kernel's: spot-check the fields where it bends. */
_Static_assert(sizeof(seL4_UserContext) == VCPU_REGS_ALL * sizeof(seL4_Word), "register count");
_Static_assert(offsetof(seL4_UserContext, x16) == 12 * sizeof(seL4_Word), "x16 position");
_Static_assert(offsetof(seL4_UserContext, x29) == 15 * sizeof(seL4_Word), "x29 position");
_Static_assert(offsetof(seL4_UserContext, x9) == 17 * sizeof(seL4_Word), "x9 position");
_Static_assert(offsetof(seL4_UserContext, x19) == 24 * sizeof(seL4_Word), "x19 position");
_Static_assert(offsetof(seL4_UserContext, tpidr_el0) == 34 * sizeof(seL4_Word), "tpidr position");

/*
 * The fault message waits in the IPC buffer until the reply: an HVC reply that leaves MR1-MR7 as
 * they came hands x1-x7 back unchanged. Any invocation may overwrite them, so each notes it here.
 */
static bool ipc_buffer_reused;

/*
 * Register transfer with only the registers asked for. libsel4's generated stubs marshal all 36
 * registers whatever `count` says; these move `count` words, the first four in registers.
 * Transfer positions 3..11 are x0..x8 in order, the common case, copied without the slot table.
 */
bool hyp_vcpu_read_regs(unsigned vcpu, struct vcpu_regs *regs, unsigned count)
{
    if (count > VCPU_REGS_ALL)
        return false;
    ipc_buffer_reused = true;
    seL4_Word mr[4] = { 0, count, 0, 0 };
    seL4_MessageInfo_t tag = seL4_MessageInfo_new(TCBReadRegisters, 0, 0, 2);
    seL4_MessageInfo_t out =
        seL4_CallWithMRs(BASE_VM_TCB_CAP + vcpu, tag, &mr[0], &mr[1], &mr[2], &mr[3]);
    seL4_Error err = (seL4_Error)seL4_MessageInfo_get_label(out);
    if (err != seL4_NoError) {
        LOG_ERR("seL4", "reading %u registers of vCPU %u failed (error %d)", count, vcpu, err);
        return false;
    }
    regs->pc = mr[0];
    regs->sp = mr[1];
    regs->spsr = mr[2];
    regs->x[0] = mr[3];
    unsigned i = 4;
    for (; i < count && i < 12; i++)
        regs->x[i - 3] = seL4_GetMR((int)i);
    uint64_t *to = (uint64_t *)regs;
    for (; i < count; i++)
        to[vcpu_reg_slot(i)] = seL4_GetMR((int)i);
    return true;
}

/* TCB_WriteRegisters with `count` words; `resume` also restarts the thread at the new PC. */
static seL4_Error write_regs(unsigned vcpu, const struct vcpu_regs *regs, unsigned count,
                             bool resume)
{
    ipc_buffer_reused = true;
    seL4_Word mr[4] = { resume ? 1 : 0, count, regs->pc, regs->sp };
    if (count > 2)
        seL4_SetMR(4, regs->spsr);
    unsigned i = 3;
    for (; i < count && i < 12; i++)
        seL4_SetMR((int)(i + 2), regs->x[i - 3]);
    const uint64_t *from = (const uint64_t *)regs;
    for (; i < count; i++)
        seL4_SetMR((int)(i + 2), from[vcpu_reg_slot(i)]);
    seL4_MessageInfo_t tag = seL4_MessageInfo_new(TCBWriteRegisters, 0, 0, 2 + count);
    seL4_MessageInfo_t out =
        seL4_CallWithMRs(BASE_VM_TCB_CAP + vcpu, tag, &mr[0], &mr[1], &mr[2], &mr[3]);
    return (seL4_Error)seL4_MessageInfo_get_label(out);
}

bool hyp_vcpu_write_regs(unsigned vcpu, const struct vcpu_regs *regs, unsigned count)
{
    if (count > VCPU_REGS_ALL)
        return false;
    seL4_Error err = write_regs(vcpu, regs, count, false);
    if (err != seL4_NoError)
        LOG_ERR("seL4", "writing %u registers of vCPU %u failed (error %d)", count, vcpu, err);
    return err == seL4_NoError;
}

/* Writing just the PC with resume set restarts the vCPU there (it also runs on the WFI wake-up
 * path, so it uses the lean transfer too, and nothing else of a register set is filled in). */
void hyp_vcpu_start(unsigned vcpu, uint64_t pc)
{
    ipc_buffer_reused = true;
    seL4_Word mr[4] = { 1, 1, pc, 0 };
    seL4_MessageInfo_t out =
        seL4_CallWithMRs(BASE_VM_TCB_CAP + vcpu, seL4_MessageInfo_new(TCBWriteRegisters, 0, 0, 3),
                         &mr[0], &mr[1], &mr[2], &mr[3]);
    seL4_Error err = (seL4_Error)seL4_MessageInfo_get_label(out);
    if (err != seL4_NoError)
        LOG_ERR("seL4", "starting vCPU %u at 0x%llx failed (error %d)", vcpu,
                (unsigned long long)pc, err);
}

void hyp_vcpu_stop(unsigned vcpu)
{
    ipc_buffer_reused = true;
    seL4_Error err = seL4_TCB_Suspend(BASE_VM_TCB_CAP + vcpu);
    if (err != seL4_NoError)
        LOG_ERR("seL4", "stopping vCPU %u failed (error %d)", vcpu, err);
}

void hyp_vcpu_park(unsigned vcpu)
{
#ifdef CONFIG_PRINTING
    /* A kernel that prints says "Reply object already has unexecuted reply!" when the event
     * loop's next Recv finds the unanswered fault: suspend the vCPU first. */
    hyp_vcpu_stop(vcpu);
#else
    /* The event loop's next Recv takes the reply object back from the unanswered fault, which
     * leaves the vCPU inactive as TCB_Suspend would (seL4's receiveIPC, cancelIPC): one kernel
     * call fewer per sleep. Waking it (TCB_WriteRegisters with resume, or TCB_Resume for a
     * hold) restarts it either way, also before that Recv. */
    (void)vcpu;
#endif
}

/* A suspended thread restarts at its restart PC: for a vCPU stopped while its fault waited for
 * the reply, where that reply would have resumed it (the faulting instruction, or for an
 * asynchronous fault, a virtual PPI or vGIC maintenance, where the interrupt stopped it). */
void hyp_vcpu_resume(unsigned vcpu)
{
    ipc_buffer_reused = true;
    seL4_Error err = seL4_TCB_Resume(BASE_VM_TCB_CAP + vcpu);
    if (err != seL4_NoError)
        LOG_ERR("seL4", "resuming vCPU %u failed (error %d)", vcpu, err);
}

void hyp_vcpu_reset_sysregs(unsigned vcpu, uint64_t sctlr, uint64_t mpidr)
{
    ipc_buffer_reused = true;
    seL4_ARM_VCPU_WriteRegs(BASE_VCPU_CAP + vcpu, seL4_VCPUReg_SCTLR, sctlr);
    seL4_ARM_VCPU_WriteRegs(BASE_VCPU_CAP + vcpu, seL4_VCPUReg_CNTV_CTL, 0);
    seL4_ARM_VCPU_WriteRegs(BASE_VCPU_CAP + vcpu, seL4_VCPUReg_VMPIDR_EL2, mpidr);
}

bool hyp_inject_irq(unsigned vcpu, uint16_t irq, uint8_t priority, uint8_t group, uint8_t lr)
{
    ipc_buffer_reused = true;
    /* seL4 takes the 5-bit list-register priority field. */
    seL4_Error err = seL4_ARM_VCPU_InjectIRQ(BASE_VCPU_CAP + vcpu, irq, priority >> 3, group, lr);
    return err == seL4_NoError;
}

void hyp_ack_vppi(unsigned vcpu, uint32_t irq)
{
    ipc_buffer_reused = true;
    seL4_ARM_VCPU_AckVPPI(BASE_VCPU_CAP + vcpu, irq);
}

void hyp_irq_ack(unsigned channel)
{
    ipc_buffer_reused = true;
    microkit_irq_ack(channel);
}

/* Microkit's event loop can combine one signal or IRQ acknowledgement with its next Recv
 * (seL4_NBSendRecv): one system call fewer. Only one fits; a second goes at once. The PD program
 * must not defer a signal of its own after vm_notified (include/vmm/microkit.h). */
void hyp_irq_ack_on_wait(unsigned channel)
{
    if (microkit_have_signal) {
        hyp_irq_ack(channel);
        return;
    }
    microkit_deferred_irq_ack(channel);
}

void hyp_notify(unsigned channel)
{
    ipc_buffer_reused = true;
    microkit_notify(channel);
}

static const seL4_Word sysreg_ids[VCPU_SYSREG_COUNT] = {
    [VCPU_CNTV_CTL] = seL4_VCPUReg_CNTV_CTL, [VCPU_CNTV_CVAL] = seL4_VCPUReg_CNTV_CVAL,
    [VCPU_CNTVOFF] = seL4_VCPUReg_CNTVOFF,   [VCPU_VBAR_EL1] = seL4_VCPUReg_VBAR,
    [VCPU_ESR_EL1] = seL4_VCPUReg_ESR,       [VCPU_FAR_EL1] = seL4_VCPUReg_FAR,
    [VCPU_ELR_EL1] = seL4_VCPUReg_ELR_EL1,   [VCPU_SPSR_EL1] = seL4_VCPUReg_SPSR_EL1,
    [VCPU_SCTLR_EL1] = seL4_VCPUReg_SCTLR,   [VCPU_TTBR0_EL1] = seL4_VCPUReg_TTBR0,
    [VCPU_TTBR1_EL1] = seL4_VCPUReg_TTBR1,   [VCPU_TCR_EL1] = seL4_VCPUReg_TCR,
    [VCPU_SP_EL1] = seL4_VCPUReg_SP_EL1,
};

uint64_t hyp_vcpu_read_sysreg(unsigned vcpu, enum vcpu_sysreg reg)
{
    ipc_buffer_reused = true;
    seL4_ARM_VCPU_ReadRegs_t r = seL4_ARM_VCPU_ReadRegs(BASE_VCPU_CAP + vcpu, sysreg_ids[reg]);
    return r.error == seL4_NoError ? r.value : 0;
}

void hyp_vcpu_write_sysreg(unsigned vcpu, enum vcpu_sysreg reg, uint64_t value)
{
    ipc_buffer_reused = true;
    seL4_ARM_VCPU_WriteRegs(BASE_VCPU_CAP + vcpu, sysreg_ids[reg], value);
}

uint64_t hyp_counter_now(void)
{
    return generic_counter_now();
}

uint64_t hyp_counter_freq(void)
{
    return generic_counter_freq();
}

void hyp_ptimer_read(uint64_t *ctl, uint64_t *cval)
{
    generic_ptimer_read(ctl, cval);
}

void hyp_ptimer_write(uint64_t ctl, uint64_t cval)
{
    generic_ptimer_write(ctl, cval);
}

void hyp_puts(const char *s)
{
    microkit_dbg_puts(s);
}

/* x0-x7 are MR0-MR7 of an HVC fault and of its reply. Spelled out so it compiles to a few
 * load/store pairs on the HVC fast path rather than a call to memcpy. */
static inline void copy_x0_x7(uint64_t *to, const uint64_t *from)
{
    uint64_t a = from[0], b = from[1], c = from[2], d = from[3];
    uint64_t e = from[4], f = from[5], g = from[6], h = from[7];
    to[0] = a;
    to[1] = b;
    to[2] = c;
    to[3] = d;
    to[4] = e;
    to[5] = f;
    to[6] = g;
    to[7] = h;
}

/* Decode the fault message into a vm_exit (before any invocation overwrites the IPC buffer). */
static void decode_fault(microkit_child child, microkit_msginfo msginfo, struct vm_exit *e)
{
    seL4_Word label = microkit_msginfo_get_label(msginfo);
    e->vcpu = child;
    e->pc = 0;
    e->lr_index = -1;
    switch (label) {
    case seL4_Fault_VMFault:
        e->kind = EXIT_VM_FAULT;
        e->pc = seL4_GetMR(seL4_VMFault_IP);
        e->addr = seL4_GetMR(seL4_VMFault_Addr);
        e->instruction_fault = seL4_GetMR(seL4_VMFault_PrefetchFault) != 0;
        e->esr = seL4_GetMR(seL4_VMFault_FSR);
        break;
    case seL4_Fault_UnknownSyscall:
        e->kind = EXIT_HVC;
        copy_x0_x7(e->x, &seL4_GetIPCBuffer()->msg[seL4_UnknownSyscall_X0]);
        e->pc = seL4_GetMR(seL4_UnknownSyscall_FaultIP);
        break;
    case seL4_Fault_VCPUFault:
        e->kind = EXIT_VCPU;
        e->esr = seL4_GetMR(seL4_VCPUFault_HSR);
        break;
    case seL4_Fault_VPPIEvent:
        e->kind = EXIT_VPPI;
        e->irq = (uint32_t)seL4_GetMR(seL4_VPPIEvent_IRQ);
        break;
    case seL4_Fault_VGICMaintenance:
        e->kind = EXIT_VGIC_MAINTENANCE;
        e->lr_index = (int)(seL4_Word)seL4_GetMR(seL4_VGICMaintenance_IDX);
        break;
    case seL4_Fault_UserException:
        e->kind = EXIT_USER_EXCEPTION;
        e->pc = seL4_GetMR(seL4_UserException_FaultIP);
        e->label = seL4_GetMR(seL4_UserException_Number);
        e->code = seL4_GetMR(seL4_UserException_Code);
        break;
    default:
        e->kind = EXIT_UNKNOWN;
        e->label = label;
        break;
    }
}

seL4_Bool vmm_microkit_fault(struct vm *vm, microkit_child child, microkit_msginfo msginfo,
                             microkit_msginfo *reply_msginfo)
{
    /* Each exit kind fills the fields its handlers read (not zeroed: this runs on every exit). */
    struct vm_exit e;
    struct exit_reply r;
    decode_fault(child, msginfo, &e);
    ipc_buffer_reused = false;
    vm_handle_exit(vm, &e, &r);
    if (r.set_hvc_regs) {
        if (ipc_buffer_reused)
            copy_x0_x7(&seL4_GetIPCBuffer()->msg[seL4_UnknownSyscall_X0], e.x);
        seL4_SetMR(seL4_UnknownSyscall_X0, r.x0);
        /* The reply sets registers in this order; stopping after the PC leaves SP, ELR and
         * SPSR as they are (the restart PC wins over ELR anyway). */
        seL4_SetMR(seL4_UnknownSyscall_FaultIP, r.pc);
        *reply_msginfo = microkit_msginfo_new(0, seL4_UnknownSyscall_FaultIP + 1);
    } else {
        *reply_msginfo = microkit_msginfo_new(0, 0);
    }
    return r.resume;
}
