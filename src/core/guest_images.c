/* Checking guest images the boot loader placed (vmm/guest_images.h) before any of them is used. */
#include <vmm/config.h>
#include <vmm/guest.h>
#include <vmm/guest_images.h>
#include <vmm/log.h>
#include <vmm/util.h>

/* As addresses, not pointer arithmetic: a configuration pointing elsewhere is refused, not UB. */
static uint64_t offset_of(const struct vmm_preloaded_images *p, const uint8_t *at)
{
    return at ? (uint64_t)((uintptr_t)at - (uintptr_t)p->base) : 0;
}

bool guest_images_check(const struct vmm_config *cfg, char *why, size_t why_len)
{
    const struct vmm_preloaded_images *p = cfg->preloaded;
    struct guest_images_header h;
    unsigned long long paddr;

    if (!p)
        return true;
    paddr = p->paddr ? (unsigned long long)*p->paddr : 0;
    if (p->size < GUEST_IMAGES_HEADER_SIZE) {
        fmt_format(why, why_len, "guest images: the region at 0x%llx is smaller than their header",
                   paddr);
        return false;
    }
    vmm_memcpy(&h, p->base, sizeof(h));
    if (vmm_memcmp(h.magic, GUEST_IMAGES_MAGIC, sizeof(h.magic)) != 0) {
        fmt_format(why, why_len,
                   "guest images: none at physical 0x%llx; the boot loader must load %s there "
                   "(GUEST_IMAGES=preload)",
                   paddr, p->file);
        return false;
    }
    if (h.version != GUEST_IMAGES_VERSION || h.header_size != GUEST_IMAGES_HEADER_SIZE ||
        vmm_memcmp(h.nonce, p->nonce, sizeof(h.nonce)) != 0) {
        fmt_format(
            why, why_len,
            "guest images at physical 0x%llx are not the ones this VMM was built with; load %s "
            "there",
            paddr, p->file);
        return false;
    }
    /* The same build wrote both, so a mismatch here means a corrupt header: still refused. */
    if (h.total_size > p->size || h.kernel_offset != offset_of(p, cfg->kernel) ||
        h.kernel_size != guest_image_span(cfg->kernel, cfg->kernel_end) ||
        !range_inside(h.kernel_offset, h.kernel_size, 0, h.total_size) ||
        (h.initrd_size && (h.initrd_offset != offset_of(p, cfg->initrd) ||
                           h.initrd_size != guest_image_span(cfg->initrd, cfg->initrd_end) ||
                           !range_inside(h.initrd_offset, h.initrd_size, 0, h.total_size))) ||
        (!h.initrd_size && guest_image_span(cfg->initrd, cfg->initrd_end))) {
        fmt_format(why, why_len,
                   "guest images at physical 0x%llx: their header does not match this build's "
                   "(kernel 0x%llx+0x%llx, initrd 0x%llx+0x%llx, %llu bytes)",
                   paddr, (unsigned long long)h.kernel_offset, (unsigned long long)h.kernel_size,
                   (unsigned long long)h.initrd_offset, (unsigned long long)h.initrd_size,
                   (unsigned long long)h.total_size);
        return false;
    }
    return true;
}
