/* Data aborts without a syndrome: instruction decoding, stage-1 walks, emulation. */
#include <string.h>
#include <vmm/esr.h>
#include <vmm/insn.h>

#include "fixture.h"
#include "sim_hyp.h"
#include "test.h"

/* Encodings from aarch64-linux-gnu-as. */
TEST(insn_decode_pairs)
{
    struct ldst d;
    CHECK(insn_decode_ldst(0xa9410861, &d)); /* ldp x1, x2, [x3, #16] */
    CHECK(d.load && d.pair && d.dest64 && !d.writeback);
    CHECK_EQ(d.size, 8);
    CHECK_EQ(d.rt, 1);
    CHECK_EQ(d.rt2, 2);
    CHECK_EQ(d.rn, 3);
    CHECK_EQ(d.offset, 16);
    CHECK(insn_decode_ldst(0x29bf14c4, &d)); /* stp w4, w5, [x6, #-8]! */
    CHECK(!d.load && d.pair && d.writeback && !d.post_index);
    CHECK_EQ(d.size, 4);
    CHECK_EQ(d.offset, -8);
    CHECK(insn_decode_ldst(0x69400861, &d)); /* ldpsw x1, x2, [x3] */
    CHECK(d.sign_extend && d.dest64);
    CHECK_EQ(d.size, 4);
}

TEST(insn_decode_single)
{
    struct ldst d;
    CHECK(insn_decode_ldst(0xf8408507, &d)); /* ldr x7, [x8], #8 */
    CHECK(d.load && d.writeback && d.post_index && d.dest64);
    CHECK_EQ(d.offset, 8);
    CHECK(insn_decode_ldst(0x39c00549, &d)); /* ldrsb w9, [x10, #1] */
    CHECK(d.sign_extend && !d.dest64);
    CHECK_EQ(d.size, 1);
    CHECK_EQ(d.offset, 1);
    CHECK(insn_decode_ldst(0xb86d798b, &d)); /* ldr w11, [x12, x13, lsl #2] */
    CHECK(d.reg_offset);
    CHECK_EQ(d.rm, 13);
    CHECK_EQ(insn_extend_offset(&d, 3), 12);
    CHECK(insn_decode_ldst(0xf85f0fee, &d)); /* ldr x14, [sp, #-16]! */
    CHECK_EQ(d.rn, 31);
    CHECK(d.writeback && !d.post_index);
    CHECK_EQ(d.offset, -16);
    CHECK(insn_decode_ldst(0xb85fc2b4, &d)); /* ldur w20, [x21, #-4] */
    CHECK(!d.writeback);
    CHECK_EQ(d.offset, -4);
    CHECK(insn_decode_ldst(0x79000ef6, &d)); /* strh w22, [x23, #6] */
    CHECK(!d.load);
    CHECK_EQ(d.size, 2);
    CHECK_EQ(d.offset, 6);
    CHECK(insn_decode_ldst(0xb8badb38, &d)); /* ldrsw x24, [x25, w26, sxtw #2] */
    CHECK(d.sign_extend && d.dest64 && d.reg_offset);
    CHECK_EQ(insn_extend_offset(&d, 0xffffffffu), (uint64_t)-4);
}

TEST(insn_decode_refuses_others)
{
    struct ldst d;
    CHECK(!insn_decode_ldst(0xf9800000, &d)); /* prfm */
    CHECK(!insn_decode_ldst(0xc85f7c20, &d)); /* ldxr */
    CHECK(!insn_decode_ldst(0x3dc00020, &d)); /* ldr q0 */
    CHECK(!insn_decode_ldst(0x58000000, &d)); /* ldr literal */
    CHECK(!insn_decode_ldst(0xd503201f, &d)); /* nop */
}

static void put32(uint64_t ipa, uint32_t v)
{
    memcpy(fx.ram + (ipa - FX_RAM_BASE), &v, 4);
}
static void put64(uint64_t ipa, uint64_t v)
{
    memcpy(fx.ram + (ipa - FX_RAM_BASE), &v, 8);
}

