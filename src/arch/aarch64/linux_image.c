/* arm64 Linux Image and device tree blob header checks (Documentation/arch/arm64/booting.rst). */
#include <vmm/guest.h>
#include <vmm/log.h>
#include <vmm/util.h>

#define IMAGE_HEADER_SIZE 64u
/* Kernels before 3.17 leave image_size zero; they were linked at this offset. */
#define LEGACY_TEXT_OFFSET 0x80000u

bool linux_image_check(const uint8_t *img, size_t len, struct linux_image_info *info, char *why,
                       size_t why_len)
{
    if (len < IMAGE_HEADER_SIZE) {
        fmt_format(why, why_len, "%zu bytes is too small for an arm64 Image header (64 bytes)",
                   len);
        return false;
    }
    uint32_t magic = read_le32(img + 0x38);
    if (magic != LINUX_ARM64_MAGIC) {
        fmt_format(why, why_len,
                   "bad magic 0x%08x at offset 0x38 (an arm64 Image has 0x%08x, "
                   "\"ARM\\x64\"); is it compressed or for another architecture?",
                   magic, LINUX_ARM64_MAGIC);
        return false;
    }
    info->text_offset = read_le64(img + 8);
    info->image_size = read_le64(img + 16);
    if (info->image_size == 0) {
        info->text_offset = LEGACY_TEXT_OFFSET;
        info->image_size = len;
    }
    if (info->image_size < len) {
        fmt_format(why, why_len, "header says the image needs 0x%llx bytes but the file has 0x%zx",
                   (unsigned long long)info->image_size, len);
        return false;
    }
    if (info->text_offset & 0xfff) {
        fmt_format(why, why_len, "text_offset 0x%llx is not page aligned",
                   (unsigned long long)info->text_offset);
        return false;
    }
    return true;
}

bool dtb_check(const uint8_t *dtb, size_t len, char *why, size_t why_len)
{
    if (len < 40) {
        fmt_format(why, why_len, "%zu bytes is too small for a device tree header", len);
        return false;
    }
    uint32_t magic = read_be32(dtb);
    if (magic != DTB_MAGIC) {
        fmt_format(why, why_len, "bad magic 0x%08x (a DTB starts with 0x%08x)", magic, DTB_MAGIC);
        return false;
    }
    uint32_t total = read_be32(dtb + 4);
    if (total > len) {
        fmt_format(why, why_len, "header total size %u is larger than the %zu bytes given", total,
                   len);
        return false;
    }
    if (len > DTB_MAX_SIZE) {
        fmt_format(why, why_len, "%zu bytes is over the 2 MiB limit Linux accepts", len);
        return false;
    }
    return true;
}
