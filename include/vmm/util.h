/* Freestanding helpers (no libc in the VMM). */
#ifndef VMM_UTIL_H
#define VMM_UTIL_H

#include <stddef.h>
#include <stdint.h>

void vmm_memcpy(void *dst, const void *src, size_t n);
void vmm_memset(void *dst, int c, size_t n);
int vmm_memcmp(const void *a, const void *b, size_t n);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline uint32_t read_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t read_le64(const uint8_t *p)
{
    return (uint64_t)read_le32(p) | (uint64_t)read_le32(p + 4) << 32;
}

static inline uint32_t read_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* True when [a, a+alen) and [b, b+blen) share a byte; empty ranges overlap nothing. */
static inline int ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

/* True when [a, a+alen) lies inside [outer, outer+olen), without overflow. */
static inline int range_inside(uint64_t a, uint64_t alen, uint64_t outer, uint64_t olen)
{
    return a >= outer && alen <= olen && a - outer <= olen - alen;
}

#endif