/* A data abort on the distributor with ISV=0, from the instruction at pc. */
static void no_syndrome(uint64_t pc, uint64_t ipa, int write, struct exit_reply *r)
{
    sim.vcpu[0].regs.pc = pc;
    struct vm_exit e = { .kind = EXIT_VM_FAULT,
                         .vcpu = 0,
                         .pc = pc,
                         .addr = ipa,
                         .esr = (uint64_t)ESR_EC_DABT_LOW << 26 | (unsigned)write << 6 | 0x07 };
    fx_exit(&e, r);
}

TEST(insn_emulate_ldp_from_distributor_mmu_off)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    uint64_t pc = FX_RAM_BASE + 0x200000;
    /* A 32-bit pair: TYPER and IIDR, each zero-extended into its register. */
    uint32_t typer = fx_gicd_read(0, 0x4), iidr = fx_gicd_read(0, 0x8);
    CHECK_EQ(iidr, 0x0200043b);
    put32(pc, 0x29400861); /* ldp w1, w2, [x3] */
    sim.vcpu[0].regs.x[1] = 0x1111111111111111ull;
    sim.vcpu[0].regs.x[2] = 0x2222222222222222ull;
    sim.vcpu[0].regs.x[3] = FX_GICD + 0x4;
    no_syndrome(pc, FX_GICD + 0x4, 0, &r);
    CHECK(r.resume);
    CHECK_EQ(sim.vcpu[0].regs.x[1], typer);
    CHECK_EQ(sim.vcpu[0].regs.x[2], iidr);
    CHECK_EQ(sim.vcpu[0].regs.pc, pc + 4);
    /* A 64-bit pair at offset 4: 8-byte accesses are not valid GICv2 accesses; both read zero. */
    put32(pc, 0xa9410861); /* ldp x1, x2, [x3, #16] */
    sim.vcpu[0].regs.x[1] = 0x1111111111111111ull;
    sim.vcpu[0].regs.x[2] = 0x2222222222222222ull;
    sim.vcpu[0].regs.x[3] = FX_GICD + 0x4 - 16;
    no_syndrome(pc, FX_GICD + 0x4, 0, &r);
    CHECK(r.resume);
    CHECK_EQ(sim.vcpu[0].regs.x[1], 0);
    CHECK_EQ(sim.vcpu[0].regs.x[2], 0);
    CHECK_EQ(sim.vcpu[0].regs.pc, pc + 4);
    put32(pc, 0x29bf14c4); /* stp w4, w5, [x6, #-8]! : enable registers 0x100 and 0x104 */
    sim.vcpu[0].regs.x[4] = 0x3;
    sim.vcpu[0].regs.x[5] = 0x6;
    sim.vcpu[0].regs.x[6] = FX_GICD + 0x108;
    no_syndrome(pc, FX_GICD + 0x100, 1, &r);
    CHECK(r.resume);
    CHECK_EQ(fx_gicd_read(0, 0x100), 0x3);
    CHECK_EQ(fx_gicd_read(0, 0x104), 0x6);
    CHECK_EQ(sim.vcpu[0].regs.x[6], FX_GICD + 0x100); /* written back */
}

TEST(insn_emulate_post_index_load_and_sign_extension)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    uint64_t pc = FX_RAM_BASE + 0x200000;
    fx_gicd_access(0, 0x400 + 41, 1, 1, 0x80);
    put32(pc, 0x39c00549); /* ldrsb w9, [x10, #1] */
    sim.vcpu[0].regs.x[9] = 0x9999999999999999ull;
    sim.vcpu[0].regs.x[10] = FX_GICD + 0x400 + 40;
    no_syndrome(pc, FX_GICD + 0x400 + 41, 0, &r);
    CHECK_EQ(sim.vcpu[0].regs.x[9], 0xffffff80u); /* sign-extended to 32 bits, upper half zero */
    put32(pc, 0xf8408507); /* ldr x7, [x8], #8 (64-bit read: not valid, reads zero) */
    sim.vcpu[0].regs.x[7] = 0x7777777777777777ull;
    sim.vcpu[0].regs.x[8] = FX_GICD + 0x8;
    no_syndrome(pc, FX_GICD + 0x8, 0, &r);
    CHECK(r.resume);
    CHECK_EQ(sim.vcpu[0].regs.x[7], 0);
    CHECK_EQ(sim.vcpu[0].regs.x[8], FX_GICD + 0x10); /* post-indexed: written back after */
}

