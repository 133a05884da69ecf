/* Injecting a synchronous external abort into an AArch64 guest, as hardware would take it. */
#include <vmm/esr.h>
#include <vmm/log.h>
#include <vmm/vm.h>

#define SPSR_M_AARCH32 (1u << 4)
#define SPSR_SPSEL 1u
#define FSC_SYNC_EXTERNAL 0x10u
#define ISS_FNV (1u << 10) /* FAR not valid: the VMM knows the IPA, not the virtual address */
#define ISS_WNR (1u << 6)
#define ESR_IL (1u << 25)

bool vm_inject_abort(struct vm *vm, unsigned vcpu, bool instruction, bool write)
{
    struct vcpu_regs regs;
    if (vcpu >= vm->cfg->num_vcpus || !hyp_vcpu_read_regs(vcpu, &regs, 3))
        return false;
    if (regs.spsr & SPSR_M_AARCH32) {
        LOG_LIMITED(&vm->log.trap, "unhandled traps and faults", LOG_ERROR, "fault",
                    "vCPU %u: AArch32 guest state; cannot inject an abort", vcpu);
        return false;
    }
    bool from_el0 = ((regs.spsr >> 2) & 3) == 0;
    uint64_t offset = from_el0 ? 0x400 : (regs.spsr & SPSR_SPSEL) ? 0x200 : 0x000;
    unsigned ec = instruction ? (from_el0 ? ESR_EC_IABT_LOW : ESR_EC_IABT_CUR)
                              : (from_el0 ? ESR_EC_DABT_LOW : ESR_EC_DABT_CUR);
    uint64_t esr = (uint64_t)ec << 26 | ESR_IL | ISS_FNV | FSC_SYNC_EXTERNAL |
                   (!instruction && write ? ISS_WNR : 0);
    hyp_vcpu_write_sysreg(vcpu, VCPU_ESR_EL1, esr);
    hyp_vcpu_write_sysreg(vcpu, VCPU_FAR_EL1, 0);
    hyp_vcpu_write_sysreg(vcpu, VCPU_ELR_EL1, regs.pc);
    hyp_vcpu_write_sysreg(vcpu, VCPU_SPSR_EL1, regs.spsr);
    regs.pc = hyp_vcpu_read_sysreg(vcpu, VCPU_VBAR_EL1) + offset;
    regs.spsr = GUEST_BOOT_SPSR; /* EL1h, D, A, I, F masked */
    return hyp_vcpu_write_regs(vcpu, &regs, 3);
}
