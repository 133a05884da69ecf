/* PSCI 1.1 / SMCCC 1.1 for the guest: vCPU power, system off and reset, feature discovery. */
#include <vmm/hyp.h>
#include <vmm/log.h>
#include <vmm/psci.h>
#include <vmm/util.h>
#include <vmm/vm.h>

#define MIGRATE_TYPE_NO_TRUSTED_OS 2u

/* Calls a guest may probe that the VMM deliberately does not offer: answered quietly. */
struct known_call {
    uint32_t fid;
    const char *name;
};

static const struct known_call known_unsupported[] = {
    { PSCI_CPU_SUSPEND_32, "CPU_SUSPEND" },
    { PSCI_CPU_SUSPEND_64, "CPU_SUSPEND" },
    { 0xc400000eu, "SYSTEM_SUSPEND" },
    { 0x84000012u, "SYSTEM_RESET2" },
    { 0xc4000012u, "SYSTEM_RESET2" },
    { 0x80000002u, "SMCCC_ARCH_SOC_ID" },
    { 0x8600ff01u, "vendor hypervisor service UID" },
    { 0x84000050u, "TRNG_VERSION" },
    { 0x84000051u, "TRNG_FEATURES" },
    { 0x84000052u, "TRNG_GET_UUID" },
    { 0x84000053u, "TRNG_RND" },
    { 0xc4000053u, "TRNG_RND" },
};

static const char *known_unsupported_name(uint32_t fid)
{
    for (unsigned i = 0; i < ARRAY_SIZE(known_unsupported); i++) {
        if (known_unsupported[i].fid == fid)
            return known_unsupported[i].name;
    }
    return NULL;
}

static const uint32_t supported[] = {
    PSCI_VERSION,          PSCI_CPU_OFF,          PSCI_CPU_ON_32,         PSCI_CPU_ON_64,
    PSCI_AFFINITY_INFO_32, PSCI_AFFINITY_INFO_64, PSCI_MIGRATE_INFO_TYPE, PSCI_SYSTEM_OFF,
    PSCI_SYSTEM_RESET,     PSCI_FEATURES,         SMCCC_VERSION,
};

const char *psci_function_name(uint32_t fid)
{
    switch (fid) {
    case PSCI_VERSION: return "PSCI_VERSION";
    case PSCI_CPU_SUSPEND_32:
    case PSCI_CPU_SUSPEND_64: return "CPU_SUSPEND";
    case PSCI_CPU_OFF: return "CPU_OFF";
    case PSCI_CPU_ON_32:
    case PSCI_CPU_ON_64: return "CPU_ON";
    case PSCI_AFFINITY_INFO_32:
    case PSCI_AFFINITY_INFO_64: return "AFFINITY_INFO";
    case PSCI_MIGRATE_INFO_TYPE: return "MIGRATE_INFO_TYPE";
    case PSCI_SYSTEM_OFF: return "SYSTEM_OFF";
    case PSCI_SYSTEM_RESET: return "SYSTEM_RESET";
    case PSCI_FEATURES: return "PSCI_FEATURES";
    case SMCCC_VERSION: return "SMCCC_VERSION";
    case SMCCC_ARCH_FEATURES: return "SMCCC_ARCH_FEATURES";
    default: return "unknown";
    }
}

/* The affinity fields of an MPIDR (Aff3 in bits 32-39, Aff2-Aff0 in bits 0-23). */
#define MPIDR_AFFINITY_BITS UINT64_C(0xff00ffffff)

/* vCPU index named by a PSCI target (Aff0 = index, higher affinity levels zero), or -1. PSCI
 * requires every bit outside the affinity fields to be zero (bits 24-31 and 40-63). */
static int vcpu_of_mpidr(const struct vm *vm, uint64_t mpidr)
{
    if ((mpidr & ~MPIDR_AFFINITY_BITS) || mpidr >= vm->cfg->num_vcpus)
        return -1;
    return (int)mpidr;
}

static uint64_t ret(int64_t v)
{
    return (uint64_t)v;
}

