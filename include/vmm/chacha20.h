/* The ChaCha20 block function (RFC 8439, section 2.3): 64 bytes of keystream from a 256-bit key,
 * a 32-bit block counter and a 96-bit nonce. The VMM expands its boot entropy with it. */
#ifndef VMM_CHACHA20_H
#define VMM_CHACHA20_H

#include <stdint.h>

#define CHACHA20_KEY_BYTES 32u
#define CHACHA20_NONCE_BYTES 12u
#define CHACHA20_BLOCK_BYTES 64u

void chacha20_block(const uint8_t key[CHACHA20_KEY_BYTES], uint32_t counter,
                    const uint8_t nonce[CHACHA20_NONCE_BYTES], uint8_t out[CHACHA20_BLOCK_BYTES]);

#endif
