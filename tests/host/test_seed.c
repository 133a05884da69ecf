/* Fresh kaslr-seed and rng-seed at every boot: the ChaCha20 mix, its inputs, the hardware RNG
 * hook, and the DTB edit in guest RAM (no /chosen, old seeds of other sizes, no room left). */
#include <stdlib.h>
#include <string.h>
#include <vmm/chacha20.h>
#include <vmm/fdt.h>
#include <vmm/psci.h>
#include <vmm/seed.h>

#include "dtb_build.h"
#include "fixture.h"
#include "sim_hyp.h"
#include "test.h"

#define SLOT (2u * 1024 * 1024)
/* What the seeds can add: a /chosen node (16 bytes), kaslr-seed (12 + 8 + "kaslr-seed\0") and
 * rng-seed (12 + 64 + "rng-seed\0"). */
#define SEEDS_GROWTH 132u

TEST(seed_chacha20_rfc8439_block)
{
    /* RFC 8439, section 2.3.2. */
    static const uint8_t want[64] = {
        0x10, 0xf1, 0xe7, 0xe4, 0xd1, 0x3b, 0x59, 0x15, 0x50, 0x0f, 0xdd, 0x1f, 0xa3,
        0x20, 0x71, 0xc4, 0xc7, 0xd1, 0xf4, 0xc7, 0x33, 0xc0, 0x68, 0x03, 0x04, 0x22,
        0xaa, 0x9a, 0xc3, 0xd4, 0x6c, 0x4e, 0xd2, 0x82, 0x64, 0x46, 0x07, 0x9f, 0xaa,
        0x09, 0x14, 0xc2, 0xd7, 0x05, 0xd9, 0x8b, 0x02, 0xa2, 0xb5, 0x12, 0x9c, 0xd1,
        0xde, 0x16, 0x4e, 0xb9, 0xcb, 0xd0, 0x83, 0xe8, 0xa2, 0x50, 0x3c, 0x4e,
    };
    static const uint8_t nonce[12] = { 0, 0, 0, 0x09, 0, 0, 0, 0x4a, 0, 0, 0, 0 };
    uint8_t key[32], out[64];
    for (unsigned i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    chacha20_block(key, 1, nonce, out);
    CHECK(memcmp(out, want, 64) == 0);
}

static void generate(const struct vmm_config *cfg, struct seed_state *st, unsigned boot,
                     uint64_t counter, uint8_t out[72])
{
    seed_generate(st, cfg, boot, counter, out, 72);
}

TEST(seed_mix_depends_on_every_input)
{
    struct vmm_config cfg;
    struct seed_state s1, s2;
    uint8_t a[72], b[72];
    memset(&cfg, 0, sizeof(cfg));
    for (unsigned i = 0; i < sizeof(cfg.build_secret); i++)
        cfg.build_secret[i] = (uint8_t)(i * 37 + 1);
    /* The same inputs from a fresh state give the same bytes: a mix, not a random source. */
    memset(&s1, 0, sizeof(s1));
    memset(&s2, 0, sizeof(s2));
    generate(&cfg, &s1, 1, 123456789, a);
    generate(&cfg, &s2, 1, 123456789, b);
    CHECK(memcmp(a, b, 72) == 0);
    /* The counter, the boot number and the secret each change everything. */
    memset(&s2, 0, sizeof(s2));
    generate(&cfg, &s2, 1, 123456790, b);
    CHECK(memcmp(a, b, 8) != 0 && memcmp(a + 8, b + 8, 64) != 0);
    memset(&s2, 0, sizeof(s2));
    generate(&cfg, &s2, 2, 123456789, b);
    CHECK(memcmp(a, b, 8) != 0 && memcmp(a + 8, b + 8, 64) != 0);
    memset(&s2, 0, sizeof(s2));
    cfg.build_secret[31] ^= 1;
    generate(&cfg, &s2, 1, 123456789, b);
    CHECK(memcmp(a, b, 8) != 0 && memcmp(a + 8, b + 8, 64) != 0);
    cfg.build_secret[31] ^= 1;
    /* The key moves on after each use: the same inputs again give other bytes. */
    generate(&cfg, &s1, 1, 123456789, b);
    CHECK(memcmp(a, b, 72) != 0);
    /* kaslr-seed and rng-seed are not the same bytes. */
    CHECK(memcmp(a, a + 8, 8) != 0);
}

static unsigned rng_calls;
static bool rng_ok;

static bool test_rng(uint8_t *buf, size_t len)
{
    rng_calls++;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(0xa5 ^ (i * 13) ^ rng_calls);
    return rng_ok;
}

TEST(seed_hardware_rng_is_mixed_in)
{
    struct vmm_config cfg;
    struct seed_state s1, s2;
    uint8_t a[72], b[72];
    memset(&cfg, 0, sizeof(cfg));
    memset(&s1, 0, sizeof(s1));
    memset(&s2, 0, sizeof(s2));
    CHECK_EQ(seed_generate(&s1, &cfg, 1, 5, a, 72), SEED_FROM_COUNTER_MIX);
    cfg.hw_rng_read = test_rng;
    rng_ok = true;
    rng_calls = 0;
    CHECK_EQ(seed_generate(&s2, &cfg, 1, 5, b, 72), SEED_FROM_HW_RNG);
    CHECK_EQ(rng_calls, 1);
    CHECK(memcmp(a, b, 72) != 0);
    rng_ok = false;
    memset(&s2, 0, sizeof(s2));
    CHECK_EQ(seed_generate(&s2, &cfg, 1, 5, b, 72), SEED_HW_RNG_FAILED);
    CHECK(memcmp(a, b, 72) == 0); /* nothing of the failed read was used */
}

static void read_seeds(uint8_t kaslr[8], uint8_t rng[64])
{
    const uint8_t *k = NULL, *r = NULL;
    uint32_t kl = 0, rl = 0;
    const uint8_t *dtb = fx.ram + (fx.cfg.dtb_addr - FX_RAM_BASE);
    memset(kaslr, 0, 8);
    memset(rng, 0, 64);
    if (fdt_get_prop(dtb, SLOT, "/chosen", "kaslr-seed", &k, &kl) == FDT_OK && kl == 8)
        memcpy(kaslr, k, 8);
    if (fdt_get_prop(dtb, SLOT, "/chosen", "rng-seed", &r, &rl) == FDT_OK && rl == 64)
        memcpy(rng, r, 64);
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i])
            return 0;
    }
    return 1;
}

