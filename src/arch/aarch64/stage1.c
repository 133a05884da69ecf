/* Walking a guest's stage-1 translation tables (4 KiB granule) to find the IPA of a virtual
 * address, e.g. of the instruction that caused a data abort without a syndrome. */
#include <vmm/insn.h>

#define OA_MASK UINT64_C(0x0000fffffffff000)
#define SCTLR_M 1u

bool s1_translate(uint64_t va, uint64_t sctlr, uint64_t tcr, uint64_t ttbr0, uint64_t ttbr1,
                  ipa_reader_fn read_ipa, void *ctx, uint64_t *ipa)
{
    if (!(sctlr & SCTLR_M)) {
        *ipa = va;
        return true;
    }
    bool upper = va >> 63;
    unsigned tsz = upper ? (tcr >> 16) & 0x3f : tcr & 0x3f;
    unsigned granule = upper ? (tcr >> 30) & 3 : (tcr >> 14) & 3;
    bool disabled = upper ? (tcr >> 23) & 1 : (tcr >> 7) & 1;
    if (disabled || granule != (upper ? 2u : 0u) || tsz < 16 || tsz > 39)
        return false; /* walks disabled, or a 16/64 KiB granule this walker does not do */
    unsigned ia = 64 - tsz;
    uint64_t top = va >> ia;
    if (top != (upper ? (UINT64_C(1) << (64 - ia)) - 1 : 0))
        return false; /* outside the region this TTBR translates */
    uint64_t table = (upper ? ttbr1 : ttbr0) & UINT64_C(0x0000fffffffffffe);
    unsigned level = ia > 39 ? 0 : ia > 30 ? 1 : 2; /* ia is at least 25 (tsz <= 39) */
    for (bool first = true; level <= 3; level++, first = false) {
        unsigned shift = 39 - 9 * level;
        uint64_t index = (va >> shift) & (first ? (UINT64_C(1) << (ia - shift)) - 1 : 0x1ff);
        uint64_t desc;
        if (!read_ipa(ctx, table + index * 8, &desc) || !(desc & 1))
            return false;
        if (level == 3) {
            if ((desc & 3) != 3)
                return false;
            *ipa = (desc & OA_MASK) | (va & 0xfff);
            return true;
        }
        if ((desc & 3) == 1) { /* block */
            if (level == 0)
                return false;
            uint64_t size = UINT64_C(1) << shift;
            *ipa = (desc & OA_MASK & ~(size - 1)) | (va & (size - 1));
            return true;
        }
        table = desc & OA_MASK;
    }
    return false;
}
