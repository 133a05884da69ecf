/*
 * seL4's floor for the interrupt paths bench/irq_latency.py measures: a Microkit PD that owns the
 * bare-metal test guest's VM (2 vCPUs) and does, on each path, only the kernel calls the path
 * needs. It runs the guest's interrupt-latency benchmark alone (x0 = LAT_FLOOR_MAGIC at entry; the
 * guest then leaves the distributor alone but for GICD_SGIR). Not part of the product: it emulates
 * nothing else, trusts its guest, and keeps its list-register bookkeeping to what the benchmark
 * uses.
 *
 * The kernel calls per path:
 *   virtual timer:   VPPI fault -> InjectIRQ -> reply (ReplyRecv)
 *   physical timer:  notification -> InjectIRQ -> Recv; the IRQ stays masked until the EOI
 *   after a WFI:     the same, after the wake-up: the timer's notification, WriteRegisters (PC,
 *                    resume), and for the virtual timer an IRQ acknowledgement combined with the
 *                    Recv (NBSendRecv, Microkit's deferred ack)
 *   SGI:             the sender's stage-2 fault on GICD_SGIR -> ReadRegisters (up to Rt) ->
 *                    InjectIRQ into the receiver [-> WriteRegisters (PC, resume) if it sleeps] ->
 *                    WriteRegisters (the sender's PC) -> reply
 *   finishing:       maintenance fault -> AckVPPI (virtual timer) or IRQ ack (physical timer) ->
 *                    reply
 * A WFI with nothing pending leaves the fault unanswered (the next Recv makes the vCPU inactive),
 * with the physical timer armed for the virtual timer's deadline if that is set.
 */
#include <microkit.h>
#include <stdbool.h>
#include <stdint.h>

#define GUEST_RAM 0x40000000ul
#define GUEST_ENTRY 0x40080000ul
#define GUEST_SPSR 0x3c5ul /* EL1h, DAIF masked */
#define FLOOR_MAGIC 0x464c4f4f52ul
#define GICD_SGIR 0x08000f00ul
#define NUM_VCPUS 2u
#define NUM_LRS 4u
#define TIMER_CHANNEL 2u /* INTID 30, the EL1 physical timer */
#define VTIMER_IRQ 27u
#define PTIMER_IRQ 30u

#define PSCI_CPU_OFF 0x84000002ul
#define PSCI_CPU_ON 0xc4000003ul
#define PSCI_SYSTEM_OFF 0x84000008ul

#define ESR_EC(esr) ((esr) >> 26)
#define EC_WFX 0x01u
#define EC_SMC64 0x17u

uintptr_t guest_ram_vaddr __attribute__((section(".data")));
extern const char floor_guest[], floor_guest_end[];

static bool asleep[NUM_VCPUS];
static seL4_Word wake_pc[NUM_VCPUS];
static int timer_for = -1; /* the vCPU whose virtual timer deadline the physical timer carries */
static uint16_t lr_irq[NUM_VCPUS][NUM_LRS];
static uint8_t lr_used[NUM_VCPUS];

/* Transfer index of xN in seL4's register order (pc, sp, spsr, x0-x8, x16-x18, x29, x30, x9-x15,
 * x19-x28, ...). */
static unsigned reg_index(unsigned n)
{
    if (n <= 8)
        return 3 + n;
    if (n >= 16 && n <= 18)
        return 12 + (n - 16);
    if (n == 29 || n == 30)
        return 15 + (n - 29);
    if (n <= 15)
        return 17 + (n - 9);
    return 24 + (n - 19);
}

/* TCB_ReadRegisters of the first `count` words into words[]. */
static void read_regs(unsigned vcpu, unsigned count, seL4_Word *words)
{
    seL4_Word mr[4] = { 0, count, 0, 0 };
    seL4_CallWithMRs(BASE_VM_TCB_CAP + vcpu, seL4_MessageInfo_new(TCBReadRegisters, 0, 0, 2),
                     &mr[0], &mr[1], &mr[2], &mr[3]);
    for (unsigned i = 0; i < count; i++)
        words[i] = i < 4 ? mr[i] : seL4_GetMR((int)i);
}

