/*
 * Bare-metal test guest for the VMM (QEMU virt, GICv2): checks what a guest may rely on and
 * prints one line per check ("check NAME: ok" or "check NAME: FAIL ..."), boots itself through
 * PSCI SYSTEM_RESET a number of times, measures exit costs with the virtual counter, and ends
 * with PSCI SYSTEM_OFF. tests/e2e/baremetal.py reads its output.
 */
#include <stdbool.h>
#include <stdint.h>

#include "guest_io.h"
#include "irq_latency.h"

#define UNMAPPED 0x0a000000ul /* a virtio slot the VM is not given */
/* Outside the image, the DTB and the VMM's reset area: survives SYSTEM_RESET. */
#define RESET_STATE 0x47000000ul
#define RESET_MAGIC 0x5e14c0de
#define RESETS 20

#define PSCI_VERSION 0x84000000ul
#define PSCI_CPU_OFF 0x84000002ul
#define PSCI_CPU_ON 0xc4000003ul
#define PSCI_AFFINITY_INFO 0xc4000004ul
#define PSCI_SYSTEM_OFF 0x84000008ul
#define PSCI_SYSTEM_RESET 0x84000009ul
#define UNKNOWN_FID 0x82000123ul
#define NOT_SUPPORTED ((uint64_t)-1)

extern char _start[];

/* x7 must not name a seL4 system call, or the kernel takes the HVC as one (see README). */
static uint64_t hvc(uint64_t fid)
{
    register uint64_t x0 __asm__("x0") = fid, x7 __asm__("x7") = 0x1234;
    __asm__ volatile("hvc #0"
                     : "+r"(x0), "+r"(x7)
                     :
                     : "x1", "x2", "x3", "x4", "x5", "x6", "x8", "x9", "x10", "x11", "x12", "x13",
                       "x14", "x15", "x16", "x17", "memory");
    return x0;
}

/* ---- exceptions ------------------------------------------------------------------------- */

struct frame {
    uint64_t x[20];
};

static volatile uint64_t sync_count, last_esr;
static volatile uint32_t irq_count[1024];
static volatile uint64_t sgi_seen;
static volatile int64_t race_result[2];
static volatile uint64_t cpu_alive[4], cpu_done[4], sgi_mode, cpu1_timer_wfi_done;
static volatile uint64_t call_seq, call_done;

/* What CPU 1 does with SGI 1 in the SGI benchmarks. */
#define SGI_PING_PONG 1 /* answer CPU 0 with SGI 2 */
#define SGI_CALL 3      /* mark the call done, as a function-call IPI handler would */
#define SGI_STOP 2      /* leave the benchmarks */

void on_sync(struct frame *f);
void on_irq(struct frame *f);
void on_other(struct frame *f);

void on_sync(struct frame *f)
{
    uint64_t esr, elr;
    (void)f;
    __asm__ volatile("mrs %0, esr_el1; mrs %1, elr_el1" : "=r"(esr), "=r"(elr));
    last_esr = esr;
    sync_count++;
    elr += 4; /* skip the access that faulted */
    __asm__ volatile("msr elr_el1, %0" ::"r"(elr));
}

void on_irq(struct frame *f)
{
    (void)f;
    uint32_t iar = *reg32(GICC + 0x0c);
    uint32_t irq = iar & 0x3ff;
    if (irq < 1020) {
        irq_count[irq]++;
        if (irq == 27)
            __asm__ volatile("msr cntv_ctl_el0, xzr; isb");
        if (irq == 30)
            __asm__ volatile("msr cntp_ctl_el0, xzr; isb");
        *reg32(GICC + 0x10) = iar;
        if (irq == 1) {
            sgi_seen++;
            if (sgi_mode == SGI_PING_PONG)
                *reg32(GICD + 0xf00) = 0x1u << 16 | 2; /* answer CPU 0 with SGI 2 */
            if (sgi_mode == SGI_CALL) {
                __asm__ volatile("dmb ish" ::: "memory");
                call_done = call_seq;
            }
        }
    }
}

void on_other(struct frame *f)
{
    (void)f;
    puts_("check exceptions: FAIL unexpected exception vector\n");
    for (;;)
        __asm__ volatile("wfe");
}

static void gic_cpu_init(unsigned cpu)
{
    if (cpu == 0)
        *reg32(GICD + 0x000) = 1;
    *reg32(GICD + 0x100) = 0xffffu | 1u << 27; /* SGIs and the virtual timer */
    *reg32(GICC + 0x004) = 0xff;               /* priority mask */
    *reg32(GICC + 0x000) = 1;
}

static uint64_t vtimer_ctl(void)
{
    uint64_t v;
    __asm__ volatile("isb; mrs %0, cntv_ctl_el0" : "=r"(v));
    return v;
}

static uint64_t ptimer_ctl(void)
{
    uint64_t v;
    __asm__ volatile("isb; mrs %0, cntp_ctl_el0" : "=r"(v));
    return v;
}

/* WFI until the timer whose CTL `ctl` reads has fired (ISTATUS); returns how many WFIs it took. */
static unsigned wfi_until_fired(uint64_t (*ctl)(void))
{
    unsigned wakeups = 0;
    do {
        __asm__ volatile("wfi");
        wakeups++;
    } while (!(ctl() & 4));
    return wakeups;
}

/* ---- a spinlock as Linux's arm64 code waits for one ------------------------------------- *
 * Taking it spins with WFE (SEVL first, then WFE before each try: a WFE that finds no event
 * would sleep until the holder's store clears this CPU's exclusive monitor); waiting for a value
 * is smp_cond_load_acquire's loop (load-acquire, then LDXR to arm the monitor and WFE if the
 * value has not changed). With HCR_EL2.TWE set such a WFE traps to the hypervisor on hardware;
 * QEMU never traps WFE (it treats it as YIELD). */

static void spin_lock(volatile uint32_t *lock)
{
    uint32_t old, failed;
    __asm__ volatile("   sevl\n"
                     "1: wfe\n"
                     "2: ldaxr %w0, [%2]\n"
                     "   cbnz %w0, 1b\n"
                     "   stxr %w1, %w3, [%2]\n"
                     "   cbnz %w1, 2b\n"
                     : "=&r"(old), "=&r"(failed)
                     : "r"(lock), "r"(1u)
                     : "memory");
}

static void spin_unlock(volatile uint32_t *lock)
{
    __asm__ volatile("stlr wzr, [%0]" ::"r"(lock) : "memory");
}

static void store_release(volatile uint64_t *p, uint64_t v)
{
    __asm__ volatile("stlr %0, [%1]" ::"r"(v), "r"(p) : "memory");
}

/* Wait until *p == want, or give up at counter value `give_up`; true if it came. */
static bool wait_until_equal(volatile uint64_t *p, uint64_t want, uint64_t give_up)
{
    for (;;) {
        uint64_t seen;
        __asm__ volatile("ldar %0, [%1]" : "=r"(seen) : "r"(p) : "memory");
        if (seen == want)
            return true;
        if (counter() > give_up)
            return false;
        uint64_t now;
        __asm__ volatile("   sevl\n"
                         "   wfe\n"
                         "   ldxr %0, [%1]\n"
                         "   eor %0, %0, %2\n"
                         "   cbnz %0, 1f\n"
                         "   wfe\n"
                         "1:\n"
                         : "=&r"(now)
                         : "r"(p), "r"(seen)
                         : "memory");
    }
}

