/* Planning where guest images go, checking the plan against guest RAM, and copying them. */
#include <vmm/guest.h>
#include <vmm/guest_images.h>
#include <vmm/inflate.h>
#include <vmm/log.h>
#include <vmm/util.h>

#define MIB (1024u * 1024u)

struct placed {
    const char *name;
    uint64_t addr, size;
};

static bool check_inside_ram(const struct vmm_config *cfg, const struct placed *p, char *why,
                             size_t why_len)
{
    if (!range_inside(p->addr, p->size, cfg->ram_base, cfg->ram_size)) {
        fmt_format(why, why_len, "%s at 0x%llx..0x%llx is outside guest RAM 0x%llx..0x%llx",
                   p->name, (unsigned long long)p->addr, (unsigned long long)(p->addr + p->size),
                   (unsigned long long)cfg->ram_base,
                   (unsigned long long)(cfg->ram_base + cfg->ram_size));
        return false;
    }
    return true;
}

bool guest_plan(const struct vmm_config *cfg, struct guest_layout *out, char *why, size_t why_len)
{
    size_t ksize = guest_image_span(cfg->kernel, cfg->kernel_end);
    const uint8_t *header = cfg->kernel;
    uint8_t inflated_header[64];
    size_t dsize = guest_image_span(cfg->dtb, cfg->dtb_end);
    size_t isize = guest_image_span(cfg->initrd, cfg->initrd_end);
    char reason[160];

    vmm_memset(out, 0, sizeof(*out));
    if (!guest_images_check(cfg, why, why_len))
        return false;
    if (ksize == 0) {
        fmt_format(why, why_len, "kernel: no image was built into the VMM");
        return false;
    }
    if (cfg->kernel_gzip) {
        const char *err;
        size_t got;
        if (!gunzip(cfg->kernel, ksize, inflated_header, sizeof(inflated_header), &got, true,
                    &err)) {
            fmt_format(why, why_len, "kernel: %s", err ? err : "gzip data too short");
            return false;
        }
        header = inflated_header;
        ksize = (size_t)gzip_size(cfg->kernel, ksize);
    }
    if (cfg->protocol == BOOT_LINUX) {
        struct linux_image_info info;
        if (!linux_image_check(header, ksize, &info, reason, sizeof(reason))) {
            fmt_format(why, why_len, "kernel: %s", reason);
            return false;
        }
        if (info.image_size > cfg->ram_size) {
            fmt_format(why, why_len, "kernel: needs %llu MiB but guest RAM is %llu MiB",
                       (unsigned long long)(info.image_size + MIB - 1) / MIB,
                       (unsigned long long)cfg->ram_size / MIB);
            return false;
        }
        if (cfg->ram_base & (2 * MIB - 1)) {
            fmt_format(why, why_len,
                       "guest RAM base 0x%llx is not 2 MiB aligned, as the arm64 "
                       "boot protocol needs",
                       (unsigned long long)cfg->ram_base);
            return false;
        }
        out->kernel_addr = cfg->ram_base + info.text_offset;
        out->kernel_mem = info.image_size;
        out->entry = out->kernel_addr;
    } else {
        out->kernel_addr = cfg->kernel_addr;
        out->kernel_mem = ksize;
        out->entry = cfg->entry;
    }
    if (dsize) {
        if (!dtb_check(cfg->dtb, dsize, reason, sizeof(reason))) {
            fmt_format(why, why_len, "dtb: %s", reason);
            return false;
        }
        if (cfg->dtb_addr & 7) {
            fmt_format(why, why_len, "dtb: address 0x%llx is not 8-byte aligned",
                       (unsigned long long)cfg->dtb_addr);
            return false;
        }
    } else if (cfg->protocol == BOOT_LINUX) {
        fmt_format(why, why_len, "dtb: Linux needs a device tree and none was built into the VMM");
        return false;
    }
    out->dtb_addr = cfg->dtb_addr;
    out->dtb_size = dsize;
    out->initrd_addr = cfg->initrd_addr;
    out->initrd_size = isize;

    struct placed p[3] = {
        { "kernel", out->kernel_addr, out->kernel_mem },
        { "dtb", out->dtb_addr, dsize },
        { "initrd", out->initrd_addr, isize },
    };
    for (unsigned i = 0; i < 3; i++) {
        if (p[i].size && !check_inside_ram(cfg, &p[i], why, why_len))
            return false;
    }
    if (!range_inside(out->entry, 4, out->kernel_addr, ksize)) {
        fmt_format(why, why_len, "kernel: entry point 0x%llx is outside the image",
                   (unsigned long long)out->entry);
        return false;
    }
    for (unsigned i = 0; i < 3; i++) {
        for (unsigned j = i + 1; j < 3; j++) {
            if (ranges_overlap(p[i].addr, p[i].size, p[j].addr, p[j].size)) {
                fmt_format(why, why_len, "%s (0x%llx..0x%llx) overlaps %s (0x%llx..0x%llx)",
                           p[i].name, (unsigned long long)p[i].addr,
                           (unsigned long long)(p[i].addr + p[i].size), p[j].name,
                           (unsigned long long)p[j].addr,
                           (unsigned long long)(p[j].addr + p[j].size));
                return false;
            }
        }
    }
    return true;
}

bool guest_copy_images(const struct vmm_config *cfg, const struct guest_layout *layout, void *ram,
                       char *why, size_t why_len)
{
    uint8_t *base = ram;
    uint8_t *kdst = base + (layout->kernel_addr - cfg->ram_base);
    size_t ksize = guest_image_span(cfg->kernel, cfg->kernel_end);
    if (cfg->kernel_gzip) {
        const char *err;
        size_t got;
        size_t want = (size_t)gzip_size(cfg->kernel, ksize);
        if (!gunzip(cfg->kernel, ksize, kdst, want, &got, false, &err)) {
            fmt_format(why, why_len, "kernel: %s", err);
            return false;
        }
    } else {
        vmm_memcpy(kdst, cfg->kernel, ksize);
    }
    if (layout->dtb_size)
        vmm_memcpy(base + (layout->dtb_addr - cfg->ram_base), cfg->dtb, layout->dtb_size);
    if (layout->initrd_size)
        vmm_memcpy(base + (layout->initrd_addr - cfg->ram_base), cfg->initrd, layout->initrd_size);
    return true;
}
