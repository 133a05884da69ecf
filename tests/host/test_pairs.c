/*
 * Load/store pairs (and single writeback loads/stores) that fault without a syndrome and span
 * guest RAM, emulated devices and unmapped space: each element goes where its own address says,
 * with the guest's MMU off and on; anything else is refused with an abort and no side effect.
 */
#include <string.h>
#include <vmm/esr.h>

#include "fixture.h"
#include "sim_hyp.h"
#include "test.h"

/* Encodings from aarch64-linux-gnu-as. */
#define LDP_W1_W2_X0 0x29400801u         /* ldp w1, w2, [x0] */
#define STP_W1_W2_X0 0x29000801u         /* stp w1, w2, [x0] */
#define LDP_X1_X2_X0 0xa9400801u         /* ldp x1, x2, [x0] */
#define STP_X1_X2_X0 0xa9000801u         /* stp x1, x2, [x0] */
#define LDPSW_X1_X2_X0 0x69400801u       /* ldpsw x1, x2, [x0] */
#define LDP_W1_W2_X0_PRE_M8 0x29ff0801u  /* ldp w1, w2, [x0, #-8]! */
#define LDP_W1_W2_X0_POST_16 0x28c20801u /* ldp w1, w2, [x0], #16 */
#define STP_W1_W2_SP_PRE_M8 0x29bf0be1u  /* stp w1, w2, [sp, #-8]! */
#define LDP_W1_W2_SP 0x29400be1u         /* ldp w1, w2, [sp] */
#define LDR_X1_X0_POST_8 0xf8408401u     /* ldr x1, [x0], #8 */
#define STP_WZR_W2_X0 0x2900081fu        /* stp wzr, w2, [x0] */

#define RAM_END (FX_RAM_BASE + FX_RAM_SIZE)
#define CODE (FX_RAM_BASE + 0x200000)
#define VBAR 0x40010000u
#define EL1H 0x3c5u
#define EL1T 0x3c4u
#define EL0T 0x0u
#define SENTINEL 0x1111111111111111ull
#define GICD_CTLR 0x0
#define GICD_TYPER 0x4
#define GICD_CIDR3 0xffc

/* ---- a second emulated device: 8 KiB that read back what was written, any width, unless it is
 * told to refuse every access. It counts the accesses it performed. */
static uint8_t dev_mem[0x2000];
static unsigned dev_accesses;
static bool dev_refusing;

static enum mmio_result dev_access(struct vm *vm, const void *ctx, unsigned vcpu, uint64_t off,
                                   unsigned width, bool write, uint64_t *value)
{
    (void)vm, (void)ctx, (void)vcpu;
    if (dev_refusing || off + width > sizeof(dev_mem))
        return MMIO_ABORT;
    dev_accesses++;
    if (write) {
        for (unsigned i = 0; i < width; i++)
            dev_mem[off + i] = (uint8_t)(*value >> (8 * i));
    } else {
        *value = 0;
        for (unsigned i = 0; i < width; i++)
            *value |= (uint64_t)dev_mem[off + i] << (8 * i);
    }
    return MMIO_OK;
}

static uint32_t dev32(uint64_t off)
{
    uint32_t v;
    memcpy(&v, dev_mem + off, 4);
    return v;
}

static uint64_t dev64(uint64_t off)
{
    uint64_t v;
    memcpy(&v, dev_mem + off, 8);
    return v;
}

/* ---- guest memory and the vCPU --------------------------------------------------------- */

static uint8_t *ram_at(uint64_t ipa)
{
    return fx.ram + (ipa - FX_RAM_BASE);
}
static void put32(uint64_t ipa, uint32_t v)
{
    memcpy(ram_at(ipa), &v, 4);
}
static void put64(uint64_t ipa, uint64_t v)
{
    memcpy(ram_at(ipa), &v, 8);
}
static uint32_t get32(uint64_t ipa)
{
    uint32_t v;
    memcpy(&v, ram_at(ipa), 4);
    return v;
}
static uint64_t get64(uint64_t ipa)
{
    uint64_t v;
    memcpy(&v, ram_at(ipa), 8);
    return v;
}

static uint64_t gicd_base;
static bool mmu; /* the guest's MMU is on (see mmu_on) */

static uint32_t gicd_read(uint64_t off)
{
    return (uint32_t)vgic_v2_dist_read(&fx.vm.gic, 0, off, 4);
}

