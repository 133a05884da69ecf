/* gzip decompression for guest images built into the VMM compressed. */
#ifndef VMM_INFLATE_H
#define VMM_INFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The uncompressed size a gzip member states in its trailer (modulo 4 GiB). */
uint64_t gzip_size(const uint8_t *in, size_t len);

/* Decompress a gzip member into out[0..out_cap). With prefix_only, stop once out is full (to read
 * a header); otherwise the output must be exactly out_cap bytes and match the trailer's size and
 * CRC. On failure *err says why. */
bool gunzip(const uint8_t *in, size_t len, uint8_t *out, size_t out_cap, size_t *out_len,
            bool prefix_only, const char **err);

#endif
