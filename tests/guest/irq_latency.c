/*
 * Interrupt latency, in instructions (qemu -icount shift=0: one instruction per nanosecond, 16 per
 * tick of the 62.5 MHz counter), from the moment an interrupt is pending in hardware to the first
 * instruction of the guest's handler, and the cost of finishing it (from that instruction to the
 * point the next can be taken: acknowledge, EOI and whatever exit the EOI makes), for
 *   - the virtual timer (a timer deadline, CVAL, is the start: nothing instruments the path),
 *   - the EL1 physical timer (INTID 30: under the VMM a passthrough interrupt),
 *   - an SGI from CPU 1 (the start is CPU 1's counter read just before its GICD_SGIR write),
 * each with CPU 0 busy (spinning with interrupts unmasked) and asleep in WFI.
 *
 * Exact counts from a 16-instruction tick: the handler's time stamp (lat_vectors) runs after a
 * sled of 0..15 NOPs, or for SGIs the sender's, and the 16 samples of a round use each length
 * once; the tick differences of a round then add up to the instruction count (for any integer y,
 * the sum over j = 0..15 of floor((y + j) / 16) is y). Printed as "bench NAME: N millitick/op",
 * which tests/e2e/baremetal.py and bench/irq_latency.py turn into instructions.
 */
#include "irq_latency.h"
#include "guest_io.h"

#include <stdbool.h>
#include <stddef.h>

#define GICD_CTLR 0x000ul
#define GICD_ISENABLER0 0x100ul
#define GICD_SGIR 0xf00ul
#define GICC_CTLR 0x000ul
#define GICC_PMR 0x004ul
#define GICC_IAR 0x00cul
#define GICC_EOIR 0x010ul

#define PSCI_CPU_OFF 0x84000002ul
#define PSCI_CPU_ON 0xc4000003ul
#define PSCI_ALREADY_ON (-4)

#define VTIMER_IRQ 27u
#define PTIMER_IRQ 30u
#define SGI_MEASURED 1u /* CPU 1 -> CPU 0, the measured one */
#define SGI_WAKE 3u     /* CPU 0 -> CPU 1: look at lat_cmd */

#define ROUNDS 4 /* of 16 samples each */
#define SAMPLES (ROUNDS * 16)

extern char _start[], lat_vectors[], lat_sled_end[];

/* Shared with lat_vectors and the handler. */
volatile uint64_t lat_pad_target, lat_t_entry;
static volatile uint64_t lat_t_eoi, lat_t_send, lat_deadline;
static volatile uint32_t lat_fired, lat_irq, lat_send_pad, lat_helper_ready, lat_cmd, lat_waiting;
static volatile enum lat_mode lat_mode;
enum { LAT_IDLE, LAT_ARM, LAT_ARMED, LAT_EXIT };

void lat_on_irq(void);
void lat_on_unexpected(void);

static void vtimer_set(uint64_t cval, uint64_t ctl)
{
    __asm__ volatile("msr cntv_cval_el0, %0; msr cntv_ctl_el0, %1; isb" ::"r"(cval), "r"(ctl));
}

static void ptimer_set(uint64_t cval, uint64_t ctl)
{
    __asm__ volatile("msr cntp_cval_el0, %0; msr cntp_ctl_el0, %1; isb" ::"r"(cval), "r"(ctl));
}

void lat_on_unexpected(void)
{
    puts_("check exceptions: FAIL unexpected exception vector during the latency benchmark\n");
}

/* The measured handler: acknowledge, silence the timer, EOI, time-stamp. */
void lat_on_irq(void)
{
    uint32_t iar = *reg32(GICC + GICC_IAR);
    uint32_t irq = iar & 0x3ff;
    if (irq == VTIMER_IRQ)
        __asm__ volatile("msr cntv_ctl_el0, xzr");
    else if (irq == PTIMER_IRQ)
        __asm__ volatile("msr cntp_ctl_el0, xzr");
    *reg32(GICC + GICC_EOIR) = iar;
    lat_t_eoi = counter();
    lat_irq = irq;
    lat_fired = 1;
}

