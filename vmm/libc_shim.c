/* The compiler may emit calls to these even in freestanding code (struct copies, zeroing). */
#include <stddef.h>
#include <vmm/util.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

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