/* Boot a 2-vCPU VM (GICD_TYPER 0x21) with the distributor at `gicd` and the second device at
 * `dev` (0: none); GICD_CTLR = 3, which no other register of the pair reads. */
static int boot(uint64_t gicd, uint64_t dev)
{
    fx_config(2);
    fx.cfg.gicd_base = gicd;
    gicd_base = gicd;
    mmu = false;
    if (!vm_init(&fx.vm, &fx.cfg, fx.ram) || !vm_boot(&fx.vm))
        return 0;
    if (dev && !vm_add_mmio(&fx.vm, dev, sizeof(dev_mem), "test device", dev_access, NULL))
        return 0;
    memset(dev_mem, 0, sizeof(dev_mem));
    dev_accesses = 0;
    dev_refusing = false;
    vgic_v2_dist_write(&fx.vm.gic, 0, GICD_CTLR, 4, 3);
    struct sim_vcpu *v = &sim.vcpu[0];
    v->regs.spsr = EL1H;
    v->sysreg[VCPU_VBAR_EL1] = VBAR;
    for (unsigned i = 0; i < 31; i++)
        v->regs.x[i] = SENTINEL * (i + 1);
    return gicd_read(GICD_TYPER) == 0x21 && gicd_read(GICD_CTLR) == 3;
}

/* ---- the guest's own stage-1 tables (4 KiB granule, 39-bit VAs, TTBR0) ------------------ *
 * VA window WIN, one 4 KiB page each: see the PG_* indexes. The code runs at WIN + PG_CODE. */
#define WIN 0x10000000ull
#define TABLES (FX_RAM_BASE + 0x300000)
#define L1 TABLES
#define L2 (TABLES + 0x1000)
#define L3 (TABLES + 0x2000)
#define RAM_P (FX_RAM_BASE + 0x400000) /* the RAM page below the distributor's page */
#define RAM_Q (FX_RAM_BASE + 0x401000) /* the RAM page above it */
#define TESTDEV 0x0c000000u            /* the second device when RAM is not next to it */
enum { PG_RAM_P, PG_GICD, PG_RAM_Q, PG_DEV, PG_UNMAPPED_IPA, PG_INVALID, PG_CODE };
#define VA(pg) (WIN + (uint64_t)(pg)*0x1000)
#define PAGE 0x403ull      /* valid page, AF, EL1 read/write, EL0 none */
#define AP_EL0 (1ull << 6) /* EL0 may access */
#define AP_RO (1ull << 7)  /* read-only */
#define APTABLE_NO_EL0 (1ull << 61)
#define TCR_T0SZ_39 25u
#define TCR_TBI0 (1ull << 37)
#define TCR_HPD0 (1ull << 41)
#define SPSR_PAN (1ull << 22)

static void map(unsigned pg, uint64_t ipa, uint64_t attrs)
{
    put64(L3 + pg * 8, ipa | attrs);
}

static void mmu_on(void)
{
    put64(L1 + ((WIN >> 30) & 0x1ff) * 8, L2 | 3);
    put64(L2 + ((WIN >> 21) & 0x1ff) * 8, L3 | 3);
    map(PG_RAM_P, RAM_P, PAGE);
    map(PG_GICD, gicd_base, PAGE);
    map(PG_RAM_Q, RAM_Q, PAGE);
    map(PG_DEV, TESTDEV, PAGE);
    map(PG_UNMAPPED_IPA, 0x0a000000, PAGE);
    map(PG_INVALID, 0, 0);
    map(PG_CODE, CODE, PAGE);
    sim.vcpu[0].sctlr = 0x30d00839; /* the boot value with M set */
    sim.vcpu[0].sysreg[VCPU_TCR_EL1] = TCR_T0SZ_39;
    sim.vcpu[0].sysreg[VCPU_TTBR0_EL1] = L1;
    mmu = true;
}

/* The guest runs `insn`; the hardware reports a stage-2 fault at `fault_ipa` without a syndrome. */
static void run(uint32_t insn, uint64_t fault_ipa, bool write, struct exit_reply *r)
{
    put32(CODE, insn);
    uint64_t pc = mmu ? VA(PG_CODE) : CODE;
    sim.vcpu[0].regs.pc = pc;
    struct vm_exit e = { .kind = EXIT_VM_FAULT,
                         .vcpu = 0,
                         .pc = pc,
                         .addr = fault_ipa,
                         .esr = (uint64_t)ESR_EC_DABT_LOW << 26 | (unsigned)write << 6 | 0x07 };
    memset(r, 0, sizeof(*r));
    fx_exit(&e, r);
}