/* This CPU's interface on, its SGIs and timers enabled (the floor PD has no distributor). */
static void gic_init(enum lat_mode mode, unsigned cpu)
{
    if (mode != LAT_FLOOR) {
        if (cpu == 0)
            *reg32(GICD + GICD_CTLR) = 1;
        *reg32(GICD + GICD_ISENABLER0) =
            0xffffu | 1u << VTIMER_IRQ | (cpu == 0 ? 1u << PTIMER_IRQ : 0);
    }
    *reg32(GICC + GICC_PMR) = 0xff;
    *reg32(GICC + GICC_CTLR) = 1;
}

static void send_sgi(unsigned sgi, unsigned cpu)
{
    *reg32(GICD + GICD_SGIR) = 1u << (16 + cpu) | sgi;
}

/* ---- CPU 1: the SGI sender ----------------------------------------------------------------- */

/* At the next counter tick, then after `pad` NOPs: time-stamp, and send CPU 0 the SGI. */
static void send_measured_sgi(unsigned pad)
{
    uint64_t t0, t1;
    __asm__ volatile("mrs %[t0], cntvct_el0\n"
                     "1: mrs %[t1], cntvct_el0\n"
                     "cmp %[t1], %[t0]\n"
                     "b.eq 1b\n"
                     "adr x9, 2f\n"
                     "sub x9, x9, %[pad], lsl #2\n"
                     "br x9\n"
                     ".rept 15\n"
                     "nop\n"
                     ".endr\n"
                     ".global lat_send_stamp\n"
                     "lat_send_stamp:\n"
                     "2: mrs %[t1], cntvct_el0\n"
                     "str %[t1], [%[tsend]]\n"
                     "str %w[sgir], [%[gicd]]\n"
                     : [t0] "=&r"(t0), [t1] "=&r"(t1)
                     : [pad] "r"((uint64_t)pad), [tsend] "r"(&lat_t_send),
                       [sgir] "r"(1u << 16 | SGI_MEASURED), [gicd] "r"(GICD + GICD_SGIR)
                     : "x9", "cc", "memory");
}

void irq_latency_helper(void)
{
    gic_init(lat_mode, 1);
    lat_helper_ready = 1;
    for (;;) {
        /* Interrupts stay masked: WFI wakes on them, and they are taken by polling. */
        __asm__ volatile("wfi" ::: "memory");
        bool timer = false;
        for (;;) {
            uint32_t iar = *reg32(GICC + GICC_IAR);
            if ((iar & 0x3ff) >= 1020)
                break;
            if ((iar & 0x3ff) == VTIMER_IRQ) {
                vtimer_set(0, 0);
                timer = true;
            }
            *reg32(GICC + GICC_EOIR) = iar;
        }
        uint32_t cmd = lat_cmd;
        if (cmd == LAT_EXIT)
            break;
        if (cmd == LAT_ARM) {
            lat_cmd = LAT_ARMED;
            vtimer_set(lat_deadline, 1);
        } else if (cmd == LAT_ARMED && timer) {
            /* Not before CPU 0 waits with interrupts unmasked (YIELD: see wait_for_handler). */
            while (!lat_waiting)
                __asm__ volatile("yield" ::: "memory");
            lat_cmd = LAT_IDLE;
            send_measured_sgi(lat_send_pad);
        }
    }
    lat_helper_ready = 0;
    smc(PSCI_CPU_OFF, 0, 0, 0);
}

/* ---- CPU 0: the receiver ------------------------------------------------------------------- */

struct lat_sum {
    uint64_t entry, finish; /* ticks, over n samples */
    unsigned n;
};

enum lat_wait { SPIN, SPIN_YIELD, WFI };