TEST(seed_every_boot_gets_fresh_seeds)
{
    struct exit_reply r;
    uint8_t k1[8], r1[64], k2[8], r2[64];
    sim.now = 1000000;
    CHECK(fx_boot(1));
    read_seeds(k1, r1);
    CHECK(!all_zero(k1, 8) && !all_zero(r1, 64));
    CHECK(fx_ram_dtb_is_pristine_with_seeds());
    CHECK(sim_console_has(
        "fresh kaslr-seed and rng-seed for boot #1 in /chosen, from the counter mix"));
    /* The same counter value at the next boot: the boot number and the key still differ. */
    fx_smc(0, PSCI_SYSTEM_RESET, 0, 0, 0, &r);
    fx_run_drain_stubs(); /* the reset empties the list registers first, then boots */
    CHECK_EQ(fx.vm.boots, 2);
    read_seeds(k2, r2);
    CHECK(fx_ram_dtb_is_pristine_with_seeds());
    CHECK(memcmp(k1, k2, 8) != 0);
    CHECK(memcmp(r1, r2, 64) != 0);
    CHECK(sim_console_has("fresh kaslr-seed and rng-seed for boot #2 in /chosen"));
}

TEST(seed_differs_between_builds_and_counter_values)
{
    uint8_t k1[8], r1[64], k2[8], r2[64];
    sim.now = 777;
    CHECK(fx_boot(1));
    read_seeds(k1, r1);
    /* A restart of the whole system at the same counter value, same build: the same seeds (the
     * documented limit without a hardware RNG). */
    CHECK(fx_boot(1));
    read_seeds(k2, r2);
    CHECK(memcmp(k1, k2, 8) == 0 && memcmp(r1, r2, 64) == 0);
    sim.now = 778;
    CHECK(fx_boot(1));
    read_seeds(k2, r2);
    CHECK(memcmp(k1, k2, 8) != 0 && memcmp(r1, r2, 64) != 0);
    sim.now = 777;
    fx_config(1);
    fx.cfg.build_secret[0] = 1; /* another build */
    CHECK(vm_init(&fx.vm, &fx.cfg, fx.ram) && vm_boot(&fx.vm));
    read_seeds(k2, r2);
    CHECK(memcmp(k1, k2, 8) != 0 && memcmp(r1, r2, 64) != 0);
}