#define HANDOFF_ROUNDS 50

static volatile uint32_t handoff_lock;
static volatile uint64_t
    handoff_turn; /* 2i+1: CPU 0 holds the lock in round i; 2i+2: CPU 1 had it */
static volatile uint64_t handoff_shared; /* incremented under the lock by both CPUs */
static volatile uint64_t handoff_ready, handoff_partner_ok;

/* CPU 1's side: each round, wait for CPU 0 to hold the lock, take it after CPU 0, say so. */
static void handoff_partner(void)
{
    uint64_t give_up = counter() + 10 * counter_freq();
    bool ok = true;
    store_release(&handoff_ready, 1);
    for (unsigned i = 0; i < HANDOFF_ROUNDS && ok; i++) {
        ok = wait_until_equal(&handoff_turn, 2 * i + 1, give_up);
        if (!ok)
            break;
        spin_lock(&handoff_lock);
        handoff_shared++;
        spin_unlock(&handoff_lock);
        store_release(&handoff_turn, 2 * i + 2);
    }
    handoff_partner_ok = ok;
}

/* ---- secondary CPUs --------------------------------------------------------------------- */

static volatile uint64_t race_over;

#ifdef DEBUG_STATE_PROBE
static void probe_heartbeat(void);
#endif

static void secondary(unsigned cpu)
{
    cpu_alive[cpu] = 1;
#ifdef DEBUG_STATE_PROBE
    if (cpu == 1)
        probe_heartbeat();
#endif
    if (cpu == 2) {
        /* Stay on until both CPU_ON calls for this CPU have returned. */
        while (!race_over)
            __asm__ volatile("yield");
    }
    if (cpu == 1) {
        /* Races CPU 0 to start CPU 2: exactly one of the two calls may succeed. */
        race_result[1] = (int64_t)smc(PSCI_CPU_ON, 2, (uint64_t)_start, 2);
        /* A WFI on its virtual timer while CPU 0, which owns the physical timer, keeps running:
         * the VMM cannot borrow that timer to wake this one, so WFI must still end. */
        __asm__ volatile(
            "msr cntv_tval_el0, %0; msr cntv_ctl_el0, %1; isb" ::"r"(counter_freq() / 200),
            "r"((uint64_t)1));
        wfi_until_fired(vtimer_ctl);
        __asm__ volatile("msr cntv_ctl_el0, xzr; isb");
        cpu1_timer_wfi_done = 1;
        cpu_done[1] = 1;
        /* Then serves the SGI round-trip benchmark until told to stop. */
        gic_cpu_init(1);
        irqs(true);
        while (!sgi_mode)
            __asm__ volatile("wfi");
        while (sgi_mode != SGI_STOP)
            __asm__ volatile("wfi");
        irqs(false);
        handoff_partner();
    }
    cpu_done[cpu] = 1;
    smc(PSCI_CPU_OFF, 0, 0, 0);
}

/* ---- checks ------------------------------------------------------------------------------ */

static void check_calls(void)
{
    check("smc_unknown_not_supported", smc(UNKNOWN_FID, 1, 2, 3) == NOT_SUPPORTED,
          "x0 =", smc(UNKNOWN_FID, 1, 2, 3));
    check("hvc_unknown_not_supported", hvc(UNKNOWN_FID) == NOT_SUPPORTED, "x0 =", hvc(UNKNOWN_FID));
    check("hvc_psci_version", hvc(PSCI_VERSION) == 0x10001, "x0 =", hvc(PSCI_VERSION));
}

static void check_unmapped(void)
{
    uint64_t before = sync_count;
    uint32_t v = *reg32(UNMAPPED);
    (void)v;
    uint64_t esr = last_esr;
    check("unmapped_read_aborts",
          sync_count == before + 1 && (esr >> 26) == 0x25 && (esr & 0x3f) == 0x10 &&
              (esr & (1u << 10)),
          "esr =", esr);
    before = sync_count;
    *reg32(UNMAPPED + 0x100) = 1;
    esr = last_esr;
    check("unmapped_write_aborts", sync_count == before + 1 && (esr & (1u << 6)), "esr =", esr);
}

static void check_ldp(void)
{
    uint32_t a, b;
    uint64_t addr = GICD + 4;
    __asm__ volatile("ldp %w0, %w1, [%2]" : "=r"(a), "=r"(b) : "r"(addr) : "memory");
    uint32_t typer = *reg32(GICD + 4), iidr = *reg32(GICD + 8);
    check("ldp_emulated_register", a == typer && b == iidr && iidr == 0x0200043b, "got", a);
    uint64_t base = GICD + 0x100;
    uint32_t en0 = 0, en1 = 0;
    __asm__ volatile("ldp %w0, %w1, [%2], #8" : "=r"(en0), "=r"(en1), "+r"(base) : : "memory");
    check("ldp_post_index_writeback", base == GICD + 0x108 && en0 == *reg32(GICD + 0x100),
          "base =", base);
}

/* ---- load/store pairs across RAM, the distributor and unmapped space -------------------- *
 * Without a syndrome the VMM emulates each element where its own address says (RAM, the
 * distributor) or refuses the whole instruction with an abort. With the MMU off no RAM is next
 * to the distributor here, so those pairs meet unmapped space; with the MMU on the guest maps
 * RAM and the distributor side by side (see pair_tables). */

#define PAIR_RAM_P 0x47100000ul /* scratch RAM pages, outside the image, DTB and RESET_STATE */
#define PAIR_RAM_Q 0x47101000ul
#define GICD_TYPER_OFF 0x4
#define GICD_CIDR3_OFF 0xffc
#define SENTINEL1 0x1111111111111111ul
#define SENTINEL2 0x2222222222222222ul

struct pair_result {
    uint64_t x0, x1, x2, aborts, esr;
};

/* Run one of the pair instructions below with x0 = base, x1/x2 = v1/v2, and see what came back
 * and whether the guest took an abort (on_sync skips the instruction). */
#define PAIR_RUN(insn, res, base, v1, v2)                                            \
    do {                                                                             \
        uint64_t before_ = sync_count;                                               \
        register uint64_t x0_ __asm__("x0") = (base), x1_ __asm__("x1") = (v1),      \
                              x2_ __asm__("x2") = (v2);                              \
        __asm__ volatile(insn : "+r"(x0_), "+r"(x1_), "+r"(x2_) : : "x9", "memory"); \
        (res).x0 = x0_;                                                              \
        (res).x1 = x1_;                                                              \
        (res).x2 = x2_;                                                              \
        (res).aborts = sync_count - before_;                                         \
        (res).esr = last_esr;                                                        \
    } while (0)

