/*
 * libFuzzer target: the device tree editor on any blob, as the VMM meets a user's DTB at boot.
 * Input: one byte choosing the room left after the blob (0..1020 bytes), then the blob. The
 * blob sits in a heap buffer of exactly that capacity, so ASan catches any access past it.
 * Every call must return rather than crash; and:
 *  - an edit that fails leaves the blob byte for byte as it was;
 *  - an edit that succeeds leaves a blob that checks, with the value just set readable;
 *  - the seeds either both go in or neither does.
 */
#include <stdlib.h>
#include <string.h>
#include <vmm/fdt.h>
#include <vmm/seed.h>

static void must(int cond)
{
    if (!cond)
        abort();
}

static void check_value(const uint8_t *b, size_t cap, const char *path, const char *name,
                        const void *want, uint32_t want_len)
{
    const uint8_t *v;
    uint32_t len;
    must(fdt_get_prop(b, cap, path, name, &v, &len) == FDT_OK);
    must(len == want_len && memcmp(v, want, len) == 0);
}

/* Run `edit`'s outcome through the invariants: `copy` holds the blob from before it. */
static void after_edit(enum fdt_status st, const uint8_t *b, const uint8_t *copy, size_t cap)
{
    if (st != FDT_OK)
        must(memcmp(b, copy, cap) == 0);
    else
        must(fdt_check(b, cap, NULL) == FDT_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t kaslr[SEED_KASLR_BYTES] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    static uint8_t rng[SEED_RNG_BYTES];
    const uint8_t *v;
    uint32_t len;
    if (size < 1)
        return 0;
    for (unsigned i = 0; i < sizeof(rng); i++)
        rng[i] = (uint8_t)(i * 3 + 1);
    size_t len_blob = size - 1, cap = len_blob + (size_t)data[0] * 4;
    uint8_t *b = malloc(cap ? cap : 1), *copy = malloc(cap ? cap : 1);
    if (!b || !copy)
        abort();
    memcpy(b, data + 1, len_blob);
    memset(b + len_blob, 0, cap - len_blob);

    enum fdt_status valid = fdt_check(b, cap, NULL);
    if (fdt_find_node(b, cap, "/chosen") == FDT_OK)
        must(valid == FDT_OK);
    if (fdt_get_prop(b, cap, "/chosen", "bootargs", &v, &len) == FDT_OK)
        must(v >= b && v + len <= b + cap);
    (void)fdt_find_node(b, cap, "/soc/serial/x");

    memcpy(copy, b, cap);
    enum fdt_status st = seed_write_chosen(b, cap, kaslr, rng);
    after_edit(st, b, copy, cap);
    if (st == FDT_OK) {
        check_value(b, cap, "/chosen", "kaslr-seed", kaslr, sizeof(kaslr));
        check_value(b, cap, "/chosen", "rng-seed", rng, sizeof(rng));
    }

    memcpy(copy, b, cap);
    st = fdt_set_prop(b, cap, "/", "model", "fuzzed", 7);
    after_edit(st, b, copy, cap);
    if (st == FDT_OK)
        check_value(b, cap, "/", "model", "fuzzed", 7);

    /* A shorter value for a property that may be longer now. */
    memcpy(copy, b, cap);
    st = fdt_set_prop(b, cap, "/chosen", "rng-seed", "ab", 2);
    after_edit(st, b, copy, cap);

    memcpy(copy, b, cap);
    st = fdt_add_node(b, cap, "/chosen", "sub@1");
    after_edit(st, b, copy, cap);
    if (st == FDT_OK)
        must(fdt_find_node(b, cap, "/chosen/sub@1") == FDT_OK);
    free(b);
    free(copy);
    return 0;
}
