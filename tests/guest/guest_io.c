#include "guest_io.h"

void putc_(char c)
{
    while (*reg32(UART + 0x18) & (1u << 5)) /* TXFF */
        ;
    *reg32(UART) = (uint32_t)c;
}

void puts_(const char *s)
{
    while (*s)
        putc_(*s++);
}

void putu(uint64_t v)
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

void putx(uint64_t v)
{
    puts_("0x");
    for (int i = 60; i >= 0; i -= 4)
        putc_("0123456789abcdef"[(v >> i) & 0xf]);
}

void check(const char *name, bool ok, const char *detail, uint64_t value)
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

uint64_t smc(uint64_t fid, uint64_t a1, uint64_t a2, uint64_t a3)
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
