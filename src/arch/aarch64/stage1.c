/* Walking a guest's stage-1 translation tables (4, 16 or 64 KiB granule, 48-bit addresses) to
 * find the IPA of a virtual address, e.g. of the instruction that caused a data abort without a
 * syndrome. */
#include <vmm/insn.h>

#define SCTLR_M 1u
#define PA_MASK UINT64_C(0x0000ffffffffffff)

/* log2 of the granule TCR_EL1.TG0/TG1 selects (the two fields encode sizes differently); 0 if
 * reserved. */
static unsigned granule_shift(bool upper, unsigned tg)
{
    static const unsigned char tg0[4] = { 12, 16, 14, 0 }, tg1[4] = { 0, 14, 12, 16 };
    return upper ? tg1[tg & 3] : tg0[tg & 3];
}

bool s1_translate(uint64_t va, uint64_t sctlr, uint64_t tcr, uint64_t ttbr0, uint64_t ttbr1,
                  ipa_reader_fn read_ipa, void *ctx, uint64_t *ipa)
{
    if (!(sctlr & SCTLR_M)) {
        *ipa = va;
        return true;
    }
    bool upper = va >> 63;
    unsigned tsz = upper ? (tcr >> 16) & 0x3f : tcr & 0x3f;
    unsigned g = granule_shift(upper, upper ? (unsigned)(tcr >> 30) : (unsigned)(tcr >> 14));
    bool disabled = upper ? (tcr >> 23) & 1 : (tcr >> 7) & 1;
    if (disabled || !g || tsz < 16 || tsz > 39)
        return false;
    unsigned ia = 64 - tsz;
    uint64_t top = va >> ia;
    if (top != (upper ? (UINT64_C(1) << (64 - ia)) - 1 : 0))
        return false; /* outside the region this TTBR translates */
    /* Each level resolves g - 3 bits above the page offset; the first level takes what is left. */
    unsigned stride = g - 3, levels = (ia - g + stride - 1) / stride;
    uint64_t oa_mask = PA_MASK & ~((UINT64_C(1) << g) - 1);
    /* The first table may be smaller than a granule; TTBR holds it aligned to its own size. */
    unsigned first_bits = ia - (g + stride * (levels - 1));
    uint64_t table = (upper ? ttbr1 : ttbr0) & PA_MASK & ~((UINT64_C(8) << first_bits) - 1);
    for (unsigned level = 4 - levels; level <= 3; level++) {
        unsigned shift = g + stride * (3 - level);
        unsigned bits = ia - shift < stride ? ia - shift : stride;
        uint64_t index = (va >> shift) & ((UINT64_C(1) << bits) - 1);
        uint64_t desc;
        if (!read_ipa(ctx, table + index * 8, &desc) || !(desc & 1))
            return false;
        if (level == 3) {
            if ((desc & 3) != 3)
                return false;
            *ipa = (desc & oa_mask) | (va & ((UINT64_C(1) << g) - 1));
            return true;
        }
        if ((desc & 3) == 1) {
            /* A block: at level 2, or level 1 with the 4 KiB granule (others need FEAT_LPA). */
            if (!(level == 2 || (level == 1 && g == 12)))
                return false;
            uint64_t size = UINT64_C(1) << shift;
            *ipa = (desc & PA_MASK & ~(size - 1)) | (va & (size - 1));
            return true;
        }
        table = desc & oa_mask;
    }
    return false;
}