/* The guest took a synchronous external abort at the instruction (current EL, SP_ELx vector). */
static bool aborted(void)
{
    uint64_t esr = sim.vcpu[0].sysreg[VCPU_ESR_EL1];
    return sim.vcpu[0].regs.pc == VBAR + 0x200 && (esr >> 26) == ESR_EC_DABT_CUR &&
           (esr & 0x3f) == 0x10 && sim.vcpu[0].sysreg[VCPU_ELR_EL1] == (mmu ? VA(PG_CODE) : CODE);
}

static bool emulated(const struct exit_reply *r)
{
    return r->resume && sim.vcpu[0].regs.pc == (mmu ? VA(PG_CODE) : CODE) + 4;
}

/* ---- RAM and the distributor: the sequences ------------------------------------- */

/* ldp w1, w2, [x0] with x0 four bytes below the distributor: w1 from RAM, w2 = GICD_CTLR. */
static void ldp_ram_then_gicd(uint64_t x0, uint64_t ram_word, uint64_t fault)
{
    struct exit_reply r;
    put32(ram_word, 0xa5000ffc);
    sim.vcpu[0].regs.x[0] = x0;
    run(LDP_W1_W2_X0, fault, false, &r);
    CHECK(emulated(&r));
    CHECK_EQ(sim.vcpu[0].regs.x[1], 0xa5000ffc);
    CHECK_EQ(sim.vcpu[0].regs.x[2], 3);  /* GICD_CTLR, not GICD_TYPER (0x21) */
    CHECK_EQ(sim.vcpu[0].regs.x[0], x0); /* no write-back */
    CHECK_EQ(sim.vcpu[0].regs.x[3], SENTINEL * 4);
}

TEST(pair_ldp_ram_and_distributor_mmu_off)
{
    CHECK(boot(RAM_END, 0));
    ldp_ram_then_gicd(RAM_END - 4, RAM_END - 4, RAM_END);
}

TEST(pair_ldp_ram_and_distributor_mmu_on)
{
    CHECK(boot(FX_GICD, 0));
    mmu_on();
    ldp_ram_then_gicd(VA(PG_GICD) - 4, RAM_P + 0xffc, FX_GICD);
}

static void stp_ram_then_gicd(uint64_t x0, uint64_t ram_word, uint64_t fault)
{
    struct exit_reply r;
    put32(ram_word, 0xa5000ffc);
    sim.vcpu[0].regs.x[0] = x0;
    sim.vcpu[0].regs.x[1] = 0xffffffff5a5a0ffcull; /* only the low word is stored */
    sim.vcpu[0].regs.x[2] = 0x100000002ull;
    run(STP_W1_W2_X0, fault, true, &r);
    CHECK(emulated(&r));
    CHECK_EQ(get32(ram_word), 0x5a5a0ffc);
    CHECK_EQ(gicd_read(GICD_CTLR), 2);
    CHECK_EQ(sim.vcpu[0].regs.x[0], x0);
    CHECK_EQ(sim.vcpu[0].regs.x[1], 0xffffffff5a5a0ffcull);
}

TEST(pair_stp_ram_and_distributor_mmu_off)
{
    CHECK(boot(RAM_END, 0));
    stp_ram_then_gicd(RAM_END - 4, RAM_END - 4, RAM_END);
}

TEST(pair_stp_ram_and_distributor_mmu_on)
{
    CHECK(boot(FX_GICD, 0));
    mmu_on();
    stp_ram_then_gicd(VA(PG_GICD) - 4, RAM_P + 0xffc, FX_GICD);
}

/* The faulting element is the first and RAM is the second: the distributor's last word, then the
 * RAM page the guest mapped after it. */
