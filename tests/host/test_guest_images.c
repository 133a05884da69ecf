/* Preloaded guest images (vmm/guest_images.h): the VMM boots from a region whose header matches
 * its build, and refuses one that is empty, from another build or inconsistent, with one line. */
#include <string.h>
#include <vmm/guest.h>
#include <vmm/guest_images.h>

#include "fixture.h"
#include "test.h"

#define PRE_KERNEL_OFF GUEST_IMAGES_HEADER_SIZE
#define PRE_INITRD_OFF (PRE_KERNEL_OFF + 8192u)
#define PRE_TOTAL (PRE_INITRD_OFF + 1024u)
#define PRE_REGION (PRE_TOTAL + 4096u)

static _Alignas(4096) uint8_t region[PRE_REGION];
static const uint64_t region_paddr = 0x58000000u;
static struct vmm_preloaded_images pre;

static struct guest_images_header *header(void)
{
    return (struct guest_images_header *)region;
}

/* fx's configuration with its kernel and initrd moved into a preloaded region, as
 * tools/vmm-config.py generates it for GUEST_IMAGES=preload. */
static void preload_config(void)
{
    static const uint8_t nonce[GUEST_IMAGES_NONCE_LEN] = "this build here";
    fx_config(1);
    memset(region, 0, sizeof(region));
    memcpy(region + PRE_KERNEL_OFF, fx.kernel, sizeof(fx.kernel));
    memcpy(region + PRE_INITRD_OFF, fx.initrd, sizeof(fx.initrd));
    *header() = (struct guest_images_header){
        .version = GUEST_IMAGES_VERSION,
        .header_size = GUEST_IMAGES_HEADER_SIZE,
        .kernel_offset = PRE_KERNEL_OFF,
        .kernel_size = sizeof(fx.kernel),
        .initrd_offset = PRE_INITRD_OFF,
        .initrd_size = sizeof(fx.initrd),
        .total_size = PRE_TOTAL,
    };
    memcpy(header()->magic, GUEST_IMAGES_MAGIC, 8);
    memcpy(header()->nonce, nonce, sizeof(nonce));
    pre = (struct vmm_preloaded_images){
        .base = region,
        .size = sizeof(region),
        .paddr = &region_paddr,
        .file = "build/gen/linux/guest_images.img",
    };
    memcpy(pre.nonce, nonce, sizeof(nonce));
    fx.cfg.preloaded = &pre;
    fx.cfg.kernel = region + PRE_KERNEL_OFF;
    fx.cfg.kernel_end = fx.cfg.kernel + sizeof(fx.kernel);
    fx.cfg.initrd = region + PRE_INITRD_OFF;
    fx.cfg.initrd_end = fx.cfg.initrd + sizeof(fx.initrd);
}

TEST(preloaded_images_boot)
{
    struct guest_layout l;
    char why[256];
    preload_config();
    CHECK(guest_plan(&fx.cfg, &l, why, sizeof(why)));
    CHECK(guest_copy_images(&fx.cfg, &l, fx.ram, why, sizeof(why)));
    CHECK(memcmp(fx.ram + (l.kernel_addr - FX_RAM_BASE), region + PRE_KERNEL_OFF,
                 sizeof(fx.kernel)) == 0);
    CHECK(memcmp(fx.ram + (l.initrd_addr - FX_RAM_BASE), fx.initrd, sizeof(fx.initrd)) == 0);
}

TEST(preloaded_images_missing_says_what_to_load_where)
{
    preload_config();
    memset(region, 0, sizeof(region)); /* the boot loader placed nothing */
    CHECK(
        fx_plan_refused_with("guest images: none at physical 0x58000000; the boot loader must load "
                             "build/gen/linux/guest_images.img there"));
}

TEST(preloaded_images_of_another_build_refused)
{
    preload_config();
    header()->nonce[3] ^= 1;
    CHECK(fx_plan_refused_with("are not the ones this VMM was built with; load "
                               "build/gen/linux/guest_images.img there"));
    preload_config();
    header()->version = 2;
    CHECK(fx_plan_refused_with("not the ones this VMM was built with"));
}

TEST(preloaded_images_inconsistent_header_refused)
{
    preload_config();
    header()->kernel_size += 4096; /* would reach into the initrd */
    CHECK(fx_plan_refused_with("header does not match this build's"));
    preload_config();
    header()->total_size = sizeof(region) + 1; /* past the mapped region */
    CHECK(fx_plan_refused_with("header does not match"));
    preload_config();
    header()->kernel_offset = UINT64_MAX - 100; /* would wrap */
    CHECK(fx_plan_refused_with("header does not match"));
    preload_config();
    header()->initrd_size = 0; /* the build has an initrd */
    CHECK(fx_plan_refused_with("header does not match"));
    preload_config();
    header()->initrd_offset += 4096;
    CHECK(fx_plan_refused_with("header does not match"));
    preload_config();
    header()->total_size = PRE_INITRD_OFF; /* the initrd would lie past the end */
    CHECK(fx_plan_refused_with("header does not match"));
}

TEST(preloaded_images_region_smaller_than_header)
{
    preload_config();
    pre.size = 64;
    CHECK(fx_plan_refused_with("smaller than their header"));
}

TEST(preloaded_images_without_initrd)
{
    struct guest_layout l;
    char why[256];
    preload_config();
    header()->initrd_size = header()->initrd_offset = 0;
    fx.cfg.initrd = fx.cfg.initrd_end = NULL;
    CHECK(guest_plan(&fx.cfg, &l, why, sizeof(why)));
    CHECK_EQ(l.initrd_size, 0);
}