/* Wait up to a second for the handler; false if it never ran. SPIN_YIELD spins too: YIELD is a
 * NOP under a hypervisor, and natively gives QEMU's other CPU (the SGI's sender) its turn.
 * WFI waits with interrupts masked from the check of lat_fired to the WFI, which a pending
 * interrupt ends even masked, and takes it on unmasking: one taken between the check and the
 * WFI (this CPU preempted there, the interrupt sent meanwhile) would leave the WFI nothing to
 * end it, and the give-up time is only looked at after a WFI. */
static bool wait_for_handler(enum lat_wait how)
{
    /* The counter is read rarely: in QEMU's -icount mode each read is an I/O access that ends
     * its translation block. */
    uint64_t give_up = counter() + counter_freq();
    irqs(how != WFI);
    lat_waiting = 1; /* CPU 1 sends its SGI only now */
    for (unsigned n = 1; !lat_fired; n++) {
        if (how == WFI) {
            __asm__ volatile("wfi" ::: "memory");
            irqs(true); /* the interrupt that ended the WFI is taken here */
            irqs(false);
        } else if (how == SPIN_YIELD) {
            __asm__ volatile("yield" ::: "memory");
        }
        if (n % 4096 == 0 && counter() > give_up)
            break;
    }
    irqs(false);
    lat_waiting = 0;
    return lat_fired;
}

static void add_sample(struct lat_sum *s, uint64_t start)
{
    s->entry += lat_t_entry - start;
    s->finish += lat_t_eoi - lat_t_entry;
    s->n++;
}

/* One timer sample: a deadline `gap` ticks out, the handler's time stamp after `pad` NOPs. */
static void timer_sample(bool physical, bool wfi, unsigned pad, uint64_t gap, struct lat_sum *s)
{
    lat_pad_target = (uint64_t)lat_sled_end - 4 * pad;
    lat_fired = 0;
    uint64_t cval = counter() + gap;
    if (physical)
        ptimer_set(cval, 1);
    else
        vtimer_set(cval, 1);
    if (wait_for_handler(wfi ? WFI : SPIN) && s && lat_irq == (physical ? PTIMER_IRQ : VTIMER_IRQ))
        add_sample(s, cval);
    ptimer_set(0, 0);
    vtimer_set(0, 0);
}

/* One SGI sample: CPU 1 arms its own virtual timer `gap` ticks out and sends when it fires. */
static void sgi_sample(bool wfi, unsigned pad, uint64_t gap, struct lat_sum *s)
{
    lat_pad_target = (uint64_t)lat_sled_end;
    lat_send_pad = pad;
    lat_fired = 0;
    lat_deadline = counter() + gap;
    lat_cmd = LAT_ARM;
    __asm__ volatile("dsb ish" ::: "memory");
    send_sgi(SGI_WAKE, 1);
    if (wait_for_handler(wfi                      ? WFI
                         : lat_mode == LAT_NATIVE ? SPIN_YIELD
                                                  : SPIN) &&
        s && lat_irq == SGI_MEASURED)
        add_sample(s, lat_t_send);
}

static void report(const char *name, uint64_t ticks, unsigned n)
{
    puts_("bench ");
    puts_(name);
    puts_(": ");
    putu(n ? ticks * 1000 / n : 0);
    puts_(" millitick/op, counter ");
    putu(counter_freq());
    puts_(" Hz, ");
    putu(n);
    puts_(" samples\n");
}

static void report_pair(const char *latency, const char *finish, const struct lat_sum *s)
{
    report(latency, s->entry, s->n);
    report(finish, s->finish, s->n);
}

enum lat_path { PATH_VTIMER, PATH_PTIMER, PATH_SGI };

#ifdef LATENCY_TRACE
/* Print `what` and wait for a byte on the UART: bench/irq_latency.py --trace switches QEMU's
 * instruction log on or off in between. */
void trace_handshake(const char *what, const char *name)
{
    puts_("lat-trace: ");
    puts_(what);
    puts_(" ");
    puts_(name);
    putc_('\n');
    while (*reg32(UART + 0x18) & (1u << 4)) /* RXFE */
        ;
    (void)*reg32(UART);
}
#endif