TEST(insn_emulate_sp_writeback_el1h)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    uint64_t pc = FX_RAM_BASE + 0x200000;
    put32(pc, 0xf85f0fee); /* ldr x14, [sp, #-16]! */
    sim.vcpu[0].regs.spsr = 0x3c5;
    sim.vcpu[0].regs.x[14] = 0xeeeeeeeeeeeeeeeeull;
    sim.vcpu[0].sysreg[VCPU_SP_EL1] = 0x8000018;
    no_syndrome(pc, FX_GICD + 0x8, 0, &r);
    CHECK(r.resume);
    CHECK_EQ(sim.vcpu[0].regs.x[14], 0); /* 64-bit read of the distributor: zero */
    CHECK_EQ(sim.vcpu[0].sysreg[VCPU_SP_EL1], 0x8000008);
}

/* With the guest's MMU on, the instruction is found through its stage-1 tables. */
TEST(insn_fetch_through_stage1_tables)
{
    struct exit_reply r;
    CHECK(fx_boot(1));
    uint64_t l0 = FX_RAM_BASE + 0x300000, l1 = l0 + 0x1000, l2 = l0 + 0x2000, l3 = l0 + 0x3000;
    uint64_t code = FX_RAM_BASE + 0x205000;
    uint64_t va = 0xffff000012345000ull;
    put64(l0 + ((va >> 39) & 0x1ff) * 8, l1 | 3);
    put64(l1 + ((va >> 30) & 0x1ff) * 8, l2 | 3);
    put64(l2 + ((va >> 21) & 0x1ff) * 8, l3 | 3);
    put64(l3 + ((va >> 12) & 0x1ff) * 8, code | 0x703);
    put64(l3 + (((va >> 12) + 1) & 0x1ff) * 8, FX_GICD | 0x703); /* the distributor after it */
    put32(code + 0x10, 0x79000ef6);                              /* strh w22, [x23, #6] */
    sim.vcpu[0].sctlr = 0x30d0199d;
    sim.vcpu[0].sysreg[VCPU_TCR_EL1] = 16ull << 16 | 2ull << 30 | 16;
    sim.vcpu[0].sysreg[VCPU_TTBR1_EL1] = l0;
    sim.vcpu[0].regs.x[22] = 0xa8;
    sim.vcpu[0].regs.x[23] = va + 0x1000 + 0x400 + 36 - 6;
    no_syndrome(va + 0x10, FX_GICD + 0x400 + 36, 1, &r);
    CHECK(r.resume);
    CHECK_EQ(fx_gicd_access(0, 0x400 + 36, 2, 0, 0), 0xa8);
    /* An unmapped PC: the instruction cannot be fetched, the guest takes an abort. */
    no_syndrome(va + 0x100000, FX_GICD + 0x400, 1, &r);
    CHECK(sim_console_has("cannot be emulated"));
}

/* A guest-physical memory of 1 MiB at 0x40000000 for walking hand-built tables. */
#define WALK_BASE 0x40000000ull
static uint64_t walk_mem[(1u << 20) / 8];

static bool walk_read(void *ctx, uint64_t ipa, uint64_t *value)
{
    (void)ctx;
    if (ipa < WALK_BASE || ipa + 8 > WALK_BASE + sizeof(walk_mem) || (ipa & 7))
        return false;
    *value = walk_mem[(ipa - WALK_BASE) / 8];
    return true;
}

static void walk_put(uint64_t ipa, uint64_t value)
{
    walk_mem[(ipa - WALK_BASE) / 8] = value;
}

#define MMU_ON 1u

