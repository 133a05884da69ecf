/* ESR_EL2 decoding: exception classes, data abort syndromes, fault status codes. */
#include <vmm/esr.h>

const char *esr_class_name(unsigned ec)
{
    switch (ec) {
    case ESR_EC_UNKNOWN: return "unknown reason";
    case ESR_EC_WFX: return "WFI/WFE";
    case ESR_EC_CP15_32:
    case ESR_EC_CP15_64: return "AArch32 CP15 access";
    case ESR_EC_CP14_MR:
    case ESR_EC_CP14_LS:
    case ESR_EC_CP14_64: return "AArch32 CP14 access";
    case ESR_EC_FP_ASIMD: return "FP/SIMD access";
    case ESR_EC_CP10_ID: return "AArch32 CP10 ID access";
    case ESR_EC_ILLEGAL: return "illegal execution state";
    case ESR_EC_SVC32:
    case ESR_EC_SVC64: return "SVC";
    case ESR_EC_HVC32:
    case ESR_EC_HVC64: return "HVC";
    case ESR_EC_SMC32:
    case ESR_EC_SMC64: return "SMC";
    case ESR_EC_SYSREG: return "MSR/MRS system register access";
    case ESR_EC_IABT_LOW: return "instruction abort (lower EL)";
    case ESR_EC_IABT_CUR: return "instruction abort (same EL)";
    case ESR_EC_PC_ALIGN: return "PC alignment fault";
    case ESR_EC_DABT_LOW: return "data abort (lower EL)";
    case ESR_EC_DABT_CUR: return "data abort (same EL)";
    case ESR_EC_SP_ALIGN: return "SP alignment fault";
    case ESR_EC_SERROR: return "SError";
    case ESR_EC_BRK64: return "BRK";
    default: return "reserved/unhandled class";
    }
}

const char *esr_fsc_name(unsigned fsc)
{
    switch (fsc & 0x3c) {
    case 0x00: return "address size fault";
    case 0x04: return "translation fault";
    case 0x08: return "access flag fault";
    case 0x0c: return "permission fault";
    default: break;
    }
    switch (fsc) {
    case 0x10: return "synchronous external abort";
    case 0x18: return "synchronous parity/ECC error";
    case 0x21: return "alignment fault";
    case 0x30: return "TLB conflict abort";
    default: return "other fault";
    }
}

void esr_decode_sysreg(uint64_t esr, struct sysreg_access *out)
{
    uint32_t iss = esr_iss(esr);
    out->op0 = (iss >> 20) & 3;
    out->op2 = (iss >> 17) & 7;
    out->op1 = (iss >> 14) & 7;
    out->crn = (iss >> 10) & 0xf;
    out->rt = (iss >> 5) & 0x1f;
    out->crm = (iss >> 1) & 0xf;
    out->read = iss & 1;
}