/* Refused: one synchronous external abort (current EL), nothing written back. */
static bool refused(const struct pair_result *r, uint64_t base)
{
    return r->aborts == 1 && (r->esr >> 26) == 0x25 && (r->esr & 0x3f) == 0x10 && r->x0 == base &&
           r->x1 == SENTINEL1 && r->x2 == SENTINEL2;
}

static void check_pairs_mmu_off(void)
{
    struct pair_result r;
    uint32_t ctlr = *reg32(GICD);
    /* The distributor's last word, then nothing: refused, nothing loaded. */
    PAIR_RUN("ldp w1, w2, [x0]", r, GICD + 0xffc, SENTINEL1, SENTINEL2);
    check("pair_mmu_off_ldp_distributor_then_unmapped_aborts", refused(&r, GICD + 0xffc), "esr",
          r.esr);
    PAIR_RUN("ldp x1, x2, [x0]", r, GICD + 0xff8, SENTINEL1, SENTINEL2);
    check("pair_mmu_off_ldp64_distributor_then_unmapped_aborts", refused(&r, GICD + 0xff8), "x1",
          r.x1);
    PAIR_RUN("ldpsw x1, x2, [x0]", r, GICD + 0xffc, SENTINEL1, SENTINEL2);
    check("pair_mmu_off_ldpsw_distributor_then_unmapped_aborts", refused(&r, GICD + 0xffc), "x1",
          r.x1);
    /* No write-back either. */
    PAIR_RUN("ldp w1, w2, [x0, #8]!", r, GICD + 0xff4, SENTINEL1, SENTINEL2);
    check("pair_mmu_off_pre_index_refused_without_writeback", refused(&r, GICD + 0xff4), "x0",
          r.x0);
    /* Nothing, then GICD_CTLR: refused, and the store does not reach GICD_CTLR. */
    PAIR_RUN("stp w1, w2, [x0]", r, GICD - 4, SENTINEL1, SENTINEL2);
    check("pair_mmu_off_stp_unmapped_then_distributor_aborts",
          refused(&r, GICD - 4) && *reg32(GICD) == ctlr, "GICD_CTLR", *reg32(GICD));
    /* Two distributor words: LDPSW sign-extends a priority word whose top byte is 0x80. */
    *(volatile uint8_t *)(GICD + 0x403) = 0x80;
    uint32_t prio = *reg32(GICD + 0x400);
    PAIR_RUN("ldpsw x1, x2, [x0]", r, GICD + 0x400, SENTINEL1, SENTINEL2);
    check("pair_mmu_off_ldpsw_distributor_sign_extends",
          r.aborts == 0 && (prio >> 24) == 0x80 && r.x1 == (uint64_t)(int64_t)(int32_t)prio &&
              r.x2 == *reg32(GICD + 0x404),
          "x1", r.x1);
    *(volatile uint8_t *)(GICD + 0x403) = 0;
}

/* The guest's stage-1 tables: 4 KiB granule, 39-bit VAs from TTBR0. VA = PA for the devices
 * (2 MiB Device-nGnRnE blocks) and RAM (2 MiB Normal blocks); at PAIR_WIN one 4 KiB page each:
 *   +0x0000 RAM page P   +0x1000 distributor   +0x2000 RAM page Q
 *   +0x3000 distributor  +0x4000 0x08001000 (nothing there)   +0x5000 distributor
 *   +0x6000 not mapped. */
#define PAIR_WIN 0x80000000ul
static uint64_t pt_l1[512] __attribute__((aligned(4096)));
static uint64_t pt_l2_dev[512] __attribute__((aligned(4096)));
static uint64_t pt_l2_ram[512] __attribute__((aligned(4096)));
static uint64_t pt_l2_win[512] __attribute__((aligned(4096)));
static uint64_t pt_l3_win[512] __attribute__((aligned(4096)));

#define PT_TABLE 3ul
#define PT_BLOCK 1ul
#define PT_PAGE 3ul
#define PT_AF (1ul << 10)
#define PT_ATTR_DEVICE (0ul << 2) /* MAIR index 0: Device-nGnRnE */
#define PT_ATTR_NORMAL (1ul << 2) /* MAIR index 1: Normal */
#define PT_XN (3ul << 53)         /* no execution at EL0 or EL1 */
#define PT_DEVICE (PT_AF | PT_ATTR_DEVICE | PT_XN)
#define PT_NORMAL (PT_AF | PT_ATTR_NORMAL | (3ul << 8)) /* inner shareable */
#define SCTLR_M 1ul
#define SCTLR_SA (1ul << 3)

static void pair_tables(void)
{
    pt_l1[0] = (uint64_t)pt_l2_dev | PT_TABLE;
    pt_l1[1] = (uint64_t)pt_l2_ram | PT_TABLE;
    pt_l1[PAIR_WIN >> 30] = (uint64_t)pt_l2_win | PT_TABLE;
    pt_l2_dev[GICD >> 21] = (GICD & ~0x1ffffful) | PT_BLOCK | PT_DEVICE;
    pt_l2_dev[UART >> 21] = (UART & ~0x1ffffful) | PT_BLOCK | PT_DEVICE;
    for (uint64_t i = 0; i < 128; i++) /* 256 MiB of RAM at 1 GiB */
        pt_l2_ram[i] = (0x40000000ul + (i << 21)) | PT_BLOCK | PT_NORMAL;
    pt_l2_win[0] = (uint64_t)pt_l3_win | PT_TABLE;
    pt_l3_win[0] = PAIR_RAM_P | PT_PAGE | PT_NORMAL;
    pt_l3_win[1] = GICD | PT_PAGE | PT_DEVICE;
    pt_l3_win[2] = PAIR_RAM_Q | PT_PAGE | PT_NORMAL;
    pt_l3_win[3] = GICD | PT_PAGE | PT_DEVICE;
    pt_l3_win[4] = (GICD + 0x1000) | PT_PAGE | PT_DEVICE;
    pt_l3_win[5] = GICD | PT_PAGE | PT_DEVICE;
    pt_l3_win[6] = 0;
}

/* MMU on (caches stay off: no cleaning needed when it goes off again); SP alignment checks off
 * for the SP-based pair. Returns the SCTLR_EL1 to restore. */
static uint64_t mmu_on(void)
{
    uint64_t sctlr, mair = 0xfful << 8, tcr = 25 | 1ul << 23 | 1ul << 32; /* EPD1, 36-bit IPS */
    __asm__ volatile("dsb ish; msr mair_el1, %0; msr tcr_el1, %1; msr ttbr0_el1, %2; isb\n"
                     "tlbi vmalle1; dsb nsh; isb" ::"r"(mair),
                     "r"(tcr), "r"((uint64_t)pt_l1)
                     : "memory");
    __asm__ volatile("mrs %0, sctlr_el1" : "=r"(sctlr));
    __asm__ volatile("msr sctlr_el1, %0; isb" ::"r"((sctlr | SCTLR_M) & ~SCTLR_SA) : "memory");
    return sctlr;
}

static void mmu_off(uint64_t sctlr)
{
    __asm__ volatile("dsb ish; msr sctlr_el1, %0; isb; tlbi vmalle1; dsb nsh; isb" ::"r"(sctlr)
                     : "memory");
}

