/* AArch64 instruction decoding for data aborts without a syndrome, and guest address
 * translation to fetch the faulting instruction. */
#ifndef VMM_INSN_H
#define VMM_INSN_H

#include <stdbool.h>
#include <stdint.h>

/* A decoded general-purpose load or store. */
struct ldst {
    bool load;
    bool pair;        /* LDP/STP: rt at the address, rt2 at address + size */
    unsigned size;    /* bytes per register: 1, 2, 4, 8 */
    bool sign_extend; /* LDRS*, LDPSW */
    bool dest64;      /* the destination is an X register */
    unsigned rt, rt2, rn;
    int64_t offset;  /* immediate offset (already scaled) */
    bool writeback;  /* pre- or post-index: rn is updated */
    bool post_index; /* the access uses rn, then rn += offset */
    bool reg_offset; /* address = rn + extend(rm) << shift */
    unsigned rm, extend, shift;
};

/* Decode LDR/STR/LDRB/LDRH/LDRS{B,H,W}/LDUR/STUR (immediate, register, pre/post-index) and
 * LDP/STP/LDPSW. False for anything else (SIMD registers, exclusives, atomics, ...). */
bool insn_decode_ldst(uint32_t insn, struct ldst *d);

/* The register offset's contribution (extend and shift applied). */
uint64_t insn_extend_offset(const struct ldst *d, uint64_t rm_value);

/* Translate a guest virtual address with the guest's stage-1 tables (4, 16 or 64 KiB granule),
 * reading table entries through `read_ipa`. False if unmapped or not walkable. */
typedef bool (*ipa_reader_fn)(void *ctx, uint64_t ipa, uint64_t *value);
bool s1_translate(uint64_t va, uint64_t sctlr, uint64_t tcr, uint64_t ttbr0, uint64_t ttbr1,
                  ipa_reader_fn read_ipa, void *ctx, uint64_t *ipa);

/* The same for a data access the guest makes, checked as its stage 1 would: top byte ignored
 * (TCR_EL1.TBI0/1), the access flag, and the permissions of the leaf and of the tables above it
 * (APTable, unless TCR_EL1.HPD0/1) for an EL0 or EL1 access, a read or a write, under PSTATE.PAN.
 * False if the tables do not let this access reach an IPA. `access` is a set of S1_* flags. */
#define S1_WRITE 1u
#define S1_EL0 2u
#define S1_PAN 4u
bool s1_translate_data(uint64_t va, uint64_t sctlr, uint64_t tcr, uint64_t ttbr0, uint64_t ttbr1,
                       unsigned access, ipa_reader_fn read_ipa, void *ctx, uint64_t *ipa);

#endif
