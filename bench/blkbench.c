/*
 * A guest program for bench/blk_ratio.py (arm64 Linux, static, no C library: raw system calls):
 * reads and writes with O_DIRECT on a block device, timed by the guest's clock and by its
 * virtual counter (busybox's dd says no time).
 *
 *   blkbench DEVICE read|write N      N MiB from the start, in 1 MiB blocks
 *   blkbench DEVICE rand SECONDS      4 KiB reads at random for that long
 *   blkbench DEVICE randcount N       N such reads
 *
 * Prints one line: "blkbench: N <op>s of B bytes in T ns, IOPS I, counter ticks C". Random
 * offsets come from a fixed xorshift sequence over the whole device, 4 KiB aligned.
 */
#include <stdint.h>

#define SYS_openat 56
#define SYS_close 57
#define SYS_ioctl 29
#define SYS_pread64 67
#define SYS_pwrite64 68
#define SYS_write 64
#define SYS_exit 93
#define SYS_clock_gettime 113
#define AT_FDCWD -100
#define O_RDONLY 0
#define O_RDWR 2
#define O_DIRECT 0200000 /* arm64 */
#define BLKGETSIZE64 0x80081272u
#define CLOCK_MONOTONIC 1

static long sys(long n, long a, long b, long c, long d)
{
    register long x8 __asm__("x8") = n, x0 __asm__("x0") = a, x1 __asm__("x1") = b,
                     x2 __asm__("x2") = c, x3 __asm__("x3") = d;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
}

static unsigned long len(const char *s)
{
    unsigned long n = 0;
    while (s[n])
        n++;
    return n;
}

static void out(const char *s)
{
    sys(SYS_write, 1, (long)s, (long)len(s), 0);
}

static void out_u64(uint64_t v)
{
    char b[24];
    int i = 23;
    b[i] = 0;
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    out(b + i);
}

static uint64_t parse(const char *s)
{
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (uint64_t)(*s++ - '0');
    return v;
}

static uint64_t now_ns(void)
{
    struct {
        long sec, nsec;
    } ts;
    sys(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts, 0, 0);
    return (uint64_t)ts.sec * 1000000000u + (uint64_t)ts.nsec;
}

static uint64_t counter(void)
{
    uint64_t v;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
    return v;
}

static _Alignas(4096) uint8_t buf[1 << 20];

static void fail(const char *what)
{
    out("blkbench: error: ");
    out(what);
    out("\n");
    sys(SYS_exit, 1, 0, 0, 0);
}

static int same(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

void run(long argc, char **argv)
{
    if (argc < 4)
        fail("usage: blkbench DEVICE read|write|rand|randcount N");
    const char *mode = argv[2];
    int seq = same(mode, "read") || same(mode, "write"), writing = same(mode, "write");
    int by_count = !same(mode, "rand");
    if (!seq && !same(mode, "rand") && !same(mode, "randcount"))
        fail("the mode is read, write, rand or randcount");
    long fd = sys(SYS_openat, AT_FDCWD, (long)argv[1], (writing ? O_RDWR : O_RDONLY) | O_DIRECT, 0);
    if (fd < 0)
        fail("cannot open the device");
    uint64_t size = 0;
    if (sys(SYS_ioctl, fd, BLKGETSIZE64, (long)&size, 0) < 0 || size < 8192)
        fail("cannot tell the device's size");
    uint64_t bs = seq ? sizeof(buf) : 4096, blocks = size / bs, limit = parse(argv[3]);
    if (seq && limit > blocks)
        fail("the device is smaller than that");
    for (uint64_t i = 0; i < bs; i++)
        buf[i] = (uint8_t)(i * 7);
    uint64_t x = 0x9e3779b97f4a7c15u, n = 0;
    uint64_t t0 = now_ns(), c0 = counter(), t1 = t0;
    while (by_count ? n < limit : t1 - t0 < limit * 1000000000u) {
        uint64_t at = n;
        if (!seq) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            at = x % blocks;
        }
        long got =
            sys(writing ? SYS_pwrite64 : SYS_pread64, fd, (long)buf, (long)bs, (long)(at * bs));
        if (got != (long)bs)
            fail(writing ? "a write failed" : "a read failed");
        n++;
        if (!by_count || n == limit)
            t1 = now_ns();
    }
    uint64_t c1 = counter();
    sys(SYS_close, fd, 0, 0, 0);
    out("blkbench: ");
    out_u64(n);
    out(writing ? " writes of " : " reads of ");
    out_u64(bs);
    out(" bytes in ");
    out_u64(t1 - t0);
    out(" ns, IOPS ");
    out_u64(t1 > t0 ? n * 1000000000u / (t1 - t0) : 0);
    out(", counter ticks ");
    out_u64(c1 - c0);
    out("\n");
    sys(SYS_exit, 0, 0, 0, 0);
}

/* The kernel starts us with sp at argc, then argv. */
__asm__(".global _start\n_start:\n ldr x0, [sp]\n add x1, sp, #8\n bl run\n b .\n");