TEST(seed_hardware_rng_named_in_the_log)
{
    fx_config(1);
    fx.cfg.hw_rng_read = test_rng;
    fx.cfg.hw_rng_name = "the test RNG";
    rng_ok = true;
    CHECK(vm_init(&fx.vm, &fx.cfg, fx.ram) && vm_boot(&fx.vm));
    CHECK(
        sim_console_has("fresh kaslr-seed and rng-seed for boot #1 in /chosen, from the test RNG"));
    rng_ok = false;
    CHECK(vm_init(&fx.vm, &fx.cfg, fx.ram) && vm_boot(&fx.vm));
    CHECK(sim_console_has("from the counter mix: the hardware RNG delivered nothing"));
}

/* Boot the fixture with `dtb` (total bytes) as its device tree. */
static int boot_with_dtb(const uint8_t *dtb, size_t total)
{
    fx_config(1);
    fx.cfg.dtb = dtb;
    fx.cfg.dtb_end = dtb + total;
    return vm_init(&fx.vm, &fx.cfg, fx.ram) && vm_boot(&fx.vm);
}

TEST(seed_dtb_without_chosen_gets_one)
{
    static uint8_t dtb[512];
    struct dtbb b;
    dtbb_init(&b);
    dtbb_prop_str(&b, "model", "no chosen");
    dtbb_node(&b, "memory@40000000");
    dtbb_end(&b);
    size_t total = dtbb_finish(&b, dtb, sizeof(dtb));
    CHECK(total > 0);
    CHECK(boot_with_dtb(dtb, total));
    const uint8_t *ram_dtb = fx.ram + (fx.cfg.dtb_addr - FX_RAM_BASE);
    struct fdt_info info;
    CHECK_EQ(fdt_check(ram_dtb, SLOT, &info), FDT_OK);
    CHECK_EQ(info.total_size, total + SEEDS_GROWTH);
    char *d = dtb_dump(ram_dtb, SLOT);
    CHECK(d != NULL);
    int ok = strstr(d, "/ model=") && strstr(d, "/memory@40000000\n") && strstr(d, "/chosen\n") &&
             strstr(d, "/chosen kaslr-seed=") && strstr(d, "/chosen rng-seed=");
    free(d);
    CHECK(ok);
}

TEST(seed_replaces_old_seeds_of_other_sizes)
{
    static uint8_t dtb[512];
    static const uint8_t old_kaslr[4] = { 1, 2, 3, 4 };
    static uint8_t old_rng[128];
    memset(old_rng, 0x77, sizeof(old_rng));
    struct dtbb b;
    dtbb_init(&b);
    dtbb_node(&b, "chosen");
    dtbb_prop(&b, "rng-seed", old_rng, sizeof(old_rng));
    dtbb_prop_str(&b, "bootargs", "keep me");
    dtbb_prop(&b, "kaslr-seed", old_kaslr, sizeof(old_kaslr));
    dtbb_end(&b);
    size_t total = dtbb_finish(&b, dtb, sizeof(dtb));
    CHECK(boot_with_dtb(dtb, total));
    const uint8_t *ram_dtb = fx.ram + (fx.cfg.dtb_addr - FX_RAM_BASE);
    const uint8_t *v;
    uint32_t len;
    CHECK_EQ(fdt_get_prop(ram_dtb, SLOT, "/chosen", "kaslr-seed", &v, &len), FDT_OK);
    CHECK_EQ(len, 8);
    CHECK(memcmp(v, old_kaslr, 4) != 0);
    CHECK_EQ(fdt_get_prop(ram_dtb, SLOT, "/chosen", "rng-seed", &v, &len), FDT_OK);
    CHECK_EQ(len, 64);
    CHECK(memcmp(v, old_rng, 64) != 0);
    CHECK_EQ(fdt_get_prop(ram_dtb, SLOT, "/chosen", "bootargs", &v, &len), FDT_OK);
    CHECK(len == 8 && memcmp(v, "keep me", 8) == 0);
    struct fdt_info info;
    CHECK_EQ(fdt_check(ram_dtb, SLOT, &info), FDT_OK);
    /* kaslr-seed grew by 4, rng-seed shrank by 64; the freed bytes stay inside totalsize. */
    CHECK_EQ(info.total_size, total + 4);
    CHECK_EQ(info.used_end, total + 4 - 64);
}