/* Word `index` of the registers (reads the first index + 1). */
static seL4_Word read_reg(unsigned vcpu, unsigned index)
{
    seL4_Word words[36];
    read_regs(vcpu, index + 1, words);
    return words[index];
}

/* TCB_WriteRegisters of the first `count` words (pc, sp, spsr, x0, ...). */
static void write_regs(unsigned vcpu, bool resume, unsigned count, const seL4_Word *words)
{
    seL4_Word mr[4] = { resume, count, words[0], count > 1 ? words[1] : 0 };
    for (unsigned i = 2; i < count; i++)
        seL4_SetMR((int)(i + 2), words[i]);
    seL4_CallWithMRs(BASE_VM_TCB_CAP + vcpu,
                     seL4_MessageInfo_new(TCBWriteRegisters, 0, 0, 2 + count), &mr[0], &mr[1],
                     &mr[2], &mr[3]);
}

static void set_pc(unsigned vcpu, seL4_Word pc, bool resume)
{
    write_regs(vcpu, resume, 1, &pc);
}

static void inject(unsigned vcpu, unsigned irq)
{
    unsigned lr = 0;
    while (lr < NUM_LRS && (lr_used[vcpu] & (1u << lr)))
        lr++;
    if (lr == NUM_LRS)
        return;
    lr_used[vcpu] |= (uint8_t)(1u << lr);
    lr_irq[vcpu][lr] = (uint16_t)irq;
    seL4_ARM_VCPU_InjectIRQ(BASE_VCPU_CAP + vcpu, (seL4_Uint16)irq, 0, 0, (seL4_Uint8)lr);
}

static void wake(unsigned vcpu)
{
    asleep[vcpu] = false;
    set_pc(vcpu, wake_pc[vcpu], true);
}

static void ptimer_write(uint64_t cval, uint64_t ctl)
{
    __asm__ volatile("msr cntp_cval_el0, %0; msr cntp_ctl_el0, %1; isb" ::"r"(cval), "r"(ctl));
}

void init(void)
{
    volatile char *to = (volatile char *)(guest_ram_vaddr + (GUEST_ENTRY - GUEST_RAM));
    for (const char *from = floor_guest; from < floor_guest_end; from++)
        *to++ = *from;
    for (unsigned v = 0; v < NUM_VCPUS; v++) {
        microkit_vcpu_arm_write_reg(v, seL4_VCPUReg_VMPIDR_EL2, 0x80000000ul | v);
        microkit_vcpu_arm_write_reg(v, seL4_VCPUReg_SCTLR, 0x30d00838ul);
    }
    ptimer_write(0, 0);
    microkit_irq_ack(TIMER_CHANNEL);
    seL4_Word regs[4] = { GUEST_ENTRY, 0, GUEST_SPSR, FLOOR_MAGIC };
    write_regs(0, true, 4, regs);
}

void notified(microkit_channel ch)
{
    if (ch != TIMER_CHANNEL)
        return;
    if (timer_for >= 0) {
        /* The deadline of a sleeping vCPU's virtual timer. */
        unsigned v = (unsigned)timer_for;
        timer_for = -1;
        ptimer_write(0, 0);
        wake(v);
        microkit_deferred_irq_ack(TIMER_CHANNEL);
        return;
    }
    /* The guest's own physical timer (vCPU 0's): passed through, masked until the EOI. */
    if (asleep[0])
        wake(0);
    inject(0, PTIMER_IRQ);
}

static bool wfx(unsigned vcpu, seL4_Word hsr)
{
    seL4_Word pc = read_reg(vcpu, 0) + 4;
    if (!(hsr & 1)) { /* WFI: sleep until an interrupt or a timer deadline */
        if ((microkit_vcpu_arm_read_reg(vcpu, seL4_VCPUReg_CNTV_CTL) & 3) == 1) {
            timer_for = (int)vcpu;
            ptimer_write(microkit_vcpu_arm_read_reg(vcpu, seL4_VCPUReg_CNTV_CVAL), 1);
        }
        asleep[vcpu] = true;
        wake_pc[vcpu] = pc;
        return false;
    }
    set_pc(vcpu, pc, false);
    return true;
}

