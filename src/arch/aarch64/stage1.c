/* Walking a guest's stage-1 translation tables (4, 16 or 64 KiB granule, 48-bit addresses) to
 * find the IPA of a virtual address: the instruction that caused a data abort without a syndrome,
 * and each address that instruction accesses (with the permissions the tables give it). */
#include <vmm/insn.h>

#define SCTLR_M 1u
#define PA_MASK UINT64_C(0x0000ffffffffffff)
#define TOP_BYTE UINT64_C(0xff00000000000000)
#define TCR_TBI0 (UINT64_C(1) << 37)
#define TCR_TBI1 (UINT64_C(1) << 38)
#define TCR_HPD0 (UINT64_C(1) << 41)
#define TCR_HPD1 (UINT64_C(1) << 42)
#define DESC_AP_EL0 (UINT64_C(1) << 6) /* AP[1]: EL0 may access */
#define DESC_AP_RO (UINT64_C(1) << 7)  /* AP[2]: read-only */
#define DESC_AF (UINT64_C(1) << 10)
#define APTABLE_NO_EL0 1u   /* APTable[0], bit 61 of a table descriptor */
#define APTABLE_NO_WRITE 2u /* APTable[1], bit 62 */

/* Where a walk ends: the output address, the leaf descriptor, and the APTable limits of the
 * tables above it. */
struct walk {
    uint64_t ipa, leaf;
    unsigned aptable;
};

/* log2 of the granule TCR_EL1.TG0/TG1 selects (the two fields encode sizes differently); 0 if
 * reserved. */
static unsigned granule_shift(bool upper, unsigned tg)
{
    static const unsigned char tg0[4] = { 12, 16, 14, 0 }, tg1[4] = { 0, 14, 12, 16 };
    return upper ? tg1[tg & 3] : tg0[tg & 3];
}

static bool walk_tables(uint64_t va, uint64_t tcr, uint64_t ttbr0, uint64_t ttbr1,
                        ipa_reader_fn read_ipa, void *ctx, struct walk *out)
{
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
    out->aptable = 0;
    for (unsigned level = 4 - levels; level <= 3; level++) {
        unsigned shift = g + stride * (3 - level);
        unsigned bits = ia - shift < stride ? ia - shift : stride;
        uint64_t index = (va >> shift) & ((UINT64_C(1) << bits) - 1);
        uint64_t desc;
        if (!read_ipa(ctx, table + index * 8, &desc) || !(desc & 1))
            return false;
        out->leaf = desc;
        if (level == 3) {
            if ((desc & 3) != 3)
                return false;
            out->ipa = (desc & oa_mask) | (va & ((UINT64_C(1) << g) - 1));
            return true;
        }
        if ((desc & 3) == 1) {
            /* A block: at level 2, or level 1 with the 4 KiB granule (others need FEAT_LPA). */
            if (!(level == 2 || (level == 1 && g == 12)))
                return false;
            uint64_t size = UINT64_C(1) << shift;
            out->ipa = (desc & PA_MASK & ~(size - 1)) | (va & (size - 1));
            return true;
        }
        out->aptable |= (unsigned)(desc >> 61) & 3;
        table = desc & oa_mask;
    }
    return false;
}

bool s1_translate(uint64_t va, uint64_t sctlr, uint64_t tcr, uint64_t ttbr0, uint64_t ttbr1,
                  ipa_reader_fn read_ipa, void *ctx, uint64_t *ipa)
{
    struct walk w;
    if (!(sctlr & SCTLR_M)) {
        *ipa = va;
        return true;
    }
    if (!walk_tables(va, tcr, ttbr0, ttbr1, read_ipa, ctx, &w))
        return false;
    *ipa = w.ipa;
    return true;
}

bool s1_translate_data(uint64_t va, uint64_t sctlr, uint64_t tcr, uint64_t ttbr0, uint64_t ttbr1,
                       unsigned access, ipa_reader_fn read_ipa, void *ctx, uint64_t *ipa)
{
    bool mmu = sctlr & SCTLR_M, upper = (va >> 55) & 1;
    /* Top byte ignored: bit 55 selects the TTBR, the tag takes no part in translation. With the
     * MMU off the address is the IPA, tag removed. */
    if (tcr & (upper ? TCR_TBI1 : TCR_TBI0))
        va = mmu && upper ? va | TOP_BYTE : va & ~TOP_BYTE;
    if (!mmu) {
        *ipa = va;
        return true;
    }
    struct walk w;
    if (!walk_tables(va, tcr, ttbr0, ttbr1, read_ipa, ctx, &w))
        return false;
    bool el0_ok = w.leaf & DESC_AP_EL0, read_only = w.leaf & DESC_AP_RO;
    if (!(tcr & (upper ? TCR_HPD1 : TCR_HPD0))) {
        el0_ok = el0_ok && !(w.aptable & APTABLE_NO_EL0);
        read_only = read_only || (w.aptable & APTABLE_NO_WRITE);
    }
    /* An access flag of 0 is a fault to the guest (or, with TCR_EL1.HA, the hardware would set
     * it, which the VMM does not do behind the guest's back): either way not for the VMM. */
    if (!(w.leaf & DESC_AF))
        return false;
    if ((access & S1_WRITE) && read_only)
        return false;
    if (access & S1_EL0 ? !el0_ok : (access & S1_PAN) && el0_ok)
        return false;
    *ipa = w.ipa;
    return true;
}