/* A DTB of exactly `total` bytes (a padding property makes up the size; total - the rest must
 * be a multiple of 4). Returns 0 if that cannot be made. */
static size_t padded_dtb(uint8_t *out, size_t total)
{
    struct dtbb b;
    static uint8_t pad[SLOT];
    dtbb_init(&b);
    dtbb_prop(&b, "pad", pad, 0);
    dtbb_node(&b, "chosen");
    dtbb_end(&b);
    size_t base = dtbb_finish(&b, out, SLOT);
    if (total < base || (total - base) % 4)
        return 0;
    dtbb_init(&b);
    dtbb_prop(&b, "pad", pad, (uint32_t)(total - base));
    dtbb_node(&b, "chosen");
    dtbb_end(&b);
    return dtbb_finish(&b, out, SLOT);
}

TEST(seed_dtb_at_the_slot_limit_refused_cleanly)
{
    static uint8_t dtb[SLOT];
    /* The largest size the seeds fit in (a multiple of 4 away from the padded DTB's base). */
    size_t total = 0;
    for (size_t t = SLOT - SEEDS_GROWTH; t > SLOT - SEEDS_GROWTH - 4 && !total; t--)
        total = padded_dtb(dtb, t);
    CHECK(total > 0);
    CHECK(boot_with_dtb(dtb, total));
    CHECK(sim_console_has("fresh kaslr-seed and rng-seed for boot #1"));
    const uint8_t *ram_dtb = fx.ram + (fx.cfg.dtb_addr - FX_RAM_BASE);
    CHECK_EQ(fdt_check(ram_dtb, SLOT, NULL), FDT_OK);
    /* Four bytes more and the worst case no longer fits: refused, DTB untouched, boot goes on. */
    CHECK_EQ(padded_dtb(dtb, total + 4), total + 4);
    sim_reset();
    CHECK(boot_with_dtb(dtb, total + 4));
    CHECK(memcmp(ram_dtb, dtb, total + 4) == 0);
    CHECK(sim_console_has("no kaslr-seed or rng-seed for boot #1: the guest's device tree has no "
                          "room left for the edit"));
    CHECK(fx.vm.state == VM_RUNNING);
}

TEST(seed_malformed_dtb_refused_cleanly)
{
    static uint8_t dtb[256];
    size_t total = dtbb_fixture(dtb, sizeof(dtb));
    dtb[total - 1] = 'x'; /* the last property name loses its NUL */
    CHECK(boot_with_dtb(dtb, total));
    CHECK(sim_console_has("no kaslr-seed or rng-seed for boot #1: the guest's device tree has a "
                          "malformed structure block"));
    const uint8_t *ram_dtb = fx.ram + (fx.cfg.dtb_addr - FX_RAM_BASE);
    CHECK(memcmp(ram_dtb, dtb, total) == 0);
}

TEST(seed_raw_guest_without_dtb)
{
    fx_config(1);
    fx.cfg.protocol = BOOT_RAW;
    fx.cfg.kernel_addr = FX_RAM_BASE;
    fx.cfg.entry = FX_RAM_BASE;
    fx.cfg.dtb = fx.cfg.dtb_end = NULL;
    CHECK(vm_init(&fx.vm, &fx.cfg, fx.ram) && vm_boot(&fx.vm));
    CHECK(!sim_console_has("kaslr-seed"));
}
