/* AArch64 exception syndrome (ESR_EL2) decoding for the exits seL4 reports to the VMM. */
#ifndef VMM_ESR_H
#define VMM_ESR_H

#include <stdbool.h>
#include <stdint.h>

enum esr_class {
    ESR_EC_UNKNOWN = 0x00,
    ESR_EC_WFX = 0x01,
    ESR_EC_CP15_32 = 0x03,
    ESR_EC_CP15_64 = 0x04,
    ESR_EC_CP14_MR = 0x05,
    ESR_EC_CP14_LS = 0x06,
    ESR_EC_FP_ASIMD = 0x07,
    ESR_EC_CP10_ID = 0x08,
    ESR_EC_CP14_64 = 0x0c,
    ESR_EC_ILLEGAL = 0x0e,
    ESR_EC_SVC32 = 0x11,
    ESR_EC_HVC32 = 0x12,
    ESR_EC_SMC32 = 0x13,
    ESR_EC_SVC64 = 0x15,
    ESR_EC_HVC64 = 0x16,
    ESR_EC_SMC64 = 0x17,
    ESR_EC_SYSREG = 0x18,
    ESR_EC_IABT_LOW = 0x20,
    ESR_EC_IABT_CUR = 0x21,
    ESR_EC_PC_ALIGN = 0x22,
    ESR_EC_DABT_LOW = 0x24,
    ESR_EC_DABT_CUR = 0x25,
    ESR_EC_SP_ALIGN = 0x26,
    ESR_EC_SERROR = 0x2f,
    ESR_EC_BRK64 = 0x3c,
};

static inline unsigned esr_class_of(uint64_t esr)
{
    return (unsigned)(esr >> 26) & 0x3f;
}
static inline bool esr_il32(uint64_t esr)
{
    return (esr >> 25) & 1;
}
static inline uint32_t esr_iss(uint64_t esr)
{
    return (uint32_t)esr & 0x1ffffff;
}

/* Printable name of an exception class ("data abort (lower EL)", ...). */
const char *esr_class_name(unsigned ec);

/* A decoded data abort syndrome. */
struct data_abort {
    bool valid;       /* ISV: the syndrome describes the access */
    bool write;       /* WnR */
    unsigned width;   /* access size in bytes: 1, 2, 4 or 8 */
    bool sign_extend; /* SSE: loads sign-extend to the register width */
    bool reg64;       /* SF: the register is 64-bit (else 32-bit, upper half zeroed) */
    unsigned rt;      /* SRT: register number; 31 means XZR */
    bool acq_rel;     /* AR */
    bool s1ptw;       /* fault on a stage-1 page-table walk */
    bool cache_maint; /* CM */
    unsigned dfsc;    /* fault status code */
};

/* Inline: it runs on every emulated access. */
static inline void esr_decode_data_abort(uint64_t esr, struct data_abort *out)
{
    uint32_t iss = esr_iss(esr);
    out->valid = (iss >> 24) & 1;
    out->width = 1u << ((iss >> 22) & 3);
    out->sign_extend = (iss >> 21) & 1;
    out->rt = (iss >> 16) & 0x1f;
    out->reg64 = (iss >> 15) & 1;
    out->acq_rel = (iss >> 14) & 1;
    out->cache_maint = (iss >> 8) & 1;
    out->s1ptw = (iss >> 7) & 1;
    out->write = (iss >> 6) & 1;
    out->dfsc = iss & 0x3f;
}

/* Printable description of a data/instruction fault status code ("translation fault, level 3"). */
const char *esr_fsc_name(unsigned fsc);

/* Value a load of `width` bytes delivers into the register, with sign extension as the syndrome
 * says. */
static inline uint64_t data_abort_load_value(const struct data_abort *da, uint64_t raw)
{
    unsigned bits = da->width * 8;
    uint64_t v = bits >= 64 ? raw : raw & ((UINT64_C(1) << bits) - 1);
    if (da->sign_extend && bits < 64 && (v >> (bits - 1)) & 1)
        v |= ~UINT64_C(0) << bits;
    if (!da->reg64)
        v &= 0xffffffffu;
    return v;
}

/* WFI/WFE: true for WFE. */
static inline bool esr_wfx_is_wfe(uint64_t esr)
{
    return esr & 1;
}

/* MSR/MRS trap (EC 0x18) fields. */
struct sysreg_access {
    unsigned op0, op1, crn, crm, op2, rt;
    bool read;
};
void esr_decode_sysreg(uint64_t esr, struct sysreg_access *out);

#endif