/* PSCI over SMC: CPU_ON, CPU_OFF, SYSTEM_OFF; anything else answers NOT_SUPPORTED. */
static bool psci(unsigned vcpu)
{
    seL4_Word r[7]; /* pc, sp, spsr, x0-x3 */
    read_regs(vcpu, 7, r);
    seL4_Word fid = r[3], target = r[4], result = (seL4_Word)-1;
    if (fid == PSCI_CPU_ON && target < NUM_VCPUS) {
        seL4_Word regs[4] = { r[5], 0, GUEST_SPSR, r[6] };
        write_regs((unsigned)target, true, 4, regs);
        result = 0;
    } else if (fid == PSCI_CPU_OFF) {
        microkit_vcpu_stop(vcpu);
        return false;
    } else if (fid == PSCI_SYSTEM_OFF) {
        microkit_dbg_puts("floor: guest powered off\n");
        for (unsigned v = 0; v < NUM_VCPUS; v++)
            microkit_vcpu_stop(v);
        return false;
    }
    seL4_Word regs[4] = { r[0] + 4, r[1], r[2], result };
    write_regs(vcpu, false, 4, regs);
    return true;
}

/* A store to GICD_SGIR sends SGIs; any other stage-2 fault is skipped. */
static bool stage2(unsigned vcpu)
{
    seL4_Word pc = seL4_GetMR(seL4_VMFault_IP), addr = seL4_GetMR(seL4_VMFault_Addr),
              esr = seL4_GetMR(seL4_VMFault_FSR);
    if (addr == GICD_SGIR && (esr & (1u << 24)) && (esr & (1u << 6))) {
        unsigned rt = (esr >> 16) & 0x1f;
        seL4_Word value = rt == 31 ? 0 : read_reg(vcpu, reg_index(rt));
        for (unsigned t = 0; t < NUM_VCPUS; t++) {
            if (!(value & (1u << (16 + t))))
                continue;
            inject(t, value & 0xf);
            if (asleep[t])
                wake(t);
        }
    }
    set_pc(vcpu, pc + 4, false);
    return true;
}

seL4_Bool fault(microkit_child child, microkit_msginfo msginfo, microkit_msginfo *reply)
{
    *reply = microkit_msginfo_new(0, 0);
    if (child >= NUM_VCPUS)
        return seL4_False;
    switch (microkit_msginfo_get_label(msginfo)) {
    case seL4_Fault_VPPIEvent: inject(child, (unsigned)seL4_GetMR(seL4_VPPIEvent_IRQ)); return true;
    case seL4_Fault_VGICMaintenance: {
        seL4_Word lr = seL4_GetMR(seL4_VGICMaintenance_IDX);
        if (lr < NUM_LRS && (lr_used[child] & (1u << lr))) {
            lr_used[child] &= (uint8_t) ~(1u << lr);
            if (lr_irq[child][lr] == VTIMER_IRQ)
                microkit_vcpu_arm_ack_vppi(child, VTIMER_IRQ);
            else if (lr_irq[child][lr] == PTIMER_IRQ)
                microkit_irq_ack(TIMER_CHANNEL);
        }
        return true;
    }
    case seL4_Fault_VMFault: return stage2(child);
    case seL4_Fault_VCPUFault: {
        seL4_Word hsr = seL4_GetMR(seL4_VCPUFault_HSR);
        if (ESR_EC(hsr) == EC_WFX)
            return wfx(child, hsr);
        if (ESR_EC(hsr) == EC_SMC64)
            return psci(child);
        break;
    }
    default: break;
    }
    microkit_dbg_puts("floor: unexpected fault; vCPU stopped\n");
    microkit_vcpu_stop(child);
    return false;
}
