/*
 * Benchmark helper (bench/marker_images.py builds it for bench/boot_icount.py and
 * bench/smp_cost.py; not part of any image the project ships): a static arm64 Linux program that
 * prints the virtual counter, "cntvct <ticks> <freq>". The benches add it to a copy of the
 * default initramfs and run it right after /init prints the marker line, or from /etc/profile as
 * the first thing the shell does. Under `qemu -icount shift=0` the counter counts instructions (16
 * per tick at 62.5 MHz) from QEMU's start, natively and under the VMM alike (seL4 here leaves
 * CNTVOFF at 0: VTIMER_UPDATE_VOFFSET is off).
 */
typedef unsigned long u64;

static long sys3(long nr, long a, long b, long c)
{
    register long x0 __asm__("x0") = a, x1 __asm__("x1") = b, x2 __asm__("x2") = c;
    register long x8 __asm__("x8") = nr;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x1), "r"(x2), "r"(x8) : "memory");
    return x0;
}

static char *put_u64(char *p, u64 v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

void _start(void);

void _start(void)
{
    u64 ticks, freq;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(ticks));
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(freq));
    char line[64] = "cntvct ";
    char *p = put_u64(line + 7, ticks);
    *p++ = ' ';
    p = put_u64(p, freq);
    *p++ = '\n';
    sys3(64, 1, (long)line, p - line); /* write(1, ...) */
    sys3(93, 0, 0, 0);                 /* exit(0) */
    for (;;)
        ;
}
