/* memcpy/memset/memcmp for a VMM without libc. Word-sized copies keep image loading fast. */
#include <vmm/util.h>

/* 16 bytes at a time, in 128-bit (SIMD) registers. */
typedef uint64_t vmm_v128 __attribute__((vector_size(16)));

/* Whole aligned words from a source at another alignment: each destination word is built from
 * the two aligned source words it straddles (little-endian), so no access is unaligned (the
 * target is built with -mstrict-align) and none reads a byte outside a word that holds one of
 * the source's. A frame copied between a guest's buffer and a backend's usually needs this: the
 * virtio-net header puts the guest's frame 12 bytes into its buffer. */
static void copy_shifted(uint64_t *d, const uint8_t *s, size_t words)
{
    unsigned off = (unsigned)((uintptr_t)s & 7), lo = 8 * off, hi = 64 - lo;
    const uint64_t *w = (const uint64_t *)(const void *)(s - off);
    uint64_t cur = w[0];
    for (size_t i = 0; i < words; i++) {
        uint64_t next = w[i + 1];
        d[i] = cur >> lo | next << hi;
        cur = next;
    }
}

void vmm_memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    /* Bulk copies (virtio data: pages, sectors) move 128 bytes per iteration in 16-byte
     * registers: under QEMU's TCG each access costs far more than the instruction, so fewer,
     * wider accesses copy several times faster than 8-byte ones. */
    if ((((uintptr_t)d | (uintptr_t)s) & 15) == 0) {
        while (n >= 128) {
            const vmm_v128 *v = (const vmm_v128 *)(const void *)s;
            vmm_v128 a = v[0], b = v[1], c = v[2], e = v[3], f = v[4], g = v[5], h = v[6], i = v[7];
            vmm_v128 *w = (vmm_v128 *)(void *)d;
            w[0] = a;
            w[1] = b;
            w[2] = c;
            w[3] = e;
            w[4] = f;
            w[5] = g;
            w[6] = h;
            w[7] = i;
            d += 128;
            s += 128;
            n -= 128;
        }
    }
    if (n >= 16) {
        while ((uintptr_t)d & 7) {
            *d++ = *s++;
            n--;
        }
        if (((uintptr_t)s & 7) == 0) {
            while (n >= 32) {
                uint64_t a = ((const uint64_t *)s)[0], b = ((const uint64_t *)s)[1];
                uint64_t c = ((const uint64_t *)s)[2], e = ((const uint64_t *)s)[3];
                ((uint64_t *)d)[0] = a;
                ((uint64_t *)d)[1] = b;
                ((uint64_t *)d)[2] = c;
                ((uint64_t *)d)[3] = e;
                d += 32;
                s += 32;
                n -= 32;
            }
            while (n >= 8) {
                *(uint64_t *)d = *(const uint64_t *)s;
                d += 8;
                s += 8;
                n -= 8;
            }
        } else if (n >= 16) {
            /* The last source word read ends at most 15 bytes past the last word's start: keep
             * it inside the source. */
            size_t words = (n - 8) / 8;
            copy_shifted((uint64_t *)(void *)d, s, words);
            d += 8 * words;
            s += 8 * words;
            n -= 8 * words;
        }
    }
    while (n--)
        *d++ = *s++;
}

void vmm_memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    if (((uintptr_t)d & 7) == 0) {
        uint64_t w = (uint8_t)c * UINT64_C(0x0101010101010101);
        while (n >= 8) {
            *(uint64_t *)d = w;
            d += 8;
            n -= 8;
        }
    }
    while (n--)
        *d++ = (uint8_t)c;
}

int vmm_memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}
