/* ChaCha20 block function, written from RFC 8439 section 2.3 (words are little-endian). */
#include <vmm/chacha20.h>
#include <vmm/util.h>

static uint32_t rotl(uint32_t v, unsigned n)
{
    return v << n | v >> (32 - n);
}

static void quarter_round(uint32_t *x, unsigned a, unsigned b, unsigned c, unsigned d)
{
    x[a] += x[b];
    x[d] = rotl(x[d] ^ x[a], 16);
    x[c] += x[d];
    x[b] = rotl(x[b] ^ x[c], 12);
    x[a] += x[b];
    x[d] = rotl(x[d] ^ x[a], 8);
    x[c] += x[d];
    x[b] = rotl(x[b] ^ x[c], 7);
}

void chacha20_block(const uint8_t key[CHACHA20_KEY_BYTES], uint32_t counter,
                    const uint8_t nonce[CHACHA20_NONCE_BYTES], uint8_t out[CHACHA20_BLOCK_BYTES])
{
    uint32_t state[16], x[16];
    state[0] = 0x61707865u; /* "expand 32-byte k" */
    state[1] = 0x3320646eu;
    state[2] = 0x79622d32u;
    state[3] = 0x6b206574u;
    for (unsigned i = 0; i < 8; i++)
        state[4 + i] = read_le32(key + 4 * i);
    state[12] = counter;
    for (unsigned i = 0; i < 3; i++)
        state[13 + i] = read_le32(nonce + 4 * i);
    for (unsigned i = 0; i < 16; i++)
        x[i] = state[i];
    for (unsigned round = 0; round < 10; round++) {
        quarter_round(x, 0, 4, 8, 12); /* columns */
        quarter_round(x, 1, 5, 9, 13);
        quarter_round(x, 2, 6, 10, 14);
        quarter_round(x, 3, 7, 11, 15);
        quarter_round(x, 0, 5, 10, 15); /* diagonals */
        quarter_round(x, 1, 6, 11, 12);
        quarter_round(x, 2, 7, 8, 13);
        quarter_round(x, 3, 4, 9, 14);
    }
    for (unsigned i = 0; i < 16; i++) {
        uint32_t v = x[i] + state[i];
        out[4 * i] = (uint8_t)v;
        out[4 * i + 1] = (uint8_t)(v >> 8);
        out[4 * i + 2] = (uint8_t)(v >> 16);
        out[4 * i + 3] = (uint8_t)(v >> 24);
    }
    vmm_memset(x, 0, sizeof(x)); /* no key material left on the stack */
    vmm_memset(state, 0, sizeof(state));
}