static void check_pairs_mmu_on(void)
{
    struct pair_result r;
    volatile uint32_t *p = reg32(PAIR_RAM_P), *q = reg32(PAIR_RAM_Q);
    volatile uint64_t *p64 = (volatile uint64_t *)PAIR_RAM_P;
    uint32_t ctlr = *reg32(GICD), typer = *reg32(GICD + GICD_TYPER_OFF),
             cidr3 = *reg32(GICD + GICD_CIDR3_OFF);
    pair_tables();
    uint64_t sctlr = mmu_on();
    uint64_t sp_after = 0;

    /* RAM word, then GICD_CTLR (the sequence). */
    p[0x3ff] = 0xa5000ffc;
    PAIR_RUN("ldp w1, w2, [x0]", r, PAIR_WIN + 0xffc, SENTINEL1, SENTINEL2);
    bool ldp_ok = r.aborts == 0 && r.x1 == 0xa5000ffc && r.x2 == ctlr && ctlr != typer;
    uint64_t ldp_x1 = r.x1, ldp_x2 = r.x2;
    /* The same stored: RAM gets w1, GICD_CTLR w2. */
    PAIR_RUN("stp w1, w2, [x0]", r, PAIR_WIN + 0xffc, 0xffffffff5a5a0ffcul, 3);
    uint32_t stored_ram = p[0x3ff], stored_ctlr = *reg32(GICD);
    bool stp_ok = r.aborts == 0 && stored_ram == 0x5a5a0ffc && stored_ctlr == 3;
    *reg32(GICD) = ctlr;
    /* 64-bit: RAM, then an 8-byte distributor access (not valid on GICv2: reads zero). */
    p64[0x1ff] = 0xa5a5a5a500000ff8ul;
    PAIR_RUN("ldp x1, x2, [x0]", r, PAIR_WIN + 0xff8, SENTINEL1, SENTINEL2);
    bool ldp64_ok = r.aborts == 0 && r.x1 == 0xa5a5a5a500000ff8ul && r.x2 == 0;
    uint64_t ldp64_x1 = r.x1;
    /* LDPSW: the RAM word is negative. */
    p[0x3ff] = 0xa5000ffc;
    PAIR_RUN("ldpsw x1, x2, [x0]", r, PAIR_WIN + 0xffc, SENTINEL1, SENTINEL2);
    bool ldpsw_ok = r.aborts == 0 && r.x1 == 0xffffffffa5000ffcul && r.x2 == ctlr;
    uint64_t ldpsw_x1 = r.x1;
    /* The distributor's last word, then RAM: the faulting element is the first. */
    q[0] = 0xa5001000;
    PAIR_RUN("ldp w1, w2, [x0]", r, PAIR_WIN + 0x1ffc, SENTINEL1, SENTINEL2);
    bool ldp_dr_ok = r.aborts == 0 && r.x1 == cidr3 && r.x2 == 0xa5001000;
    PAIR_RUN("stp w1, w2, [x0]", r, PAIR_WIN + 0x1ffc, SENTINEL1, 0xc0ffee);
    bool stp_dr_ok = r.aborts == 0 && q[0] == 0xc0ffee;
    /* Post-index write-back, and SP as the base (SP_EL1: this code runs at EL1h). */
    PAIR_RUN("ldp w1, w2, [x0], #8", r, PAIR_WIN + 0xffc, SENTINEL1, SENTINEL2);
    bool post_ok = r.aborts == 0 && r.x0 == PAIR_WIN + 0x1004 && r.x1 == 0xa5000ffc && r.x2 == ctlr;
    PAIR_RUN("mov x9, sp; mov sp, x0; ldp w1, w2, [sp, #-8]!; mov x0, sp; mov sp, x9", r,
             PAIR_WIN + 0x1004, SENTINEL1, SENTINEL2);
    sp_after = r.x0;
    bool sp_ok =
        r.aborts == 0 && sp_after == PAIR_WIN + 0xffc && r.x1 == 0xa5000ffc && r.x2 == ctlr;
    /* The distributor, then a page on nothing, then a page the guest does not map: refused. */
    PAIR_RUN("stp w1, w2, [x0]", r, PAIR_WIN + 0x3ffc, SENTINEL1, SENTINEL2);
    bool unmapped_ipa_ok = refused(&r, PAIR_WIN + 0x3ffc);
    PAIR_RUN("ldp w1, w2, [x0]", r, PAIR_WIN + 0x5ffc, SENTINEL1, SENTINEL2);
    bool unmapped_va_aborts = r.aborts == 1 && r.x1 == SENTINEL1 && r.x2 == SENTINEL2;
    uint64_t unmapped_va_esr = r.esr;

    mmu_off(sctlr);
    check("pair_mmu_on_ldp_ram_then_distributor", ldp_ok, "w1", ldp_x1);
    if (!ldp_ok)
        check("pair_mmu_on_ldp_ram_then_distributor_w2", false, "w2", ldp_x2);
    check("pair_mmu_on_stp_ram_then_distributor", stp_ok, "GICD_CTLR", stored_ctlr);
    if (!stp_ok)
        check("pair_mmu_on_stp_ram_then_distributor_ram", false, "RAM", stored_ram);
    check("pair_mmu_on_ldp64_ram_then_distributor", ldp64_ok, "x1", ldp64_x1);
    check("pair_mmu_on_ldpsw_ram_then_distributor", ldpsw_ok, "x1", ldpsw_x1);
    check("pair_mmu_on_ldp_distributor_then_ram", ldp_dr_ok, "", 0);
    check("pair_mmu_on_stp_distributor_then_ram", stp_dr_ok, "RAM", q[0]);
    check("pair_mmu_on_post_index_writeback", post_ok, "", 0);
    check("pair_mmu_on_sp_base_pre_index", sp_ok, "sp", sp_after);
    check("pair_mmu_on_distributor_then_nothing_aborts", unmapped_ipa_ok, "", 0);
    check("pair_mmu_on_distributor_then_unmapped_page_aborts", unmapped_va_aborts, "esr",
          unmapped_va_esr);
    uint64_t now;
    __asm__ volatile("mrs %0, sctlr_el1" : "=r"(now));
    check("pair_mmu_off_again", now == sctlr && *reg32(GICD) == ctlr, "sctlr", now);
}

static void check_wfi(void)
{
    uint64_t freq = counter_freq();
    /* A timer 20 ms out: WFI sleeps until it fires (one or two wake-ups, not thousands). */
    uint64_t t0 = counter();
    __asm__ volatile("msr cntv_tval_el0, %0; msr cntv_ctl_el0, %1; isb" ::"r"(freq / 50),
                     "r"((uint64_t)1));
    unsigned wakeups = wfi_until_fired(vtimer_ctl);
    uint64_t ticks = counter() - t0;
    check("wfi_sleeps_until_timer", wakeups <= 3 && ticks >= freq / 50, "wake-ups", wakeups);
    irqs(true); /* take the timer interrupt */
    irqs(false);
    check("timer_interrupt_delivered", irq_count[27] >= 1, "count", irq_count[27]);
    /* An already expired timer: WFI returns at once. */
    __asm__ volatile("msr cntv_tval_el0, xzr; msr cntv_ctl_el0, %0; isb" ::"r"((uint64_t)1));
    t0 = counter();
    __asm__ volatile("wfi");
    ticks = counter() - t0;
    check("wfi_expired_timer_returns", ticks < freq / 100, "ticks", ticks);
    irqs(true);
    irqs(false);
}