TEST(pair_distributor_then_ram_mmu_on)
{
    struct exit_reply r;
    CHECK(boot(FX_GICD, 0));
    mmu_on();
    put32(RAM_Q, 0xa5001000);
    sim.vcpu[0].regs.x[0] = VA(PG_RAM_Q) - 4;
    run(LDP_W1_W2_X0, FX_GICD + GICD_CIDR3, false, &r);
    CHECK(emulated(&r));
    CHECK_EQ(sim.vcpu[0].regs.x[1], 0xb1); /* CIDR3 */
    CHECK_EQ(sim.vcpu[0].regs.x[2], 0xa5001000);
    sim.vcpu[0].regs.x[2] = 0xc0ffee;
    run(STP_WZR_W2_X0, FX_GICD + GICD_CIDR3, true, &r);
    CHECK(emulated(&r));
    CHECK_EQ(get32(RAM_Q), 0xc0ffee);
}

/* The 64-bit forms and LDPSW (sign extension from both RAM and a device). */
TEST(pair_64bit_ram_and_device_mmu_off)
{
    struct exit_reply r;
    CHECK(boot(FX_GICD, RAM_END));
    put64(RAM_END - 8, 0xa5a5a5a500000ff8ull);
    memcpy(dev_mem, "\x01\x02\x03\x04\x05\x06\x07\x88", 8);
    sim.vcpu[0].regs.x[0] = RAM_END - 8;
    run(LDP_X1_X2_X0, RAM_END, false, &r);
    CHECK(emulated(&r));
    CHECK_EQ(sim.vcpu[0].regs.x[1], 0xa5a5a5a500000ff8ull);
    CHECK_EQ(sim.vcpu[0].regs.x[2], 0x8807060504030201ull);
    CHECK_EQ(dev_accesses, 1);
    sim.vcpu[0].regs.x[1] = 0x0123456789abcdefull;
    sim.vcpu[0].regs.x[2] = 0xfedcba9876543210ull;
    run(STP_X1_X2_X0, RAM_END, true, &r);
    CHECK(emulated(&r));
    CHECK_EQ(get64(RAM_END - 8), 0x0123456789abcdefull);
    CHECK_EQ(dev64(0), 0xfedcba9876543210ull);
    /* LDPSW: RAM 0xa5000ffc and device 0x80000001 are both negative words. */
    put32(RAM_END - 4, 0xa5000ffc);
    memcpy(dev_mem, "\x01\x00\x00\x80", 4);
    sim.vcpu[0].regs.x[0] = RAM_END - 4;
    run(LDPSW_X1_X2_X0, RAM_END, false, &r);
    CHECK(emulated(&r));
    CHECK_EQ(sim.vcpu[0].regs.x[1], 0xffffffffa5000ffcull);
    CHECK_EQ(sim.vcpu[0].regs.x[2], 0xffffffff80000001ull);
}

TEST(pair_64bit_and_ldpsw_ram_and_distributor_mmu_on)
{
    struct exit_reply r;
    CHECK(boot(FX_GICD, 0));
    mmu_on();
    put64(RAM_P + 0xff8, 0xa5a5a5a500000ff8ull);
    sim.vcpu[0].regs.x[0] = VA(PG_GICD) - 8;
    run(LDP_X1_X2_X0, FX_GICD, false, &r);
    CHECK(emulated(&r));
    CHECK_EQ(sim.vcpu[0].regs.x[1], 0xa5a5a5a500000ff8ull);
    CHECK_EQ(sim.vcpu[0].regs.x[2], 0); /* an 8-byte distributor read is not valid: zero */
    put32(RAM_P + 0xffc, 0xa5000ffc);
    sim.vcpu[0].regs.x[0] = VA(PG_GICD) - 4;
    run(LDPSW_X1_X2_X0, FX_GICD, false, &r);
    CHECK(emulated(&r));
    CHECK_EQ(sim.vcpu[0].regs.x[1], 0xffffffffa5000ffcull);
    CHECK_EQ(sim.vcpu[0].regs.x[2], 3);
}

/* ---- two devices, a device and unmapped space ------------------------------------------ */

