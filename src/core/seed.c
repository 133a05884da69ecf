/*
 * Fresh kaslr-seed and rng-seed for every boot of the guest, including after SYSTEM_RESET.
 *
 * Where the bytes come from, best first:
 *  - a hardware RNG, when the system file gives the VMM one it has a driver for
 *    (vmm_config.hw_rng_read); its 32 bytes are XORed into the mixing key;
 *  - always: the physical counter at boot (its low bits vary from boot to boot with the timing
 *    of everything before), the boot number of this VMM run, and the mixing key, which starts
 *    as the per-build secret tools/vmm-config.py drew from the build host's random source.
 * The mix is ChaCha20 keyed with the mixing key, the counter and boot number as its nonce:
 * blocks 0 and 1 give the seeds, block 2 the next boot's key (so each boot's seeds also depend
 * on every earlier boot's counter value, and the guest, which sees only the seeds, learns
 * nothing about the key).
 * Without a hardware RNG the first boot after power-on is only as unpredictable as the counter
 * and the secret: someone who has the VMM image and can guess the counter to the tick can
 * reproduce the seeds. Every build and every boot of one run still differ.
 */
#include <vmm/chacha20.h>
#include <vmm/seed.h>
#include <vmm/util.h>

enum seed_source seed_generate(struct seed_state *st, const struct vmm_config *cfg, unsigned boot,
                               uint64_t counter, uint8_t *out, size_t len)
{
    enum seed_source src = SEED_FROM_COUNTER_MIX;
    uint8_t nonce[CHACHA20_NONCE_BYTES], block[CHACHA20_BLOCK_BYTES];
    if (!st->keyed) {
        vmm_memcpy(st->key, cfg->build_secret, sizeof(st->key));
        st->keyed = true;
    }
    if (cfg->hw_rng_read) {
        uint8_t hw[sizeof(st->key)];
        if (cfg->hw_rng_read(hw, sizeof(hw))) {
            for (unsigned i = 0; i < sizeof(hw); i++)
                st->key[i] ^= hw[i];
            src = SEED_FROM_HW_RNG;
        } else {
            src = SEED_HW_RNG_FAILED;
        }
        vmm_memset(hw, 0, sizeof(hw));
    }
    for (unsigned i = 0; i < 8; i++)
        nonce[i] = (uint8_t)(counter >> (8 * i));
    for (unsigned i = 0; i < 4; i++)
        nonce[8 + i] = (uint8_t)(boot >> (8 * i));
    if (len > SEED_MAX_BYTES)
        len = SEED_MAX_BYTES;
    for (uint32_t b = 0; len; b++) {
        size_t n = len < sizeof(block) ? len : sizeof(block);
        chacha20_block(st->key, b, nonce, block);
        vmm_memcpy(out, block, n);
        out += n;
        len -= n;
    }
    chacha20_block(st->key, SEED_MAX_BYTES / CHACHA20_BLOCK_BYTES, nonce, block);
    vmm_memcpy(st->key, block, sizeof(st->key));
    vmm_memset(block, 0, sizeof(block));
    return src;
}

/* What the two properties and a new /chosen can add to the DTB at most. */
#define CHOSEN_NODE_BYTES (4u + 8u + 4u) /* BEGIN_NODE, "chosen" padded, END_NODE */
#define PROP_BYTES(len, name_len) (12u + (((len) + 3u) & ~3u) + (name_len) + 1u)
#define SEEDS_GROWTH_MAX \
    (CHOSEN_NODE_BYTES + PROP_BYTES(SEED_KASLR_BYTES, 10u) + PROP_BYTES(SEED_RNG_BYTES, 8u))

enum fdt_status seed_write_chosen(uint8_t *dtb, size_t capacity,
                                  const uint8_t kaslr[SEED_KASLR_BYTES],
                                  const uint8_t rng[SEED_RNG_BYTES])
{
    struct fdt_info info;
    enum fdt_status st = fdt_check(dtb, capacity, &info);
    if (st != FDT_OK)
        return st;
    /* Check the room for all of it first, so the edits below cannot stop half way. */
    if ((uint64_t)info.used_end + SEEDS_GROWTH_MAX > capacity)
        return FDT_ERR_NO_SPACE;
    st = fdt_find_node(dtb, capacity, "/chosen");
    if (st == FDT_ERR_NOT_FOUND)
        st = fdt_add_node(dtb, capacity, "/", "chosen");
    if (st == FDT_OK)
        st = fdt_set_prop(dtb, capacity, "/chosen", "kaslr-seed", kaslr, SEED_KASLR_BYTES);
    if (st == FDT_OK)
        st = fdt_set_prop(dtb, capacity, "/chosen", "rng-seed", rng, SEED_RNG_BYTES);
    return st;
}