/* The EL1 physical timer, which seL4 lets the guest program directly and the VMM also needs for
 * its WFI wake-ups: its interrupt (INTID 30) arrives, and its values survive the VMM's use. */
static void check_ptimer(void)
{
    uint64_t freq = counter_freq();
    *reg32(GICD + 0x100) = 1u << 30; /* this vCPU claims the physical timer */
    uint64_t t0 = counter();
    __asm__ volatile("msr cntp_tval_el0, %0; msr cntp_ctl_el0, %1; isb" ::"r"(freq / 50),
                     "r"((uint64_t)1));
    unsigned wakeups = wfi_until_fired(ptimer_ctl);
    uint64_t ticks = counter() - t0;
    check("ptimer_wfi_sleeps_until_timer", wakeups <= 3 && ticks >= freq / 50, "wake-ups", wakeups);
    irqs(true);
    irqs(false);
    check("ptimer_interrupt_delivered", irq_count[30] == 1, "count", irq_count[30]);
    /* Both timers armed: the virtual one ends the WFI 10 ms out; the VMM borrowed the physical
     * one meanwhile and must give back exactly what the guest wrote. */
    uint64_t far;
    __asm__ volatile("isb; mrs %0, cntpct_el0" : "=r"(far));
    far += freq;
    __asm__ volatile("msr cntp_cval_el0, %0; msr cntp_ctl_el0, %1" ::"r"(far), "r"((uint64_t)1));
    __asm__ volatile("msr cntv_tval_el0, %0; msr cntv_ctl_el0, %1; isb" ::"r"(freq / 100),
                     "r"((uint64_t)1));
    wfi_until_fired(vtimer_ctl);
    uint64_t cval;
    __asm__ volatile("mrs %0, cntp_cval_el0" : "=r"(cval));
    check("ptimer_values_kept_across_wfi", cval == far && (ptimer_ctl() & 3) == 1, "cval", cval);
    __asm__ volatile("msr cntp_ctl_el0, xzr; isb");
    irqs(true);
    irqs(false);
    check("ptimer_no_spurious_interrupt", irq_count[30] == 1, "count", irq_count[30]);
}

/* ---- interrupt lines and list registers (issues 12 and 15) -------------------------------- */

#define GICD_ISENABLER 0x100ul
#define GICD_ICENABLER 0x180ul
#define GICD_ISPENDR 0x200ul
#define GICD_ICPENDR 0x280ul
#define GICD_ICACTIVER 0x380ul
#define GICD_IPRIORITYR 0x400ul
#define GICC_PMR 0x004ul

static volatile uint8_t *reg8(uint64_t a)
{
    return (volatile uint8_t *)a;
}

static void set_priority(unsigned irq, uint8_t prio)
{
    *reg8(GICD + GICD_IPRIORITYR + irq) = prio;
}

static void arm_vtimer(uint64_t ticks)
{
    __asm__ volatile("msr cntv_tval_el0, %0; msr cntv_ctl_el0, %1; isb" ::"r"(ticks),
                     "r"((uint64_t)1));
}

static void arm_ptimer(uint64_t ticks)
{
    __asm__ volatile("msr cntp_tval_el0, %0; msr cntp_ctl_el0, %1; isb" ::"r"(ticks),
                     "r"((uint64_t)1));
}

static void set_vtimer_ctl(uint64_t ctl)
{
    __asm__ volatile("msr cntv_ctl_el0, %0; isb" ::"r"(ctl));
}

static void set_ptimer_ctl(uint64_t ctl)
{
    __asm__ volatile("msr cntp_ctl_el0, %0; isb" ::"r"(ctl));
}

/* Busy-wait until the timer condition holds, then a little longer, so the hypervisor has taken
 * the timer's physical interrupt by the time the guest looks at the distributor. */
static bool busy_until_fired(uint64_t (*ctl)(void))
{
    uint64_t end = counter() + counter_freq() / 10;
    while (!(ctl() & 4)) {
        if (counter() > end)
            return false;
    }
    for (volatile unsigned i = 0; i < 20000; i++)
        ;
    return true;
}

/* With interrupts unmasked, wait up to 50 ms for irq_count[irq] to pass `before`. */
static bool delivered_within(unsigned irq, uint32_t before)
{
    uint64_t end = counter() + counter_freq() / 20;
    irqs(true);
    while (irq_count[irq] == before && counter() < end)
        ;
    irqs(false);
    return irq_count[irq] != before;
}

/* Issue 12: a timer that fired while its interrupt was disabled, then was turned off (ENABLE = 0
 * or IMASK = 1), must no longer be pending, and enabling its interrupt must deliver nothing. */
static void level_timer_case(const char *name, unsigned irq, void (*arm)(uint64_t),
                             void (*set_ctl)(uint64_t), uint64_t (*ctl)(void), uint64_t off_ctl)
{
    uint32_t bit = 1u << irq;
    *reg32(GICD + GICD_ICENABLER) = bit;
    arm(counter_freq() / 1000);
    bool fired = busy_until_fired(ctl);
    bool pending_while_firing = (*reg32(GICD + GICD_ISPENDR) & bit) != 0;
    set_ctl(off_ctl);
    uint32_t ispend = *reg32(GICD + GICD_ISPENDR) & bit, icpend = *reg32(GICD + GICD_ICPENDR) & bit;
    uint32_t before = irq_count[irq];
    *reg32(GICD + GICD_ISENABLER) = bit;
    bool none = !delivered_within(irq, before);
    check(name, fired && pending_while_firing && !ispend && !icpend && none,
          "fired/pending-while-firing/ispend/icpend/delivered",
          (uint64_t)fired << 16 | (uint64_t)pending_while_firing << 12 | (uint64_t) !!ispend << 8 |
              (uint64_t) !!icpend << 4 | (uint64_t)!none);
    set_ctl(0);
}

static void check_level_timers(void)
{
    level_timer_case("vtimer_level_drops_when_disabled", 27, arm_vtimer, set_vtimer_ctl, vtimer_ctl,
                     0);
    level_timer_case("vtimer_level_drops_when_masked", 27, arm_vtimer, set_vtimer_ctl, vtimer_ctl,
                     3);
    level_timer_case("ptimer_level_drops_when_disabled", 30, arm_ptimer, set_ptimer_ctl, ptimer_ctl,
                     0);
    level_timer_case("ptimer_level_drops_when_masked", 30, arm_ptimer, set_ptimer_ctl, ptimer_ctl,
                     3);
}

