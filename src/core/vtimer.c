/* The guest's virtual timer as the VMM samples it: seL4 saves CNTV_* per vCPU, and the timer's
 * condition (enabled, not masked, compare value reached) is its interrupt line's level. */
#include <vmm/vm.h>

#define CNTV_CTL_ENABLE 1u
#define CNTV_CTL_IMASK 2u

uint64_t vm_vtimer_deadline(unsigned vcpu)
{
    uint64_t ctl = hyp_vcpu_read_sysreg(vcpu, VCPU_CNTV_CTL);
    if ((ctl & (CNTV_CTL_ENABLE | CNTV_CTL_IMASK)) != CNTV_CTL_ENABLE)
        return 0;
    uint64_t d =
        hyp_vcpu_read_sysreg(vcpu, VCPU_CNTV_CVAL) + hyp_vcpu_read_sysreg(vcpu, VCPU_CNTVOFF);
    return d ? d : 1;
}

bool vm_vtimer_level(unsigned vcpu, unsigned irq, void *cookie)
{
    (void)irq;
    (void)cookie;
    uint64_t d = vm_vtimer_deadline(vcpu);
    return d && d <= hyp_counter_now();
}
