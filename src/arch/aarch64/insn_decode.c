/*
 * Decoding the AArch64 general-purpose load/store instructions, for data aborts that arrive
 * without an instruction syndrome (ISV=0): pairs, pre/post-indexed forms with write-back.
 */
#include <vmm/insn.h>

static int64_t sign_extend(uint64_t v, unsigned bits)
{
    uint64_t m = UINT64_C(1) << (bits - 1);
    return (int64_t)((v ^ m) - m);
}

/* LDR/STR/LDRS* of one register: unsigned offset, unscaled, pre/post-index, register offset. */
static bool decode_single(uint32_t insn, struct ldst *d)
{
    unsigned size = insn >> 30, opc = (insn >> 22) & 3;
    d->size = 1u << size;
    d->pair = false;
    d->rt = insn & 0x1f;
    d->rn = (insn >> 5) & 0x1f;
    d->load = opc != 0;
    d->sign_extend = opc >= 2;
    d->dest64 = size == 3 || opc == 2;
    if (opc >= 2 && (size == 3 || (size == 2 && opc == 3)))
        return false; /* PRFM and unallocated encodings */
    d->writeback = false;
    d->post_index = false;
    d->reg_offset = false;
    if ((insn >> 24 & 3) == 1) { /* unsigned immediate, scaled */
        d->offset = (int64_t)(((insn >> 10) & 0xfff) << size);
        return true;
    }
    if ((insn >> 24 & 3) != 0)
        return false;
    if (insn & (1u << 21)) { /* register offset */
        if (((insn >> 10) & 3) != 2)
            return false;
        unsigned option = (insn >> 13) & 7;
        if (!(option & 2))
            return false; /* UXTB/UXTH/SXTB/SXTH are unallocated here */
        d->reg_offset = true;
        d->rm = (insn >> 16) & 0x1f;
        d->extend = option;
        d->shift = (insn & (1u << 12)) ? size : 0;
        d->offset = 0;
        return true;
    }
    d->offset = sign_extend((insn >> 12) & 0x1ff, 9);
    switch ((insn >> 10) & 3) {
    case 0: return true; /* LDUR/STUR */
    case 1: d->writeback = d->post_index = true; return true;
    case 3: d->writeback = true; return true;
    default: return false; /* LDTR/STTR: unprivileged, not emulated */
    }
}

static bool decode_pair(uint32_t insn, struct ldst *d)
{
    unsigned opc = insn >> 30, mode = (insn >> 23) & 3;
    if (opc == 3 || mode == 0)
        return false; /* 128-bit or no-allocate pairs */
    d->pair = true;
    d->load = (insn >> 22) & 1;
    d->sign_extend = opc == 1;
    if (d->sign_extend && !d->load)
        return false;
    d->size = opc == 2 ? 8 : 4;
    d->dest64 = opc != 0;
    d->rt = insn & 0x1f;
    d->rt2 = (insn >> 10) & 0x1f;
    d->rn = (insn >> 5) & 0x1f;
    d->offset = sign_extend((insn >> 15) & 0x7f, 7) * (int64_t)d->size;
    d->reg_offset = false;
    d->writeback = mode != 2;
    d->post_index = mode == 1;
    return true;
}

bool insn_decode_ldst(uint32_t insn, struct ldst *d)
{
    /* op0 x1x0: loads and stores; bit 26 (V) set means SIMD&FP registers, not handled. */
    if ((insn & 0x0a000000u) != 0x08000000u || (insn & (1u << 26)))
        return false;
    unsigned op = (insn >> 27) & 7;
    if (op == 7)
        return decode_single(insn, d);
    if (op == 5)
        return decode_pair(insn, d);
    return false; /* exclusives, literal loads, atomics */
}

uint64_t insn_extend_offset(const struct ldst *d, uint64_t rm_value)
{
    uint64_t v;
    switch (d->extend) {
    case 2: v = (uint32_t)rm_value; break;                   /* UXTW */
    case 6: v = (uint64_t)(int64_t)(int32_t)rm_value; break; /* SXTW */
    default: v = rm_value; break;                            /* LSL (UXTX), SXTX */
    }
    return v << d->shift;
}