/* Issue 15 (a): the timer at the lowest priority fires with interrupts masked; the guest disarms
 * it, raises its priority and clears its state; then three rounds must each be delivered. */
static void lowest_priority_case(const char *name, unsigned irq, void (*arm)(uint64_t),
                                 void (*set_ctl)(uint64_t), uint64_t (*ctl)(void))
{
    uint32_t bit = 1u << irq;
    set_priority(irq, 0xf8);
    *reg32(GICD + GICD_ISENABLER) = bit;
    arm(counter_freq() / 1000);
    busy_until_fired(ctl);
    set_ctl(0);
    set_priority(irq, 0x80);
    *reg32(GICD + GICD_ICPENDR) = bit;
    *reg32(GICD + GICD_ICACTIVER) = bit;
    unsigned rounds = 0;
    for (unsigned i = 0; i < 3; i++) {
        uint32_t before = irq_count[irq];
        arm(counter_freq() / 1000);
        rounds += delivered_within(irq, before);
    }
    check(name, rounds == 3, "rounds delivered", rounds);
    set_ctl(0);
    set_priority(irq, 0);
}

/* Issue 15 (b) and (c): interrupts the vCPU masks with its priority mask (four SGIs, or four
 * SPIs, below it) must not keep the timer out, and must not turn WFI into a busy loop; once
 * unmasked they are delivered. The same with SPIs at the lowest priority. */
static void masked_interrupts_case(const char *name, bool sgis, uint8_t prio)
{
    unsigned first = sgis ? 3 : 40;
    uint32_t before[4];
    for (unsigned i = 0; i < 4; i++) {
        set_priority(first + i, prio);
        before[i] = irq_count[first + i];
    }
    *reg32(GICC + GICC_PMR) = 0x90;
    set_priority(27, 0x80);
    *reg32(GICD + GICD_ISENABLER) = 1u << 27;
    if (sgis) {
        for (unsigned i = 0; i < 4; i++)
            *reg32(GICD + 0xf00) = 0x2u << 24 | (first + i); /* to this CPU */
    } else {
        *reg32(GICD + GICD_ISENABLER + 4) = 0xfu << 8;
        *reg32(GICD + GICD_ISPENDR + 4) = 0xfu << 8;
    }
    /* The timer, 20 ms out: WFI sleeps until it fires (not thousands of wake-ups). */
    uint32_t timer_before = irq_count[27];
    arm_vtimer(counter_freq() / 50);
    unsigned wakeups = wfi_until_fired(vtimer_ctl);
    bool timer = delivered_within(27, timer_before);
    /* Unmasked (or, at the lowest priority, raised), they all arrive. */
    if (prio == 0xf8) {
        for (unsigned i = 0; i < 4; i++)
            set_priority(first + i, 0x80);
    }
    *reg32(GICC + GICC_PMR) = 0xff;
    irqs(true);
    for (volatile unsigned i = 0; i < 20000; i++)
        ;
    irqs(false);
    unsigned arrived = 0;
    for (unsigned i = 0; i < 4; i++)
        arrived += irq_count[first + i] == before[i] + 1;
    check(name, wakeups <= 3 && timer && arrived == 4, "wakeups/timer/arrived",
          (uint64_t)wakeups << 16 | (uint64_t)timer << 8 | arrived);
    set_vtimer_ctl(0);
    for (unsigned i = 0; i < 4; i++)
        set_priority(first + i, 0);
    set_priority(27, 0);
    if (!sgis)
        *reg32(GICD + GICD_ICENABLER + 4) = 0xfu << 8;
}

static void check_list_registers(void)
{
    lowest_priority_case("lowest_priority_vtimer_recovers", 27, arm_vtimer, set_vtimer_ctl,
                         vtimer_ctl);
    lowest_priority_case("lowest_priority_ptimer_recovers", 30, arm_ptimer, set_ptimer_ctl,
                         ptimer_ctl);
    masked_interrupts_case("masked_sgis_leave_room_for_timer", true, 0xc0);
    masked_interrupts_case("masked_spis_leave_room_for_timer", false, 0xc0);
    masked_interrupts_case("lowest_priority_spis_leave_room_for_timer", false, 0xf8);
}

static void check_cpu_on_race(void)
{
    race_result[1] = 1; /* not a PSCI result: CPU 1 has not answered yet */
    int64_t r = (int64_t)smc(PSCI_CPU_ON, 1, (uint64_t)_start, 1);
    check("cpu_on_success", r == 0, "result", (uint64_t)r);
    check("cpu_on_already_on", (int64_t)smc(PSCI_CPU_ON, 1, (uint64_t)_start, 1) == -4, "", 0);
    check("cpu_on_unknown_mpidr", (int64_t)smc(PSCI_CPU_ON, 7, (uint64_t)_start, 7) == -2, "", 0);
    /* CPU 1 with bits 24-31 set, which PSCI requires to be zero: not CPU 1 (ALREADY_ON). */
    r = (int64_t)smc(PSCI_CPU_ON, 1ul << 24 | 1, (uint64_t)_start, 1);
    check("cpu_on_mpidr_reserved_bits", r == -2, "result", (uint64_t)r);
    race_result[0] = (int64_t)smc(PSCI_CPU_ON, 2, (uint64_t)_start, 2);
    /* CPU 1 races, then sleeps 5 ms on its timer: a second is plenty, or its checks fail. */
    uint64_t give_up = counter() + counter_freq();
    while (!cpu_done[1] && counter() < give_up)
        __asm__ volatile("yield");
    race_over = 1;
    int successes = (race_result[0] == 0) + (race_result[1] == 0);
    int64_t other = race_result[0] == 0 ? race_result[1] : race_result[0];
    check("cpu_on_race_one_winner", successes == 1 && (other == -4 || other == -5), "loser",
          (uint64_t)other);
    check("wfi_on_timer_while_ptimer_owner_runs", cpu1_timer_wfi_done, "", 0);
    for (unsigned spin = 0; !cpu_done[2] && spin < 100000000; spin++)
        __asm__ volatile("yield");
    check("secondary_cpus_ran", cpu_alive[1] && cpu_alive[2], "", 0);
}

/* ---- opt-in probes: a guest's debug state reaches seL4's native threads (issue 12) ----------- */

#ifdef DEBUG_STATE_PROBE
/*
 * Built only with `make PROBE=singlestep` or `PROBE=watchpoint` (tests/e2e/singlestep.py), never
 * for `make test`: on this SDK they stop the VMM or the whole system. seL4 switches neither
 * MDSCR_EL1 nor the breakpoint and watchpoint registers between a vCPU and native threads. CPU 0
 * arms one (MDSCR_EL1.SS without KDE, so its own EL1 code is not stepped; or a watchpoint on EL0
 * accesses to the low 2 GiB, where the VMM's data is) and makes an exit; CPU 1 meanwhile prints
 * heartbeats from a loop without exits, to show what still runs.
 */
#define PROBE_SINGLESTEP 1
#define PROBE_WATCHPOINT 2

