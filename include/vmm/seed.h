/* Fresh randomness for every boot: the kaslr-seed and rng-seed the VMM writes into /chosen of
 * the guest's device tree before each boot (src/core/seed.c). */
#ifndef VMM_SEED_H
#define VMM_SEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vmm/config.h>
#include <vmm/fdt.h>

#define SEED_KASLR_BYTES 8u /* what arm64 Linux reads as its KASLR seed */
#define SEED_RNG_BYTES 64u  /* early entropy for the guest's random pool */
#define SEED_MAX_BYTES 128u /* most one seed_generate call delivers */

/* The mixing key: the build secret at first use, replaced after every boot (a ratchet, so the
 * seeds of a boot depend on the counter values of all earlier boots too). */
struct seed_state {
    uint8_t key[32];
    bool keyed;
};

enum seed_source {
    SEED_FROM_HW_RNG,      /* hardware RNG bytes, mixed with the counter, boot count, key */
    SEED_FROM_COUNTER_MIX, /* no hardware RNG: the counter, the boot count and the key */
    SEED_HW_RNG_FAILED,    /* the hardware RNG delivered nothing: the counter mix alone */
};

/* Fill out[0..len) (len <= SEED_MAX_BYTES) for boot number `boot` at physical counter value
 * `counter`; returns where the entropy came from. */
enum seed_source seed_generate(struct seed_state *st, const struct vmm_config *cfg, unsigned boot,
                               uint64_t counter, uint8_t *out, size_t len);

/* Set /chosen/kaslr-seed and /chosen/rng-seed in the DTB (adding /chosen when there is none),
 * growing it inside `capacity`. Both or neither: the DTB is unchanged on error. */
enum fdt_status seed_write_chosen(uint8_t *dtb, size_t capacity,
                                  const uint8_t kaslr[SEED_KASLR_BYTES],
                                  const uint8_t rng[SEED_RNG_BYTES]);

struct vm;
/* vm_boot, after the images are copied: fresh seeds into the guest's DTB in guest RAM, and one
 * log line naming their source (or why the guest gets none). */
void vm_seed_guest_dtb(struct vm *vm);

#endif
