/* vmm_memcpy (src/core/mem.c) at every alignment of source and destination and many lengths,
 * against the C library's; the source is a heap block of exactly the bytes copied (after its
 * offset), so ASan catches a read past its end, and guard bytes around the destination catch a
 * write outside it. */
#include <stdlib.h>
#include <string.h>
#include <vmm/util.h>

#include "test.h"

TEST(memcpy_every_alignment_and_length)
{
    static const size_t lens[] = { 0,  1,  7,  8,  15, 16,  17,   23,   24,  31,
                                   32, 33, 63, 64, 65, 100, 1514, 1526, 2048 };
    uint8_t want[2100], dst[2100 + 32];
    for (unsigned li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
        size_t n = lens[li];
        for (unsigned so = 0; so < 16; so++) {
            uint8_t *block = malloc((so + n) ? (so + n) : 1);
            CHECK(block != NULL);
            for (size_t i = 0; i < so + n; i++)
                block[i] = (uint8_t)(i * 131 + so + li);
            for (unsigned d_off = 0; d_off < 16; d_off++) {
                memset(dst, 0xee, sizeof(dst));
                memcpy(want, block + so, n);
                vmm_memcpy(dst + 8 + d_off, block + so, n);
                if (memcmp(dst + 8 + d_off, want, n) != 0) {
                    free(block);
                    CHECK(!"bytes differ");
                }
                for (unsigned g = 0; g < 8 + d_off; g++)
                    CHECK_EQ(dst[g], 0xee);
                for (size_t g = 8 + d_off + n; g < sizeof(dst); g++)
                    CHECK_EQ(dst[g], 0xee);
            }
            free(block);
        }
    }
}