/* DBGBCR0_EL1: enabled, EL0 only (PMC = 0b10), all four bytes (BAS = 0b1111). */
#define PROBE_BCR 0x1e5ul
/* DBGWCR0_EL1: enabled, EL0 only (PAC = 0b10), loads and stores (LSC = 0b11), BAS = 0xff, and
 * MASK = 31: every address whose bits 63:31 match DBGWVR0_EL1 (0), i.e. the low 2 GiB. */
#define PROBE_WCR (1ul | 2ul << 1 | 3ul << 3 | 0xfful << 5 | 31ul << 24)
#define MDSCR_SS 1ul
#define MDSCR_MDE (1ul << 15)

static volatile uint64_t probe_phase;

static uint64_t read_mdscr(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, mdscr_el1" : "=r"(v));
    return v;
}

static void write_mdscr(uint64_t v)
{
    __asm__ volatile("msr mdscr_el1, %0; isb" ::"r"(v));
}

static uint64_t read_bcr0(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, dbgbcr0_el1" : "=r"(v));
    return v;
}

static uint64_t read_wcr0(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, dbgwcr0_el1" : "=r"(v));
    return v;
}

static void probe_line(const char *what, uint64_t value)
{
    puts_("probe: ");
    puts_(what);
    putx(value);
    putc_('\n');
}

/* CPU 1: heartbeats from a busy loop (no exit) while CPU 0 is stuck or not; then one exit. */
static void probe_heartbeat(void)
{
    while (probe_phase == 0)
        ;
    uint64_t step = counter_freq() / 10, next = counter() + step;
    for (unsigned beat = 1; beat <= 10 && probe_phase == 1; beat++) {
        while (counter() < next)
            ;
        next += step;
        puts_("probe: cpu1 heartbeat ");
        putu(beat);
        puts_(" (no exit)\n");
    }
    if (probe_phase == 1) {
        puts_("probe: cpu1 makes an exit (PSCI_VERSION over SMC)\n");
        uint64_t v = smc(PSCI_VERSION, 0, 0, 0);
        probe_line("cpu1 exit returned, x0 = ", v);
    }
    probe_phase = 3;
    for (;;) /* no CPU_OFF: its log line would land in the middle of CPU 0's */
        __asm__ volatile("yield");
}

static void debug_state_probe(void)
{
    int64_t on = (int64_t)smc(PSCI_CPU_ON, 1, (uint64_t)_start, 1);
    while (!cpu_alive[1])
        __asm__ volatile("yield");
    probe_line("cpu1 started, CPU_ON = ", (uint64_t)on);
    probe_line("control exit, nothing armed, returned x0 = ", smc(PSCI_VERSION, 0, 0, 0));
    /* The OS Lock is set at reset and disables these debug events; Linux clears it at boot. */
    __asm__ volatile("msr oslar_el1, xzr; isb");
    uint64_t oslsr;
    __asm__ volatile("mrs %0, oslsr_el1" : "=r"(oslsr));
    probe_line("OS Lock cleared, OSLSR_EL1 = ", oslsr);
    /* A breakpoint of the guest's own (EL0 only, at address 0, which nothing executes), to see
     * whether the guest's debug registers survive an exit where the system does. */
    __asm__ volatile("msr dbgbvr0_el1, xzr; msr dbgbcr0_el1, %0; isb" ::"r"(PROBE_BCR));
    if (DEBUG_STATE_PROBE == PROBE_SINGLESTEP) {
        write_mdscr(read_mdscr() | MDSCR_SS);
        probe_line("MDSCR_EL1.SS set, MDSCR_EL1 = ", read_mdscr());
    } else {
        __asm__ volatile("msr dbgwvr0_el1, xzr; msr dbgwcr0_el1, %0; isb" ::"r"(PROBE_WCR));
        write_mdscr(read_mdscr() | MDSCR_MDE);
        probe_line("watchpoint on EL0 accesses below 2 GiB armed, MDSCR_EL1 = ", read_mdscr());
    }
    probe_line("DBGBCR0_EL1 = ", read_bcr0());
    puts_("probe: cpu0 makes an exit (PSCI_VERSION over SMC)\n");
    probe_phase = 1;
    uint64_t v = smc(PSCI_VERSION, 0, 0, 0);
    uint64_t mdscr = read_mdscr(), bcr = read_bcr0(), wcr = read_wcr0();
    probe_phase = 2; /* stop the heartbeats before printing */
    __asm__ volatile("msr dbgbcr0_el1, xzr; msr dbgwcr0_el1, xzr; isb");
    write_mdscr(mdscr & ~(MDSCR_SS | MDSCR_MDE));
    probe_line("cpu0 exit returned, x0 = ", v);
    probe_line("after the exit MDSCR_EL1 = ", mdscr);
    probe_line("after the exit DBGBCR0_EL1 = ", bcr);
    probe_line("after the exit DBGWCR0_EL1 = ", wcr);
    while (probe_phase != 3)
        __asm__ volatile("yield");
    puts_("probe: system survived\n");
    smc(PSCI_SYSTEM_OFF, 0, 0, 0);
}
#endif

/* ---- exit costs --------------------------------------------------------------------------- */

static void report(const char *name, uint64_t ticks, unsigned n)
{
    puts_("bench ");
    puts_(name);
    puts_(": ");
    putu(ticks * 1000 / n);
    puts_(" millitick/op, counter ");
    putu(counter_freq());
    puts_(" Hz\n");
}

/* CPU 0 takes the lock and holds it across a WFI that its virtual timer ends 20 us later; CPU 1
 * spins for the lock meanwhile (WFE), takes it once CPU 0 lets go, and CPU 0 waits (WFE) until it
 * has. One operation is one round: CPU 0's hold, the hand-off to CPU 1 and back. */
static void spinlock_handoff(void)
{
    uint64_t give_up = counter() + 10 * counter_freq();
    bool ok = wait_until_equal(&handoff_ready, 1, give_up);
    unsigned rounds = 0;
    uint32_t timer_irqs = irq_count[27];
    uint64_t t0 = counter();
    for (unsigned i = 0; i < HANDOFF_ROUNDS && ok; i++) {
        spin_lock(&handoff_lock);
        handoff_shared++;
        store_release(&handoff_turn, 2 * i + 1);
        arm_vtimer(counter_freq() / 50000);
        irqs(true);
        while (irq_count[27] == timer_irqs)
            __asm__ volatile("wfi");
        irqs(false);
        timer_irqs = irq_count[27];
        spin_unlock(&handoff_lock);
        ok = wait_until_equal(&handoff_turn, 2 * i + 2, give_up);
        rounds += ok;
    }
    uint64_t ticks = counter() - t0;
    if (rounds)
        report("spinlock_handoff", ticks, rounds);
    check("spinlock_handoff_completed",
          rounds == HANDOFF_ROUNDS && handoff_partner_ok && handoff_shared == 2 * HANDOFF_ROUNDS,
          "rounds/shared", (uint64_t)rounds << 32 | handoff_shared);
}

/* A function call on another CPU, as Linux makes them (smp_call_function_single): CPU 0 sends
 * SGI 1 to CPU 1, whose handler marks the call done, and waits for that with WFE (as csd_lock_wait
 * does) rather than WFI. */
