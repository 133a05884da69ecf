/*
 * Benchmark helper (bench/boot_icount.py builds it into a bench-only copy of the initramfs; not
 * in any image the project ships): a static arm64 Linux program that prints the guest's virtual
 * counter and its frequency, "boot_icount: cntvct <ticks> <Hz>". /init runs it right after the
 * marker line. Under `qemu -icount shift=0` the counter counts instructions from QEMU's start (16
 * per tick at 62.5 MHz), natively and under the VMM alike: seL4 leaves the vCPU's CNTVOFF at 0.
 */
typedef unsigned long u64;

static long syscall3(long nr, long a, long b, long c)
{
    register long x0 __asm__("x0") = a, x1 __asm__("x1") = b, x2 __asm__("x2") = c;
    register long x8 __asm__("x8") = nr;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x1), "r"(x2), "r"(x8) : "memory");
    return x0;
}

static char *decimal(char *p, u64 v)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = digits[--n];
    return p;
}

void _start(void);

void _start(void)
{
    u64 ticks, hz;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(ticks));
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(hz));
    static const char prefix[] = "boot_icount: cntvct ";
    char line[64];
    char *p = line;
    for (const char *s = prefix; *s; s++)
        *p++ = *s;
    p = decimal(p, ticks);
    *p++ = ' ';
    p = decimal(p, hz);
    *p++ = '\n';
    syscall3(64, 1, (long)line, p - line); /* write(1, line, len) */
    syscall3(93, 0, 0, 0);                 /* exit(0) */
    for (;;)
        ;
}
