/*
 * The compiler may emit calls to these even in freestanding code (struct copies, zeroing). The
 * library provides them weak, so a program that links a C library of its own gets that one and
 * nothing clashes. Target builds only: on the host the C library's (and the sanitizers') win.
 */
#include <stddef.h>
#include <vmm/util.h>

void *memcpy(void *dst, const void *src, size_t n) __attribute__((weak));
void *memset(void *dst, int c, size_t n) __attribute__((weak));
void *memmove(void *dst, const void *src, size_t n) __attribute__((weak));
int memcmp(const void *a, const void *b, size_t n) __attribute__((weak));

void *memcpy(void *dst, const void *src, size_t n)
{
    vmm_memcpy(dst, src, n);
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    vmm_memset(dst, c, n);
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s || d >= s + n) {
        vmm_memcpy(dst, src, n);
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    return vmm_memcmp(a, b, n);
}
