/*
 * Bare-metal test guest for the VMM (QEMU virt, GICv2): checks what a guest may rely on and
 * prints one line per check ("check NAME: ok" or "check NAME: FAIL ..."), boots itself through
 * PSCI SYSTEM_RESET a number of times, measures exit costs with the virtual counter, and ends
 * with PSCI SYSTEM_OFF. tests/e2e/baremetal.py reads its output.
 */
#include <stdbool.h>
#include <stdint.h>

#define UART 0x09000000ul
#define GICD 0x08000000ul
#define GICC 0x08010000ul
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

static volatile uint32_t *reg32(uint64_t a)
{
    return (volatile uint32_t *)a;
}

static void putc_(char c)
{
    while (*reg32(UART + 0x18) & (1u << 5))
        ;
    *reg32(UART) = (uint32_t)c;
}

static void puts_(const char *s)
{
    while (*s)
        putc_(*s++);
}

static void putu(uint64_t v)
{
    char b[24];
    int n = 0;
    do {
        b[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        putc_(b[--n]);
}

static void putx(uint64_t v)
{
    puts_("0x");
    for (int i = 60; i >= 0; i -= 4)
        putc_("0123456789abcdef"[(v >> i) & 0xf]);
}

static void check(const char *name, bool ok, const char *detail, uint64_t value)
{
    puts_("check ");
    puts_(name);
    puts_(ok ? ": ok" : ": FAIL ");
    if (!ok) {
        puts_(detail);
        puts_(" ");
        putx(value);
    }
    putc_('\n');
}

static uint64_t smc(uint64_t fid, uint64_t a1, uint64_t a2, uint64_t a3)
{
    register uint64_t x0 __asm__("x0") = fid, x1 __asm__("x1") = a1, x2 __asm__("x2") = a2,
                         x3 __asm__("x3") = a3;
    __asm__ volatile("smc #0"
                     : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
                     :
                     : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15",
                       "x16", "x17", "memory");
    return x0;
}

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

static uint64_t counter(void)
{
    uint64_t v;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
    return v;
}

static uint64_t counter_freq(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return v;
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
            if (sgi_mode == 1)
                *reg32(GICD + 0xf00) = 0x1u << 16 | 2; /* answer CPU 0 with SGI 2 */
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

static void irqs(bool on)
{
    if (on)
        __asm__ volatile("msr daifclr, #2; isb");
    else
        __asm__ volatile("msr daifset, #2; isb");
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

/* ---- secondary CPUs --------------------------------------------------------------------- */

static volatile uint64_t race_over;

static void secondary(unsigned cpu)
{
    cpu_alive[cpu] = 1;
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
        while (sgi_mode == 1)
            __asm__ volatile("wfi");
        irqs(false);
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
    sgi_mode = 1;
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
    sgi_mode = 2;
    *reg32(GICD + 0xf00) = 0x2u << 16 | 1;
}

void guest_main(unsigned cpu, uint64_t arg);

void guest_main(unsigned cpu, uint64_t arg)
{
    (void)arg;
    if (cpu != 0) {
        secondary(cpu);
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
    if (state[1] <= RESETS) {
        smc(PSCI_SYSTEM_RESET, 0, 0, 0);
        puts_("check system_reset: FAIL returned\n");
    }
    state[0] = 0; /* a later run of the system starts counting again */
    gic_cpu_init(0);
    check_calls();
    check_unmapped();
    check_ldp();
    check_wfi();
    check_ptimer();
    check_cpu_on_race();
    bench();
    puts_("baremetal: done\n");
    smc(PSCI_SYSTEM_OFF, 0, 0, 0);
    puts_("check system_off: FAIL returned\n");
}
