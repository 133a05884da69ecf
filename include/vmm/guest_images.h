/*
 * Guest images the boot loader places in RAM outside seL4's memory ("preloaded", GUEST_IMAGES=
 * preload), instead of the VMM carrying them in its ELF. The build writes one file per VM,
 * tools/vmmtools/preload.py: this header, then the kernel and the initramfs, each at a 4 KiB
 * boundary. The VMM maps the region read-only and checks the header before it trusts a byte of
 * it: nothing at that address, or images of another build, give one line, not a crash.
 */
#ifndef VMM_GUEST_IMAGES_H
#define VMM_GUEST_IMAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_IMAGES_MAGIC "SEL4VMMG"
#define GUEST_IMAGES_VERSION 1u
#define GUEST_IMAGES_HEADER_SIZE 4096u
#define GUEST_IMAGES_NONCE_LEN 16u

/* Little-endian, at the start of the region. */
struct guest_images_header {
    char magic[8];
    uint32_t version;
    uint32_t header_size;
    uint8_t nonce[GUEST_IMAGES_NONCE_LEN]; /* a hash of the images, written into the VMM too */
    uint64_t kernel_offset, kernel_size;
    uint64_t initrd_offset, initrd_size;
    uint64_t total_size;
};

/* What the VMM's generated configuration says of its preloaded images. */
struct vmm_preloaded_images {
    const uint8_t *base;   /* where the region is mapped in the VMM */
    uint64_t size;         /* bytes mapped */
    const uint64_t *paddr; /* its physical address (Microkit setvar region_paddr) */
    const char *file;      /* the file the boot loader must place there */
    uint8_t nonce[GUEST_IMAGES_NONCE_LEN];
};

struct vmm_config;

/* With preloaded images: check the header at the region against this build (nonce, offsets,
 * sizes, all inside the region). False, with one line in `why` saying what to load where, if
 * they are missing or from another build. True at once for images built into the VMM. */
bool guest_images_check(const struct vmm_config *cfg, char *why, size_t why_len);

#endif