TEST(pair_two_devices_mmu_off)
{
    struct exit_reply r;
    CHECK(boot(RAM_END, RAM_END + 0x1000)); /* distributor, then the test device */
    memcpy(dev_mem, "\x44\x33\x22\x11", 4);
    /* Whichever element the hardware reports, both go to their own device. */
    for (int which = 0; which < 2; which++) {
        sim.vcpu[0].regs.x[0] = RAM_END + GICD_CIDR3;
        sim.vcpu[0].regs.x[1] = sim.vcpu[0].regs.x[2] = SENTINEL;
        run(LDP_W1_W2_X0, which ? RAM_END + 0x1000 : RAM_END + GICD_CIDR3, false, &r);
        CHECK(emulated(&r));
        CHECK_EQ(sim.vcpu[0].regs.x[1], 0xb1);
        CHECK_EQ(sim.vcpu[0].regs.x[2], 0x11223344);
    }
    sim.vcpu[0].regs.x[0] = RAM_END + GICD_CIDR3; /* read-only, then the device's first word */
    sim.vcpu[0].regs.x[2] = 0x99887766;
    run(STP_W1_W2_X0, RAM_END + 0x1000, true, &r);
    CHECK(emulated(&r));
    CHECK_EQ(dev32(0), 0x99887766);
    CHECK_EQ(dev_accesses, 3);
}

TEST(pair_two_devices_mmu_on)
{
    struct exit_reply r;
    CHECK(boot(FX_GICD, TESTDEV));
    mmu_on();
    map(PG_DEV, TESTDEV, PAGE); /* the device's page right after the RAM page Q */
    map(PG_RAM_Q, FX_GICD, PAGE);
    memcpy(dev_mem, "\x44\x33\x22\x11", 4);
    sim.vcpu[0].regs.x[0] = VA(PG_DEV) - 4;
    run(LDP_W1_W2_X0, TESTDEV, false, &r);
    CHECK(emulated(&r));
    CHECK_EQ(sim.vcpu[0].regs.x[1], 0xb1);
    CHECK_EQ(sim.vcpu[0].regs.x[2], 0x11223344);
}

/* Refused: an abort, no register written, no write-back, no device or RAM access. */
static void refused_pair(uint32_t insn, uint64_t x0, uint64_t fault, bool write)
{
    struct exit_reply r;
    unsigned before = dev_accesses;
    uint32_t ctlr = gicd_read(GICD_CTLR);
    sim.vcpu[0].regs.x[0] = x0;
    sim.vcpu[0].regs.x[1] = 0x5a5a5a5a;
    sim.vcpu[0].regs.x[2] = 0; /* a store reaching GICD_CTLR (3) would show */
    run(insn, fault, write, &r);
    CHECK(r.resume);
    CHECK(aborted());
    CHECK_EQ(sim.vcpu[0].regs.x[0], x0);
    CHECK_EQ(sim.vcpu[0].regs.x[1], 0x5a5a5a5a);
    CHECK_EQ(sim.vcpu[0].regs.x[2], 0);
    CHECK_EQ(dev_accesses, before);
    CHECK_EQ(gicd_read(GICD_CTLR), ctlr);
    CHECK_EQ(fx.vm.state, VM_RUNNING);
}

TEST(pair_device_and_unmapped_refused_mmu_off)
{
    CHECK(boot(FX_GICD, TESTDEV));
    /* The device's last word, then nothing; and nothing, then the device's first word. */
    refused_pair(LDP_W1_W2_X0, TESTDEV + 0x1ffc, TESTDEV + 0x1ffc, false);
    refused_pair(STP_W1_W2_X0, TESTDEV + 0x1ffc, TESTDEV + 0x1ffc, true);
    refused_pair(LDP_W1_W2_X0, TESTDEV - 4, TESTDEV, false);
    refused_pair(STP_W1_W2_X0, TESTDEV - 4, TESTDEV, true);
    CHECK(sim_console_has("not RAM nor one device"));
    /* Nothing, then GICD_CTLR: not written either, and no write-back. */
    refused_pair(STP_W1_W2_X0, FX_GICD - 4, FX_GICD, true);
    refused_pair(LDP_W1_W2_X0_PRE_M8, FX_GICD + 4, FX_GICD, false);
}

TEST(pair_device_and_unmapped_refused_mmu_on)
{
    CHECK(boot(FX_GICD, TESTDEV));
    mmu_on();
    map(PG_UNMAPPED_IPA, TESTDEV, PAGE);
    map(PG_INVALID, 0x0a000000, PAGE);
    /* The device, then a page the guest maps to an IPA nothing answers. */
    refused_pair(STP_W1_W2_X0, VA(PG_INVALID) - 4, TESTDEV + 0xffc, true);
    map(PG_INVALID, 0, 0);
    /* The device, then a page the guest does not map at all. */
    refused_pair(STP_W1_W2_X0, VA(PG_INVALID) - 4, TESTDEV + 0xffc, true);
    CHECK(sim_console_has("not mapped for this access"));
}