/* Measure one path; returns how many samples took the expected interrupt. */
static unsigned measure(enum lat_path path, bool wfi, const char *latency, const char *finish)
{
    /* Deadlines far enough out for a WFI's sleep to begin (65,536 instructions). */
    uint64_t gap = 4096;
    struct lat_sum s = { 0, 0, 0 };
#ifdef LATENCY_TRACE
    /* One sample to warm up, one traced (PROBE=irqtrace builds). */
    for (unsigned r = 0; r < 2; r++) {
        if (r)
            trace_handshake("begin", latency);
        if (path == PATH_SGI)
            sgi_sample(wfi, 0, gap, r ? &s : NULL);
        else
            timer_sample(path == PATH_PTIMER, wfi, 0, gap, r ? &s : NULL);
        if (r)
            trace_handshake("end", latency);
    }
    report_pair(latency, finish, &s);
    return s.n * SAMPLES;
#endif
    for (unsigned r = 0; r <= ROUNDS; r++) {
        for (unsigned pad = 0; pad < 16; pad++) {
            struct lat_sum *sum = r ? &s : NULL; /* round 0 warms up */
            if (path == PATH_SGI)
                sgi_sample(wfi, pad, gap, sum);
            else
                timer_sample(path == PATH_PTIMER, wfi, pad, gap, sum);
        }
    }
    report_pair(latency, finish, &s);
    return s.n;
}

void irq_latency_bench(enum lat_mode mode)
{
    uint64_t vbar;
    __asm__ volatile("mrs %0, vbar_el1" : "=r"(vbar));
    __asm__ volatile("msr vbar_el1, %0; isb" ::"r"((uint64_t)lat_vectors));
    lat_mode = mode;
#ifndef LATENCY_TRACE
    if (mode != LAT_UNDER_VMM) /* under the VMM the checks before did it */
#endif
        gic_init(mode, 0);
    /* Each of the six paths must take its interrupt in every sample. */
    unsigned missing = 0;
    missing += SAMPLES - measure(PATH_VTIMER, false, "irq_vtimer_busy", "irq_vtimer_busy_finish");
    missing += SAMPLES - measure(PATH_VTIMER, true, "irq_vtimer_wfi", "irq_vtimer_wfi_finish");
    missing += SAMPLES - measure(PATH_PTIMER, false, "irq_ptimer_busy", "irq_ptimer_busy_finish");
    missing += SAMPLES - measure(PATH_PTIMER, true, "irq_ptimer_wfi", "irq_ptimer_wfi_finish");
    /* CPU 1 (off by now under the VMM, after the ping-pong) becomes the SGI sender. */
    int64_t on;
    for (unsigned i = 0; i < 1000; i++) {
        on = (int64_t)smc(PSCI_CPU_ON, 1, (uint64_t)_start, LAT_HELPER_CONTEXT);
        if (on != PSCI_ALREADY_ON)
            break;
        for (volatile unsigned spin = 0; spin < 10000; spin++)
            ;
    }
    uint64_t give_up = counter() + counter_freq();
    while (on == 0 && !lat_helper_ready && counter() < give_up)
        __asm__ volatile("yield");
    if (on == 0 && lat_helper_ready) {
        missing += SAMPLES - measure(PATH_SGI, false, "irq_sgi_busy", "irq_sgi_busy_finish");
        missing += SAMPLES - measure(PATH_SGI, true, "irq_sgi_wfi", "irq_sgi_wfi_finish");
        lat_cmd = LAT_EXIT;
        __asm__ volatile("dsb ish" ::: "memory");
        send_sgi(SGI_WAKE, 1);
    } else {
        missing += 2 * SAMPLES;
    }
    __asm__ volatile("msr vbar_el1, %0; isb" ::"r"(vbar));
    /* CPU_ON's result in the high half, samples without their interrupt in the low one. */
    check("irq_latency_every_sample_delivered", missing == 0 && on == 0,
          "CPU_ON result / missing samples", (uint64_t)(uint32_t)on << 32 | missing);
}