static uint64_t cpu_on(struct vm *vm, unsigned caller, uint64_t mpidr, uint64_t entry,
                       uint64_t context)
{
    int target = vcpu_of_mpidr(vm, mpidr);
    if (target < 0) {
        LOG_LIMITED(&vm->log.cpu_on, "reports of CPU_ON for MPIDRs this VM does not have", LOG_WARN,
                    "psci", "vCPU %u: CPU_ON for MPIDR 0x%llx, %s: INVALID_PARAMETERS", caller,
                    (unsigned long long)mpidr,
                    (mpidr & ~MPIDR_AFFINITY_BITS) ? "which sets bits PSCI requires to be zero"
                                                   : "which this VM does not have");
        return ret(PSCI_RET_INVALID_PARAMETERS);
    }
    if (vm->power[target] == VCPU_ON)
        return ret(PSCI_RET_ALREADY_ON);
    struct vcpu_regs regs;
    vmm_memset(&regs, 0, sizeof(regs));
    regs.pc = entry;
    regs.spsr = GUEST_BOOT_SPSR;
    regs.x[0] = context;
    if (!hyp_vcpu_write_regs((unsigned)target, &regs, VCPU_REGS_ALL)) {
        LOG_LIMITED(&vm->log.power, "vCPU power reports", LOG_ERROR, "psci",
                    "vCPU %u: CPU_ON could not set up vCPU %d", caller, target);
        return ret(PSCI_RET_INTERNAL_FAILURE);
    }
    vm->power[target] = VCPU_ON;
    LOG_LIMITED(&vm->log.power, "vCPU power reports", LOG_INFO, "psci",
                "vCPU %u: CPU_ON starts vCPU %d at 0x%llx", caller, target,
                (unsigned long long)entry);
    vm_vcpu_run(vm, (unsigned)target, entry);
    return ret(PSCI_RET_SUCCESS);
}

uint64_t vm_psci_call(struct vm *vm, unsigned vcpu, const uint64_t args[4],
                      enum psci_action *action)
{
    uint32_t fid = (uint32_t)args[0];
    bool is32 = !(fid & 0x40000000u);
    uint64_t a1 = is32 ? (uint32_t)args[1] : args[1];
    uint64_t a2 = is32 ? (uint32_t)args[2] : args[2];
    uint64_t a3 = is32 ? (uint32_t)args[3] : args[3];

    *action = PSCI_ACT_RETURN;
    switch (fid) {
    case PSCI_VERSION: return PSCI_VERSION_1_1;
    case PSCI_FEATURES:
        for (unsigned i = 0; i < ARRAY_SIZE(supported); i++) {
            if (supported[i] == (uint32_t)a1)
                return ret(PSCI_RET_SUCCESS);
        }
        return ret(PSCI_RET_NOT_SUPPORTED);
    case PSCI_CPU_ON_32:
    case PSCI_CPU_ON_64: return cpu_on(vm, vcpu, a1, a2, a3);
    case PSCI_CPU_OFF: *action = PSCI_ACT_CPU_OFF; return ret(PSCI_RET_SUCCESS);
    case PSCI_AFFINITY_INFO_32:
    case PSCI_AFFINITY_INFO_64: {
        int target = vcpu_of_mpidr(vm, a1);
        if (target < 0 || a2 != 0)
            return ret(PSCI_RET_INVALID_PARAMETERS);
        return vm->power[target] == VCPU_ON ? 0 : 1;
    }
    case PSCI_MIGRATE_INFO_TYPE: return MIGRATE_TYPE_NO_TRUSTED_OS;
    case PSCI_SYSTEM_OFF: *action = PSCI_ACT_SYSTEM_OFF; return ret(PSCI_RET_SUCCESS);
    case PSCI_SYSTEM_RESET: *action = PSCI_ACT_SYSTEM_RESET; return ret(PSCI_RET_SUCCESS);
    case SMCCC_VERSION: return SMCCC_VERSION_1_1;
    case SMCCC_ARCH_FEATURES:
        /* No CPU errata workarounds are offered; SMCCC_VERSION itself is always there. */
        return (uint32_t)a1 == SMCCC_VERSION ? ret(PSCI_RET_SUCCESS) : ret(PSCI_RET_NOT_SUPPORTED);
    default: {
        const char *known = known_unsupported_name(fid);
        if (known) {
            LOG_LIMITED(&vm->log.smc, "reports of SMC/HVC calls not offered", LOG_DEBUG, "psci",
                        "vCPU %u: %s (0x%08x) is not offered", vcpu, known, fid);
        } else {
            LOG_LIMITED(&vm->log.smc, "reports of SMC/HVC calls not offered", LOG_WARN, "psci",
                        "vCPU %u: unknown SMC/HVC function 0x%08x (x1=0x%llx x2=0x%llx "
                        "x3=0x%llx): answered NOT_SUPPORTED",
                        vcpu, fid, (unsigned long long)a1, (unsigned long long)a2,
                        (unsigned long long)a3);
        }
        return ret(PSCI_RET_NOT_SUPPORTED);
    }
    }
}