/* RAM, then a device that refuses the access: RAM is untouched (devices go first). */
TEST(pair_device_refusal_leaves_ram_untouched)
{
    CHECK(boot(FX_GICD, RAM_END));
    put32(RAM_END - 4, 0xa5000ffc);
    dev_refusing = true;
    refused_pair(STP_W1_W2_X0, RAM_END - 4, RAM_END, true);
    CHECK_EQ(get32(RAM_END - 4), 0xa5000ffc);
    CHECK(sim_console_has("test device refused element 1"));
}

/* ---- elements that straddle, faulting addresses the instruction does not access --------- */

TEST(pair_element_straddling_ram_and_device_refused)
{
    CHECK(boot(RAM_END, 0));
    put64(RAM_END - 12, 0x1234567812345678ull);
    put32(RAM_END - 4, 0xa5000ffc);
    /* ldp x1, x2, [GICD - 12]: the second 8-byte element is half RAM, half distributor. */
    refused_pair(LDP_X1_X2_X0, RAM_END - 12, RAM_END, false);
    refused_pair(STP_X1_X2_X0, RAM_END - 12, RAM_END, true);
    CHECK_EQ(get64(RAM_END - 12), 0x1234567812345678ull);
    CHECK_EQ(get32(RAM_END - 4), 0xa5000ffc);
    /* A single 8-byte load with write-back, half RAM and half distributor. */
    refused_pair(LDR_X1_X0_POST_8, RAM_END - 4, RAM_END, false);
}

