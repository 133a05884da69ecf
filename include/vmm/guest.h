/* Loading guest images into guest RAM: validation, layout checks, copying, vCPU boot state. */
#ifndef VMM_GUEST_H
#define VMM_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vmm/config.h>

#define DTB_MAX_SIZE (2u * 1024 * 1024)
#define DTB_MAGIC 0xd00dfeedu
#define LINUX_ARM64_MAGIC 0x644d5241u /* "ARM\x64" */

/* SPSR for entering the guest: EL1h with D, A, I and F masked. */
#define GUEST_BOOT_SPSR 0x3c5u

struct linux_image_info {
    uint64_t text_offset;
    uint64_t image_size; /* memory the kernel needs from its load address, BSS included */
};

/* Bytes of an image given by its start and end in the configuration (0 when absent). */
static inline size_t guest_image_span(const uint8_t *start, const uint8_t *end)
{
    return start && end > start ? (size_t)(end - start) : 0;
}

/* Check an arm64 Linux Image header. On error returns false and writes a reason to `why`. */
bool linux_image_check(const uint8_t *img, size_t len, struct linux_image_info *info, char *why,
                       size_t why_len);

/* Check a flattened device tree blob header (magic, size, total size). */
bool dtb_check(const uint8_t *dtb, size_t len, char *why, size_t why_len);

/* Where each image goes in guest physical memory. */
struct guest_layout {
    uint64_t kernel_addr, kernel_mem; /* kernel_mem: bytes it occupies once running */
    uint64_t entry;
    uint64_t dtb_addr, dtb_size;
    uint64_t initrd_addr, initrd_size;
};

/* Validate every image and the layout against guest RAM; fill `out`. Reasons name the image. */
bool guest_plan(const struct vmm_config *cfg, struct guest_layout *out, char *why, size_t why_len);

/* Copy (or inflate) the images into guest RAM (mapped at `ram` in the VMM) following a checked
 * plan; false with a reason if a compressed image turns out corrupt. */
bool guest_copy_images(const struct vmm_config *cfg, const struct guest_layout *layout, void *ram,
                       char *why, size_t why_len);

#endif