TEST(stage1_64k_granule_three_levels_and_block)
{
    memset(walk_mem, 0, sizeof(walk_mem));
    /* TTBR0, 48-bit VA, TG0 = 64 KiB: levels 1 (6 bits), 2 and 3 (13 bits each). */
    uint64_t tcr = 16 | 1ull << 14;
    uint64_t l1 = WALK_BASE, l2 = WALK_BASE + 0x10000, l3 = WALK_BASE + 0x20000;
    uint64_t va = 0x0000923456789abcull, ipa;
    walk_put(l1 + ((va >> 42) & 0x3f) * 8, l2 | 3);
    walk_put(l2 + ((va >> 29) & 0x1fff) * 8, l3 | 3);
    walk_put(l3 + ((va >> 16) & 0x1fff) * 8, 0x8765430000ull | 0x703);
    CHECK(s1_translate(va, MMU_ON, tcr, l1, 0, walk_read, NULL, &ipa));
    CHECK_EQ(ipa, 0x8765430000ull | (va & 0xffff));
    /* A 512 MiB block at level 2. */
    uint64_t vb = 0x0000000123456789ull;
    walk_put(l1 + ((vb >> 42) & 0x3f) * 8, l2 | 3);
    walk_put(l2 + ((vb >> 29) & 0x1fff) * 8, 0x1c0000000ull | 0x701);
    CHECK(s1_translate(vb, MMU_ON, tcr, l1, 0, walk_read, NULL, &ipa));
    CHECK_EQ(ipa, 0x1c0000000ull | (vb & 0x1fffffff));
    /* A block descriptor at level 1 is not valid with 64 KiB pages (no FEAT_LPA here). */
    walk_put(l1 + ((vb >> 42) & 0x3f) * 8, 0x40000000000ull | 0x701);
    CHECK(!s1_translate(vb, MMU_ON, tcr, l1, 0, walk_read, NULL, &ipa));
}

TEST(stage1_16k_granule_four_levels_ttbr1)
{
    memset(walk_mem, 0, sizeof(walk_mem));
    /* TTBR1, 48-bit VA, TG1 = 16 KiB (encoding 1): levels 0 (1 bit), 1, 2, 3 (11 bits each). */
    uint64_t tcr = 16ull << 16 | 1ull << 30;
    uint64_t l0 = WALK_BASE, l1 = l0 + 0x4000, l2 = l0 + 0x8000, l3 = l0 + 0xc000;
    uint64_t va = 0xffff8a1234567abcull, ipa;
    walk_put(l0 + ((va >> 47) & 1) * 8, l1 | 3);
    walk_put(l1 + ((va >> 36) & 0x7ff) * 8, l2 | 3);
    walk_put(l2 + ((va >> 25) & 0x7ff) * 8, l3 | 3);
    walk_put(l3 + ((va >> 14) & 0x7ff) * 8, 0x5554000ull | 0x703);
    CHECK(s1_translate(va, MMU_ON, tcr, 0, l0, walk_read, NULL, &ipa));
    CHECK_EQ(ipa, 0x5554000ull | (va & 0x3fff));
    /* TTBR0 of the same TCR still uses TG0 = 4 KiB (0) and is unmapped here. */
    CHECK(!s1_translate(0x1000, MMU_ON, tcr | 16, l0, 0, walk_read, NULL, &ipa));
}

TEST(stage1_small_first_table_and_reserved_granule)
{
    memset(walk_mem, 0, sizeof(walk_mem));
    /* 4 KiB granule, 25-bit VA (TSZ 39): starts at level 2 with a 16-entry (128-byte) table,
     * which TTBR may place at any 128-byte boundary. */
    uint64_t tcr = 39, l2 = WALK_BASE + 0x80, l3 = WALK_BASE + 0x1000, ipa;
    uint64_t va = 0x1234567;
    walk_put(l2 + ((va >> 21) & 0xf) * 8, l3 | 3);
    walk_put(l3 + ((va >> 12) & 0x1ff) * 8, 0x42000000ull | 0x703);
    CHECK(s1_translate(va, MMU_ON, tcr, l2 | 1 /* CnP */, 0, walk_read, NULL, &ipa));
    CHECK_EQ(ipa, 0x42000000ull | 0x567);
    /* TG1 = 0 is reserved: no walk. */
    CHECK(!s1_translate(0xffffffffff000000ull, MMU_ON, 39ull << 16, 0, l2, walk_read, NULL, &ipa));
}

/* Data accesses: the top byte is ignored where TCR_EL1.TBI0/1 say (bit 55 picks the half), with
 * the MMU off too; the leaf's access flag and permissions are checked. */