TEST(pair_element_straddling_pages_mmu_on)
{
    struct exit_reply r;
    CHECK(boot(FX_GICD, TESTDEV));
    mmu_on();
    put32(RAM_P + 0xffc, 0xa5000ffc);
    /* 8 bytes at VA(PG_GICD) - 4: RAM page P, then the distributor: refused. */
    refused_pair(LDP_X1_X2_X0, VA(PG_GICD) - 4, FX_GICD, false);
    refused_pair(LDR_X1_X0_POST_8, VA(PG_GICD) - 4, FX_GICD, false);
    /* Two virtual pages on contiguous IPAs of one device: an element across them is one
     * access at the device, whichever page the hardware reported. */
    map(PG_DEV, TESTDEV, PAGE);
    map(PG_UNMAPPED_IPA, TESTDEV + 0x1000, PAGE);
    memcpy(dev_mem + 0xffc, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    sim.vcpu[0].regs.x[0] = VA(PG_UNMAPPED_IPA) - 4;
    run(LDR_X1_X0_POST_8, TESTDEV + 0x1000, false, &r);
    CHECK(emulated(&r));
    CHECK_EQ(sim.vcpu[0].regs.x[1], 0x0807060504030201ull);
    CHECK_EQ(sim.vcpu[0].regs.x[0], VA(PG_UNMAPPED_IPA) + 4);
    /* The same pages on IPAs that are not contiguous: refused. */
    map(PG_UNMAPPED_IPA, TESTDEV, PAGE);
    refused_pair(LDR_X1_X0_POST_8, VA(PG_UNMAPPED_IPA) - 4, TESTDEV + 0xffc, false);
}

TEST(pair_fault_address_not_accessed_refused)
{
    CHECK(boot(FX_GICD, 0));
    /* The instruction reads GICD 0x100/0x104, the hardware reported 0x200: the guest's view
     * changed under it; nothing is emulated. */
    refused_pair(LDP_W1_W2_X0, FX_GICD + 0x100, FX_GICD + 0x200, false);
    CHECK(sim_console_has("does not access this address now"));
}

/* ---- write-back and SP -------------------------------------------------------------------- */

TEST(pair_pre_and_post_index_writeback_across_ram_and_distributor)
{
    struct exit_reply r;
    CHECK(boot(RAM_END, 0));
    put32(RAM_END - 4, 0xa5000ffc);
    sim.vcpu[0].regs.x[0] = RAM_END + 4;
    run(LDP_W1_W2_X0_PRE_M8, RAM_END, false, &r); /* accesses RAM_END - 4 and RAM_END */
    CHECK(emulated(&r));
    CHECK_EQ(sim.vcpu[0].regs.x[1], 0xa5000ffc);
    CHECK_EQ(sim.vcpu[0].regs.x[2], 3);
    CHECK_EQ(sim.vcpu[0].regs.x[0], RAM_END - 4);
    run(LDP_W1_W2_X0_POST_16, RAM_END, false, &r); /* the same, then x0 += 16 */
    CHECK(emulated(&r));
    CHECK_EQ(sim.vcpu[0].regs.x[1], 0xa5000ffc);
    CHECK_EQ(sim.vcpu[0].regs.x[0], RAM_END + 12);
}

TEST(pair_sp_base_el1h_and_el1t)
{
    struct exit_reply r;
    CHECK(boot(RAM_END, 0));
    put32(RAM_END - 4, 0xa5000ffc);
    /* EL1h: SP_EL1. stp w1, w2, [sp, #-8]! with SP_EL1 = GICD + 4. */
    sim.vcpu[0].sysreg[VCPU_SP_EL1] = RAM_END + 4;
    sim.vcpu[0].regs.sp = 0x5555;
    sim.vcpu[0].regs.x[1] = 0x12345678;
    sim.vcpu[0].regs.x[2] = 0;
    run(STP_W1_W2_SP_PRE_M8, RAM_END, true, &r);
    CHECK(emulated(&r));
    CHECK_EQ(get32(RAM_END - 4), 0x12345678);
    CHECK_EQ(gicd_read(GICD_CTLR), 0);
    CHECK_EQ(sim.vcpu[0].sysreg[VCPU_SP_EL1], RAM_END - 4);
    CHECK_EQ(sim.vcpu[0].regs.sp, 0x5555);
    /* EL1t: SP_EL0. */
    sim.vcpu[0].regs.spsr = EL1T;
    sim.vcpu[0].regs.sp = RAM_END - 4;
    sim.vcpu[0].sysreg[VCPU_SP_EL1] = 0x6666;
    vgic_v2_dist_write(&fx.vm.gic, 0, GICD_CTLR, 4, 1);
    run(LDP_W1_W2_SP, RAM_END, false, &r);
    CHECK(emulated(&r));
    CHECK_EQ(sim.vcpu[0].regs.x[1], 0x12345678);
    CHECK_EQ(sim.vcpu[0].regs.x[2], 1);
    CHECK_EQ(sim.vcpu[0].regs.sp, RAM_END - 4);
    CHECK_EQ(sim.vcpu[0].sysreg[VCPU_SP_EL1], 0x6666);
}

/* ---- what the guest's stage 1 allows the access -------------------------------------------- */

TEST(pair_el0_cannot_reach_kernel_ram_through_a_device_pair)
{
    struct exit_reply r;
    CHECK(boot(FX_GICD, 0));
    mmu_on();
    sim.vcpu[0].sysreg[VCPU_VBAR_EL1] = VBAR;
    map(PG_GICD, FX_GICD, PAGE | AP_EL0);
    map(PG_CODE, CODE, PAGE | AP_EL0);
    put32(RAM_P + 0xffc, 0x5ec7e7); /* kernel-only */
    sim.vcpu[0].regs.spsr = EL0T;
    sim.vcpu[0].regs.x[0] = VA(PG_GICD) - 4;
    sim.vcpu[0].regs.x[1] = 0x5a5a5a5a;
    run(LDP_W1_W2_X0, FX_GICD, false, &r);
    CHECK(r.resume);
    CHECK_EQ(sim.vcpu[0].regs.pc, VBAR + 0x400); /* lower EL vector: an abort */
    CHECK_EQ(sim.vcpu[0].regs.x[1], 0x5a5a5a5a);
    /* With the RAM page EL0's too, the same pair is emulated. */
    map(PG_RAM_P, RAM_P, PAGE | AP_EL0);
    sim.vcpu[0].regs.spsr = EL0T;
    run(LDP_W1_W2_X0, FX_GICD, false, &r);
    CHECK(emulated(&r));
    CHECK_EQ(sim.vcpu[0].regs.x[1], 0x5ec7e7);
    /* A table descriptor's APTable[0] takes EL0's access away below it, unless TCR.HPD0. */
    put64(L2 + ((WIN >> 21) & 0x1ff) * 8, L3 | 3 | APTABLE_NO_EL0);
    sim.vcpu[0].regs.spsr = EL0T;
    sim.vcpu[0].regs.x[1] = 0x5a5a5a5a;
    run(LDP_W1_W2_X0, FX_GICD, false, &r);
    CHECK_EQ(sim.vcpu[0].regs.pc, VBAR + 0x400);
    CHECK_EQ(sim.vcpu[0].regs.x[1], 0x5a5a5a5a);
    sim.vcpu[0].sysreg[VCPU_TCR_EL1] |= TCR_HPD0;
    sim.vcpu[0].regs.spsr = EL0T;
    run(LDP_W1_W2_X0, FX_GICD, false, &r);
    CHECK(emulated(&r));
    CHECK_EQ(sim.vcpu[0].regs.x[1], 0x5ec7e7);
}

TEST(pair_stage1_read_only_pan_and_access_flag)
{
    CHECK(boot(FX_GICD, 0));
    mmu_on();
    put32(RAM_P + 0xffc, 0xa5000ffc);
    /* A store through a read-only RAM page: refused, RAM and GICD_CTLR unchanged. */
    map(PG_RAM_P, RAM_P, PAGE | AP_RO);
    refused_pair(STP_W1_W2_X0, VA(PG_GICD) - 4, FX_GICD, true);
    CHECK_EQ(get32(RAM_P + 0xffc), 0xa5000ffc);
    /* ... which a load may read. */
    struct exit_reply r;
    sim.vcpu[0].regs.x[0] = VA(PG_GICD) - 4;
    run(LDP_W1_W2_X0, FX_GICD, false, &r);
    CHECK(emulated(&r));
    CHECK_EQ(sim.vcpu[0].regs.x[1], 0xa5000ffc);
    /* EL1 with PSTATE.PAN: a page EL0 may access is out of reach. */
    map(PG_RAM_P, RAM_P, PAGE | AP_EL0);
    sim.vcpu[0].regs.spsr = EL1H | SPSR_PAN;
    refused_pair(LDP_W1_W2_X0, VA(PG_GICD) - 4, FX_GICD, false);
    /* Access flag clear: the guest's own fault to take, not for the VMM to emulate. */
    sim.vcpu[0].regs.spsr = EL1H;
    map(PG_RAM_P, RAM_P, PAGE & ~0x400ull);
    refused_pair(LDP_W1_W2_X0, VA(PG_GICD) - 4, FX_GICD, false);
}

TEST(pair_tagged_address_with_tbi)
{
    struct exit_reply r;
    CHECK(boot(FX_GICD, 0));
    mmu_on();
    put32(RAM_P + 0xffc, 0xa5000ffc);
    uint64_t tagged = 0x5a00000000000000ull | (VA(PG_GICD) - 4);
    refused_pair(LDP_W1_W2_X0, tagged, FX_GICD, false); /* without TBI: not translatable */
    sim.vcpu[0].sysreg[VCPU_TCR_EL1] |= TCR_TBI0;
    sim.vcpu[0].regs.spsr = EL1H;
    sim.vcpu[0].regs.x[0] = tagged;
    run(LDP_W1_W2_X0, FX_GICD, false, &r);
    CHECK(emulated(&r));
    CHECK_EQ(sim.vcpu[0].regs.x[1], 0xa5000ffc);
    CHECK_EQ(sim.vcpu[0].regs.x[2], 3);
}

TEST(pair_stage2_fault_on_a_table_walk_refused)
{
    struct exit_reply r;
    CHECK(boot(FX_GICD, 0));
    sim.vcpu[0].regs.x[0] = FX_GICD;
    sim.vcpu[0].regs.x[1] = 7;
    put32(CODE, LDP_W1_W2_X0);
    sim.vcpu[0].regs.pc = CODE;
    struct vm_exit e = { .kind = EXIT_VM_FAULT,
                         .vcpu = 0,
                         .pc = CODE,
                         .addr = FX_GICD,
                         .esr = (uint64_t)ESR_EC_DABT_LOW << 26 | 1u << 7 | 0x07 };
    fx_exit(&e, &r);
    CHECK(aborted());
    CHECK_EQ(sim.vcpu[0].regs.x[1], 7);
    CHECK(sim_console_has("table walk"));
}
