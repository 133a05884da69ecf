/* Guest image validation: a real Debian Image when available, and crafted bad ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vmm/guest.h>

#include "fixture.h"
#include "sim_hyp.h"
#include "test.h"

TEST(image_valid_plan)
{
    struct guest_layout l;
    char why[256];
    fx_config(1);
    CHECK(guest_plan(&fx.cfg, &l, why, sizeof(why)));
    CHECK_EQ(l.kernel_addr, FX_RAM_BASE);
    CHECK_EQ(l.entry, FX_RAM_BASE);
    CHECK_EQ(l.kernel_mem, 0x10000);
    CHECK_EQ(l.dtb_size, sizeof(fx.dtb));
}

TEST(image_text_offset_respected)
{
    struct guest_layout l;
    char why[256];
    fx_config(1);
    fx_make_image(fx.kernel, sizeof(fx.kernel), 0x80000, 0x100000);
    CHECK(guest_plan(&fx.cfg, &l, why, sizeof(why)));
    CHECK_EQ(l.kernel_addr, FX_RAM_BASE + 0x80000);
}

TEST(image_bad_magic)
{
    fx_config(1);
    fx.kernel[0x38] = 0x1f;
    CHECK(fx_plan_refused_with("kernel: bad magic"));
}

TEST(image_too_small)
{
    fx_config(1);
    fx.cfg.kernel_end = fx.cfg.kernel + 10;
    CHECK(fx_plan_refused_with("too small for an arm64 Image header"));
}

TEST(image_larger_than_ram)
{
    fx_config(1);
    fx_make_image(fx.kernel, sizeof(fx.kernel), 0, 64u << 20);
    CHECK(fx_plan_refused_with("needs 64 MiB but guest RAM is 16 MiB"));
}

TEST(image_dtb_bad_magic)
{
    fx_config(1);
    fx.dtb[0] = 0;
    CHECK(fx_plan_refused_with("dtb: bad magic"));
}

TEST(image_dtb_over_2mib)
{
    static uint8_t big[DTB_MAX_SIZE + 8];
    fx_config(1);
    memcpy(big, fx.dtb, sizeof(fx.dtb));
    big[4] = 0;
    big[5] = 0x20;
    big[6] = 0;
    big[7] = 0x08; /* total size 2 MiB + 8 */
    fx.cfg.dtb = big;
    fx.cfg.dtb_end = big + sizeof(big);
    CHECK(fx_plan_refused_with("over the 2 MiB limit"));
}

TEST(image_dtb_misaligned)
{
    fx_config(1);
    fx.cfg.dtb_addr += 4;
    CHECK(fx_plan_refused_with("not 8-byte aligned"));
}

TEST(image_initrd_overlaps_dtb)
{
    fx_config(1);
    fx.cfg.initrd_addr = fx.cfg.dtb_addr + 16;
    CHECK(fx_plan_refused_with("dtb (0x40e00000..0x40e00100) overlaps initrd"));
}

TEST(image_initrd_overlaps_kernel_bss)
{
    fx_config(1);
    fx.cfg.initrd_addr = FX_RAM_BASE + 0x8000; /* inside image_size, past the file */
    CHECK(fx_plan_refused_with("kernel (0x40000000..0x40010000) overlaps initrd"));
}

TEST(image_outside_ram)
{
    fx_config(1);
    fx.cfg.initrd_addr = FX_RAM_BASE + FX_RAM_SIZE - 100;
    CHECK(fx_plan_refused_with("initrd at 0x40ffff9c..0x4100039c is outside guest RAM 0x40000000"));
}

TEST(image_no_dtb_for_linux)
{
    fx_config(1);
    fx.cfg.dtb = fx.cfg.dtb_end = NULL;
    CHECK(fx_plan_refused_with("Linux needs a device tree"));
}

TEST(image_raw_binary_entry_checked)
{
    struct guest_layout l;
    char why[256];
    fx_config(1);
    fx.cfg.protocol = BOOT_RAW;
    fx.cfg.kernel_addr = FX_RAM_BASE + 0x100000;
    fx.cfg.entry = FX_RAM_BASE + 0x100000 + 0x40;
    memset(fx.kernel, 0, sizeof(fx.kernel)); /* no Linux header needed */
    CHECK(guest_plan(&fx.cfg, &l, why, sizeof(why)));
    CHECK_EQ(l.entry, FX_RAM_BASE + 0x100040);
    fx.cfg.entry = FX_RAM_BASE;
    CHECK(fx_plan_refused_with("entry point 0x40000000 is outside the image"));
}

TEST(image_refused_vm_does_not_start)
{
    fx_config(1);
    fx.kernel[0x39] = 0;
    CHECK(!vm_init(&fx.vm, &fx.cfg, fx.ram));
    CHECK(sim_console_has("boot: error: refusing to start: kernel: bad magic"));
    CHECK_EQ(sim.vcpu[0].starts, 0);
}

/* The real Debian kernel, when the image fetcher has run (GUEST_IMAGE_DIR or build/images). */
TEST(image_real_debian_kernel)
{
    const char *dir = getenv("GUEST_IMAGE_DIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/linux", dir ? dir : "build/images");
    FILE *f = fopen(path, "rb");
    if (!f) {
        char why[600];
        snprintf(why, sizeof(why), "no real kernel at %s (tests/run-all.sh builds it)", path);
        SKIP(why);
    }
    uint8_t hdr[64];
    size_t n = fread(hdr, 1, sizeof(hdr), f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    CHECK_EQ(n, 64);
    struct linux_image_info info;
    char why[200];
    /* Only the header is read here; claim the file's true length so size checks apply. */
    uint8_t *img = calloc(1, (size_t)size);
    CHECK(img != NULL);
    memcpy(img, hdr, sizeof(hdr));
    int ok = linux_image_check(img, (size_t)size, &info, why, sizeof(why));
    free(img);
    CHECK(ok);
    CHECK_EQ(info.text_offset, 0);
    CHECK(info.image_size >= (uint64_t)size);
    CHECK(info.image_size < (128u << 20));
}

/* A kernel built in gzip-compressed: its header is read through the inflater and the whole
 * image inflated into guest RAM at boot (and again at every reset). */
TEST(image_gzip_kernel_inflated_at_boot)
{
    FILE *f = fopen("tests/host/data/inflate-dynamic.gz", "rb");
    CHECK(f != NULL);
    static uint8_t gz[16384];
    size_t n = fread(gz, 1, sizeof(gz), f);
    fclose(f);
    fx_config(1);
    fx.cfg.kernel = gz;
    fx.cfg.kernel_end = gz + n;
    fx.cfg.kernel_gzip = 1;
    /* Not an arm64 Image inside: refused, naming the kernel, after inflating only its header. */
    CHECK(!vm_init(&fx.vm, &fx.cfg, fx.ram));
    CHECK(sim_console_has("kernel: bad magic"));
    /* As a raw binary it loads: 200000 inflated bytes at the load address. */
    fx.cfg.protocol = BOOT_RAW;
    fx.cfg.kernel_addr = FX_RAM_BASE + 0x100000;
    fx.cfg.entry = fx.cfg.kernel_addr;
    CHECK(vm_init(&fx.vm, &fx.cfg, fx.ram));
    CHECK(vm_boot(&fx.vm));
    CHECK_EQ(fx.vm.layout.kernel_mem, 200000);
    /* Corrupt compressed data: the boot fails with a reason, the VMM stays up. */
    gz[n / 2] ^= 0xff;
    CHECK(!vm_boot(&fx.vm));
    CHECK(sim_console_has("cannot load the guest: kernel:"));
}