TEST(stage1_data_access_tbi_and_permissions)
{
    memset(walk_mem, 0, sizeof(walk_mem));
    uint64_t ipa, tbi0 = 1ull << 37, tbi1 = 1ull << 38;
    CHECK(s1_translate_data(0x5a00000040001000ull, 0, tbi0, 0, 0, 0, walk_read, NULL, &ipa));
    CHECK_EQ(ipa, 0x40001000);
    CHECK(s1_translate_data(0x5a00000040001000ull, 0, 0, 0, 0, 0, walk_read, NULL, &ipa));
    CHECK_EQ(ipa, 0x5a00000040001000ull); /* no TBI: the tag is part of the (bad) address */
    /* TTBR1, 4 KiB granule, 39-bit VA: levels 1-3; a tagged upper-half address with TBI1. */
    uint64_t tcr = 25ull << 16 | 2ull << 30 | tbi1;
    uint64_t l1 = WALK_BASE, l2 = l1 + 0x1000, l3 = l1 + 0x2000;
    uint64_t va = 0xffffffc012345678ull;
    walk_put(l1 + ((va >> 30) & 0x1ff) * 8, l2 | 3);
    walk_put(l2 + ((va >> 21) & 0x1ff) * 8, l3 | 3);
    walk_put(l3 + ((va >> 12) & 0x1ff) * 8, 0x48000000ull | 0x403);
    uint64_t tagged = (va & ~(0xffull << 56)) | 0x3cull << 56;
    CHECK(s1_translate_data(tagged, MMU_ON, tcr, 0, l1, 0, walk_read, NULL, &ipa));
    CHECK_EQ(ipa, 0x48000678);
    CHECK(!s1_translate_data(tagged, MMU_ON, tcr & ~tbi1, 0, l1, 0, walk_read, NULL, &ipa));
    /* EL1 read/write, EL0 nothing (AP 00). */
    CHECK(s1_translate_data(va, MMU_ON, tcr, 0, l1, S1_WRITE, walk_read, NULL, &ipa));
    CHECK(!s1_translate_data(va, MMU_ON, tcr, 0, l1, S1_EL0, walk_read, NULL, &ipa));
    /* Read-only for both (AP 11): EL0 reads, nobody writes; PAN keeps EL1 out. */
    walk_put(l3 + ((va >> 12) & 0x1ff) * 8, 0x48000000ull | 0x4c3);
    CHECK(s1_translate_data(va, MMU_ON, tcr, 0, l1, S1_EL0, walk_read, NULL, &ipa));
    CHECK(!s1_translate_data(va, MMU_ON, tcr, 0, l1, S1_EL0 | S1_WRITE, walk_read, NULL, &ipa));
    CHECK(!s1_translate_data(va, MMU_ON, tcr, 0, l1, S1_WRITE, walk_read, NULL, &ipa));
    CHECK(!s1_translate_data(va, MMU_ON, tcr, 0, l1, S1_PAN, walk_read, NULL, &ipa));
    /* APTable[1] in the level-1 entry: no writes below it, unless TCR_EL1.HPD1. */
    walk_put(l3 + ((va >> 12) & 0x1ff) * 8, 0x48000000ull | 0x403);
    walk_put(l1 + ((va >> 30) & 0x1ff) * 8, l2 | 3 | 1ull << 62);
    CHECK(s1_translate_data(va, MMU_ON, tcr, 0, l1, 0, walk_read, NULL, &ipa));
    CHECK(!s1_translate_data(va, MMU_ON, tcr, 0, l1, S1_WRITE, walk_read, NULL, &ipa));
    CHECK(s1_translate_data(va, MMU_ON, tcr | 1ull << 42, 0, l1, S1_WRITE, walk_read, NULL, &ipa));
    /* Access flag clear. */
    walk_put(l3 + ((va >> 12) & 0x1ff) * 8, 0x48000000ull | 0x003);
    CHECK(!s1_translate_data(va, MMU_ON, tcr | 1ull << 42, 0, l1, 0, walk_read, NULL, &ipa));
    CHECK(s1_translate(va, MMU_ON, tcr, 0, l1, walk_read, NULL, &ipa)); /* fetches: no checks */
}