static void sgi_call(void)
{
    enum { NC = 100 };
    uint64_t give_up = counter() + 10 * counter_freq();
    unsigned done = 0;
    sgi_mode = SGI_CALL;
    uint64_t t0 = counter();
    for (unsigned i = 1; i <= NC; i++) {
        store_release(&call_seq, i);
        *reg32(GICD + 0xf00) = 0x2u << 16 | 1;
        if (!wait_until_equal(&call_done, i, give_up))
            break;
        done++;
    }
    uint64_t ticks = counter() - t0;
    if (done)
        report("sgi_call", ticks, done);
    check("sgi_call_completed", done == NC, "calls", done);
}

static void bench(void)
{
    enum { N = 1000 };
    uint64_t t0 = counter();
    for (unsigned i = 0; i < N; i++)
        hvc(PSCI_VERSION);
    report("hvc_round_trip", counter() - t0, N);
    t0 = counter();
    for (unsigned i = 0; i < N; i++)
        smc(PSCI_VERSION, 0, 0, 0);
    report("smc_round_trip", counter() - t0, N);
    /* An emulated register read into x0, the case the floor is measured for. */
    t0 = counter();
    for (unsigned i = 0; i < N; i++) {
        register uint64_t x0 __asm__("x0");
        __asm__ volatile("ldr w0, [%1]" : "=r"(x0) : "r"(GICD + 0x4) : "memory");
        (void)x0;
    }
    report("mmio_read", counter() - t0, N);
    t0 = counter();
    for (unsigned i = 0; i < N; i++)
        (void)*reg32(GICD + 0x100);
    report("vgic_dist_read", counter() - t0, N);
    /* SGI ping-pong: CPU 0 sends SGI 1 to CPU 1 and sleeps in WFI; CPU 1 (in WFI with
     * interrupts on) takes it and answers with SGI 2, which wakes CPU 0. */
    sgi_mode = SGI_PING_PONG;
    enum { NS = 100 };
    t0 = counter();
    for (unsigned i = 0; i < NS; i++) {
        *reg32(GICD + 0xf00) = 0x2u << 16 | 1;
        for (;;) {
            __asm__ volatile("wfi");
            uint32_t iar = *reg32(GICC + 0x0c);
            if ((iar & 0x3ff) >= 1020)
                continue;
            *reg32(GICC + 0x10) = iar;
            if ((iar & 0x3ff) == 2)
                break;
        }
    }
    report("sgi_ping_pong", counter() - t0, NS);
    check("sgi_ping_pong_completed", sgi_seen >= NS, "seen", sgi_seen);
    sgi_call();
    sgi_mode = SGI_STOP;
    *reg32(GICD + 0xf00) = 0x2u << 16 | 1;
    spinlock_handoff();
    irq_latency_bench(LAT_UNDER_VMM);
}

#ifdef LATENCY_TRACE
/* One of each exit the exit-cost benchmark times, each warmed up, then traced. */
static void trace_exits(void)
{
    for (unsigned traced = 0; traced < 2; traced++) {
        if (traced)
            trace_handshake("begin", "exit_hvc");
        hvc(PSCI_VERSION);
        if (traced) {
            trace_handshake("end", "exit_hvc");
            trace_handshake("begin", "exit_smc");
        }
        smc(PSCI_VERSION, 0, 0, 0);
        if (traced) {
            trace_handshake("end", "exit_smc");
            trace_handshake("begin", "exit_mmio_read");
        }
        register uint64_t x0 __asm__("x0");
        __asm__ volatile("ldr w0, [%1]" : "=r"(x0) : "r"(GICD + 0x4) : "memory");
        (void)x0;
        if (traced)
            trace_handshake("end", "exit_mmio_read");
    }
}
#endif

void guest_main(unsigned cpu, uint64_t arg, uint64_t booted_el);

void guest_main(unsigned cpu, uint64_t arg, uint64_t booted_el)
{
    if (cpu != 0) {
        if (arg == LAT_HELPER_CONTEXT)
            irq_latency_helper();
        else
            secondary(cpu);
        return;
    }
    /* Natively (started at EL2: no hypervisor) and under bench/irq_latency's floor PD only the
     * interrupt-latency benchmark runs. */
    if (booted_el == 2 || arg == LAT_FLOOR_MAGIC) {
        puts_(booted_el == 2 ? "baremetal: natively, interrupt latency only\n"
                             : "baremetal: under the floor PD, interrupt latency only\n");
        irq_latency_bench(booted_el == 2 ? LAT_NATIVE : LAT_FLOOR);
        puts_("baremetal: done\n");
        smc(PSCI_SYSTEM_OFF, 0, 0, 0);
        return;
    }
    volatile uint32_t *state = reg32(RESET_STATE);
    if (state[0] != RESET_MAGIC) {
        state[0] = RESET_MAGIC;
        state[1] = 0;
    }
    state[1]++;
    puts_("baremetal: boot ");
    putu(state[1]);
    putc_('\n');
#ifdef LATENCY_TRACE
    /* PROBE=irqtrace: one traced sample per latency path and exit (bench/irq_latency.py
     * --trace). */
    state[0] = 0;
    irq_latency_bench(LAT_UNDER_VMM);
    trace_exits();
    puts_("baremetal: done\n");
    smc(PSCI_SYSTEM_OFF, 0, 0, 0);
    return;
#endif
#ifdef DEBUG_STATE_PROBE
    state[0] = 0;
    debug_state_probe();
    return;
#endif
    if (state[1] == 2) {
        /* What the CPU interface holds right after a reset: its reset values, not what the
         * previous boot left there. */
        state[3] = *reg32(GICC + 0x000);
        state[4] = *reg32(GICC + GICC_PMR);
        state[5] = *reg32(GICC + 0x008);
    }
    if (state[1] == 1) {
        state[6] = *reg32(GICC + 0x008); /* BPR's reset value */
        *reg32(GICC + 0x008) = 5;
        *reg32(GICC + GICC_PMR) = 0x80;
        *reg32(GICC + 0x000) = 1u << 9 | 1; /* EOImode 1, group 0 enabled */
    }
    if (state[1] <= RESETS) {
        smc(PSCI_SYSTEM_RESET, 0, 0, 0);
        puts_("check system_reset: FAIL returned\n");
    }
    check("cpu_interface_reset_on_system_reset",
          state[3] == 0 && state[4] == 0 && state[5] == state[6], "ctlr/pmr/bpr",
          (uint64_t)state[3] << 32 | state[4] << 16 | state[5]);
    state[0] = 0; /* a later run of the system starts counting again */
    gic_cpu_init(0);
    check_calls();
    check_unmapped();
    check_ldp();
    check_pairs_mmu_off();
    check_pairs_mmu_on();
    check_wfi();
    check_ptimer();
    check_level_timers();
    check_list_registers();
    check_cpu_on_race();
    bench();
    puts_("baremetal: done\n");
    smc(PSCI_SYSTEM_OFF, 0, 0, 0);
    puts_("check system_off: FAIL returned\n");
}
