/* The device tree editor: lookups, property and node edits (sizes, header fields, the rest of
 * the tree unchanged, checked with an independent reader), room limits, malformed blobs. */
#include <stdlib.h>
#include <string.h>
#include <vmm/fdt.h>

#include "dtb_build.h"
#include "test.h"

#define CAP 4096u

static uint8_t blob[CAP];

static uint32_t hdr(const uint8_t *b, unsigned off)
{
    return (uint32_t)b[off] << 24 | (uint32_t)b[off + 1] << 16 | (uint32_t)b[off + 2] << 8 |
           b[off + 3];
}

static void set_hdr(uint8_t *b, unsigned off, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[off + i] = (uint8_t)(v >> (24 - 8 * i));
}

/* / { compatible; #address-cells; chosen { bootargs; }; serial@9000000 { reg; }; }. */
static size_t sample(uint8_t *out, size_t cap)
{
    static const uint8_t cells[4] = { 0, 0, 0, 2 };
    static const uint8_t reg[16] = { 0, 0, 0, 0, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0 };
    struct dtbb b;
    dtbb_init(&b);
    dtbb_prop_str(&b, "compatible", "vmm,test");
    dtbb_prop(&b, "#address-cells", cells, 4);
    dtbb_node(&b, "chosen");
    dtbb_prop_str(&b, "bootargs", "test");
    dtbb_end(&b);
    dtbb_node(&b, "serial@9000000");
    dtbb_prop(&b, "reg", reg, sizeof(reg));
    dtbb_end(&b);
    return dtbb_finish(&b, out, cap);
}

/* The whole tree, as the independent reader in dtb_build.c sees it, is `expected`. */
static int dump_is(const uint8_t *b, const char *expected)
{
    char *d = dtb_dump(b, CAP);
    int ok = d && strcmp(d, expected) == 0;
    if (!ok)
        printf("    tree is:\n%s    expected:\n%s", d ? d : "(unreadable)\n", expected);
    free(d);
    return ok;
}

TEST(fdt_check_accepts_and_measures)
{
    struct fdt_info info;
    size_t total = sample(blob, CAP);
    CHECK(total > 0);
    CHECK_EQ(fdt_check(blob, CAP, &info), FDT_OK);
    CHECK_EQ(info.total_size, total);
    CHECK_EQ(info.used_end, total);
    CHECK_EQ(fdt_check(blob, total, NULL), FDT_OK); /* capacity exactly the blob */
}

TEST(fdt_find_nodes_by_path)
{
    sample(blob, CAP);
    CHECK_EQ(fdt_find_node(blob, CAP, "/"), FDT_OK);
    CHECK_EQ(fdt_find_node(blob, CAP, "/chosen"), FDT_OK);
    CHECK_EQ(fdt_find_node(blob, CAP, "/chosen/"), FDT_OK);
    CHECK_EQ(fdt_find_node(blob, CAP, "/serial"), FDT_OK); /* unit address omitted */
    CHECK_EQ(fdt_find_node(blob, CAP, "/serial@9000000"), FDT_OK);
    CHECK_EQ(fdt_find_node(blob, CAP, "/serial@1"), FDT_ERR_NOT_FOUND);
    CHECK_EQ(fdt_find_node(blob, CAP, "/serial@900"), FDT_ERR_NOT_FOUND);
    CHECK_EQ(fdt_find_node(blob, CAP, "/ser"), FDT_ERR_NOT_FOUND);
    CHECK_EQ(fdt_find_node(blob, CAP, "/chosen/serial"), FDT_ERR_NOT_FOUND);
    CHECK_EQ(fdt_find_node(blob, CAP, "/nothing"), FDT_ERR_NOT_FOUND);
    CHECK_EQ(fdt_find_node(blob, CAP, "chosen"), FDT_ERR_BAD_NAME);
    CHECK_EQ(fdt_find_node(blob, CAP, NULL), FDT_ERR_BAD_NAME);
}

TEST(fdt_get_property)
{
    const uint8_t *v;
    uint32_t len;
    sample(blob, CAP);
    CHECK_EQ(fdt_get_prop(blob, CAP, "/chosen", "bootargs", &v, &len), FDT_OK);
    CHECK_EQ(len, 5);
    CHECK(memcmp(v, "test", 5) == 0);
    CHECK_EQ(fdt_get_prop(blob, CAP, "/serial", "reg", &v, &len), FDT_OK);
    CHECK_EQ(len, 16);
    CHECK_EQ(v[4], 0x09);
    CHECK_EQ(fdt_get_prop(blob, CAP, "/chosen", "boot", &v, &len), FDT_ERR_NOT_FOUND);
    CHECK_EQ(fdt_get_prop(blob, CAP, "/", "bootargs", &v, &len), FDT_ERR_NOT_FOUND);
}

static const char sample_dump[] = "/\n"
                                  "/ compatible=766d6d2c7465737400\n"
                                  "/ #address-cells=00000002\n"
                                  "/chosen\n"
                                  "/chosen bootargs=7465737400\n"
                                  "/serial@9000000\n"
                                  "/serial@9000000 reg=00000000090000000000000000001000\n";

TEST(fdt_add_property_grows_by_its_size_and_name)
{
    static const uint8_t seed[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    size_t total = sample(blob, CAP);
    uint32_t st_size = hdr(blob, 36), str_off = hdr(blob, 12), str_size = hdr(blob, 32);
    CHECK(dump_is(blob, sample_dump));
    CHECK_EQ(fdt_set_prop(blob, CAP, "/chosen", "kaslr-seed", seed, 8), FDT_OK);
    /* token, length, name offset, 8 bytes of value; "kaslr-seed\0" in the strings */
    CHECK_EQ(hdr(blob, 4), total + 12 + 8 + 11);
    CHECK_EQ(hdr(blob, 36), st_size + 20);
    CHECK_EQ(hdr(blob, 12), str_off + 20);
    CHECK_EQ(hdr(blob, 32), str_size + 11);
    CHECK_EQ(fdt_check(blob, CAP, NULL), FDT_OK);
    CHECK(dump_is(blob, "/\n"
                        "/ compatible=766d6d2c7465737400\n"
                        "/ #address-cells=00000002\n"
                        "/chosen\n"
                        "/chosen kaslr-seed=0102030405060708\n"
                        "/chosen bootargs=7465737400\n"
                        "/serial@9000000\n"
                        "/serial@9000000 reg=00000000090000000000000000001000\n"));
}

TEST(fdt_add_property_reuses_a_known_name)
{
    size_t total = sample(blob, CAP);
    uint32_t str_size = hdr(blob, 32);
    CHECK_EQ(fdt_set_prop(blob, CAP, "/serial", "bootargs", "abc", 3), FDT_OK);
    CHECK_EQ(hdr(blob, 4), total + 12 + 4); /* value padded to 4; no new string */
    CHECK_EQ(hdr(blob, 32), str_size);
    /* A suffix of a known name is a known name too. */
    CHECK_EQ(fdt_set_prop(blob, CAP, "/serial", "cells", "", 0), FDT_OK);
    CHECK_EQ(hdr(blob, 4), total + 12 + 4 + 12);
    CHECK_EQ(hdr(blob, 32), str_size);
    const uint8_t *v;
    uint32_t len;
    CHECK_EQ(fdt_get_prop(blob, CAP, "/serial", "cells", &v, &len), FDT_OK);
    CHECK_EQ(len, 0);
    CHECK_EQ(fdt_check(blob, CAP, NULL), FDT_OK);
}

TEST(fdt_replace_property_other_sizes)
{
    static uint8_t big[100];
    const uint8_t *v;
    uint32_t len;
    for (unsigned i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(0x80 + i);
    size_t total = sample(blob, CAP);
    uint32_t str_size = hdr(blob, 32);
    CHECK_EQ(fdt_set_prop(blob, CAP, "/chosen", "bootargs", big, sizeof(big)), FDT_OK);
    CHECK_EQ(hdr(blob, 4), total - 8 + 100); /* "test\0" took 8 bytes padded */
    CHECK_EQ(hdr(blob, 32), str_size);
    CHECK_EQ(fdt_get_prop(blob, CAP, "/chosen", "bootargs", &v, &len), FDT_OK);
    CHECK_EQ(len, 100);
    CHECK(memcmp(v, big, 100) == 0);
    /* Smaller again: the blocks move back; totalsize keeps the freed bytes as free space. */
    CHECK_EQ(fdt_set_prop(blob, CAP, "/chosen", "bootargs", "x", 2), FDT_OK);
    CHECK_EQ(hdr(blob, 4), total - 8 + 100);
    CHECK_EQ(hdr(blob, 12) + hdr(blob, 32), total - 8 + 4);
    CHECK_EQ(fdt_check(blob, CAP, NULL), FDT_OK);
    CHECK(dump_is(blob, "/\n"
                        "/ compatible=766d6d2c7465737400\n"
                        "/ #address-cells=00000002\n"
                        "/chosen\n"
                        "/chosen bootargs=7800\n"
                        "/serial@9000000\n"
                        "/serial@9000000 reg=00000000090000000000000000001000\n"));
    for (size_t i = hdr(blob, 12) + hdr(blob, 32); i < hdr(blob, 4); i++)
        CHECK_EQ(blob[i], 0);
}

TEST(fdt_add_node_last_child)
{
    size_t total = sample(blob, CAP);
    CHECK_EQ(fdt_add_node(blob, CAP, "/", "psci"), FDT_OK);
    CHECK_EQ(hdr(blob, 4), total + 4 + 8 + 4);
    CHECK_EQ(fdt_add_node(blob, CAP, "/", "psci"), FDT_ERR_EXISTS);
    CHECK_EQ(fdt_add_node(blob, CAP, "/psci", "inner@1"), FDT_OK);
    CHECK_EQ(fdt_set_prop(blob, CAP, "/psci/inner", "method", "smc", 4), FDT_OK);
    CHECK_EQ(fdt_add_node(blob, CAP, "/nothing", "x"), FDT_ERR_NOT_FOUND);
    CHECK_EQ(fdt_add_node(blob, CAP, "/", "a/b"), FDT_ERR_BAD_NAME);
    CHECK_EQ(fdt_add_node(blob, CAP, "/", ""), FDT_ERR_BAD_NAME);
    CHECK_EQ(fdt_add_node(blob, CAP, "/", "x@"), FDT_ERR_BAD_NAME);
    CHECK_EQ(fdt_set_prop(blob, CAP, "/", "bad name", "", 0), FDT_ERR_BAD_NAME);
    CHECK_EQ(fdt_check(blob, CAP, NULL), FDT_OK);
    CHECK(dump_is(blob, "/\n"
                        "/ compatible=766d6d2c7465737400\n"
                        "/ #address-cells=00000002\n"
                        "/chosen\n"
                        "/chosen bootargs=7465737400\n"
                        "/serial@9000000\n"
                        "/serial@9000000 reg=00000000090000000000000000001000\n"
                        "/psci\n"
                        "/psci/inner@1\n"
                        "/psci/inner@1 method=736d6300\n"));
}

TEST(fdt_edit_refused_without_room_leaves_blob_unchanged)
{
    static uint8_t before[CAP];
    static const uint8_t seed[8] = { 0 };
    size_t total = sample(blob, CAP);
    memcpy(before, blob, CAP);
    size_t need = total + 12 + 8 + 11;
    CHECK_EQ(fdt_set_prop(blob, need - 1, "/chosen", "kaslr-seed", seed, 8), FDT_ERR_NO_SPACE);
    CHECK(memcmp(before, blob, CAP) == 0);
    CHECK_EQ(fdt_add_node(blob, total + 15, "/", "psci"), FDT_ERR_NO_SPACE);
    CHECK(memcmp(before, blob, CAP) == 0);
    CHECK_EQ(fdt_set_prop(blob, need, "/chosen", "kaslr-seed", seed, 8), FDT_OK);
    CHECK_EQ(hdr(blob, 4), need);
    for (size_t i = need; i < CAP; i++)
        CHECK_EQ(blob[i], 0); /* nothing written past the capacity */
    CHECK_EQ(fdt_set_prop(blob, CAP, "/chosen", "kaslr-seed", seed, 0xfffffff0u), FDT_ERR_NO_SPACE);
}

TEST(fdt_nops_and_later_versions)
{
    struct dtbb b;
    const uint8_t *v;
    uint32_t len;
    static const uint8_t nop[4] = { 0, 0, 0, 4 };
    dtbb_init(&b);
    dtbb_prop_str(&b, "model", "m");
    dtbb_node(&b, "chosen");
    dtbb_end(&b);
    size_t total = dtbb_finish(&b, blob, CAP);
    /* Put a NOP in front of the root's first property: make room by hand. */
    uint32_t off_st = hdr(blob, 8);
    memmove(blob + off_st + 12, blob + off_st + 8, total - off_st - 8);
    memcpy(blob + off_st + 8, nop, 4);
    set_hdr(blob, 4, (uint32_t)total + 4);
    set_hdr(blob, 12, hdr(blob, 12) + 4);
    set_hdr(blob, 36, hdr(blob, 36) + 4);
    set_hdr(blob, 20, 18); /* a later version readable as 17 */
    CHECK_EQ(fdt_check(blob, CAP, NULL), FDT_OK);
    CHECK_EQ(fdt_get_prop(blob, CAP, "/", "model", &v, &len), FDT_OK);
    CHECK_EQ(len, 2);
    CHECK_EQ(fdt_set_prop(blob, CAP, "/", "model", "mm", 3), FDT_OK);
    CHECK_EQ(hdr(blob, 20), 17); /* edited: only version 17's fields are kept up */
    CHECK(dump_is(blob, "/\n/ model=6d6d00\n/chosen\n"));
}

/* Malformed blobs: each refused with its reason, by every call (a mismatch fails the test). */
static enum fdt_status all_calls(uint8_t *b, size_t cap)
{
    const uint8_t *v;
    uint32_t len;
    enum fdt_status st = fdt_check(b, cap, NULL);
    enum fdt_status got[4] = {
        fdt_find_node(b, cap, "/chosen"),
        fdt_get_prop(b, cap, "/chosen", "bootargs", &v, &len),
        fdt_set_prop(b, cap, "/chosen", "x", "", 0),
        fdt_add_node(b, cap, "/", "y"),
    };
    for (unsigned i = 0; i < 4; i++) {
        if (got[i] != st) {
            char m[96];
            snprintf(m, sizeof(m), "call %u returned %d where fdt_check said %d", i, got[i], st);
            test_failed(__FILE__, __LINE__, m);
        }
    }
    return st;
}

static int refused(void (*spoil)(uint8_t *b, size_t total), enum fdt_status want)
{
    static uint8_t before[CAP];
    size_t total = sample(blob, CAP);
    spoil(blob, total);
    memcpy(before, blob, CAP);
    enum fdt_status got = fdt_check(blob, CAP, NULL);
    if (got != want) {
        printf("    got status %d (%s), wanted %d\n", got, fdt_strerror(got), want);
        return 0;
    }
    int prev = test_current_failed;
    all_calls(blob, CAP);
    return !test_current_failed && !prev && memcmp(before, blob, CAP) == 0;
}

static void bad_magic(uint8_t *b, size_t t)
{
    (void)t;
    b[0] = 0;
}
static void total_over_capacity(uint8_t *b, size_t t)
{
    (void)t;
    set_hdr(b, 4, CAP + 1);
}
static void total_too_small(uint8_t *b, size_t t)
{
    (void)t;
    set_hdr(b, 4, 39);
}
static void version_16(uint8_t *b, size_t t)
{
    (void)t;
    set_hdr(b, 20, 16);
}
static void last_comp_18(uint8_t *b, size_t t)
{
    (void)t;
    set_hdr(b, 24, 18);
}
static void struct_misaligned(uint8_t *b, size_t t)
{
    (void)t;
    set_hdr(b, 8, hdr(b, 8) + 2);
}
static void struct_over_strings(uint8_t *b, size_t t)
{
    (void)t;
    set_hdr(b, 36, hdr(b, 36) + 4);
}
static void strings_past_total(uint8_t *b, size_t t)
{
    (void)t;
    set_hdr(b, 32, hdr(b, 32) + 1);
}
static void strings_before_struct(uint8_t *b, size_t t)
{
    (void)t;
    set_hdr(b, 12, 40);
}
static void rsvmap_unterminated(uint8_t *b, size_t t)
{
    (void)t;
    b[40 + 7] = 1;
}
static void rsvmap_in_header(uint8_t *b, size_t t)
{
    (void)t;
    set_hdr(b, 16, 32);
}
static void unknown_token(uint8_t *b, size_t t)
{
    (void)t;
    set_hdr(b, hdr(b, 8), 7);
}
/* The first property of the root follows its 8-byte BEGIN_NODE token. */
static void prop_name_out_of_range(uint8_t *b, size_t t)
{
    (void)t;
    set_hdr(b, hdr(b, 8) + 8 + 8, hdr(b, 32));
}
static void prop_len_huge(uint8_t *b, size_t t)
{
    (void)t;
    set_hdr(b, hdr(b, 8) + 8 + 4, 0xfffffff0u);
}
static void prop_len_past_block(uint8_t *b, size_t t)
{
    (void)t;
    set_hdr(b, hdr(b, 8) + 8 + 4, hdr(b, 36));
}
static void strings_unterminated(uint8_t *b, size_t t)
{
    b[t - 1] = 'x'; /* the last string loses its NUL */
}
static void no_end_token(uint8_t *b, size_t t)
{
    (void)t;
    set_hdr(b, hdr(b, 8) + hdr(b, 36) - 4, 4); /* END becomes NOP */
}
static void end_node_at_top(uint8_t *b, size_t t)
{
    (void)t;
    set_hdr(b, hdr(b, 8), 2);
}
static void prop_after_root(uint8_t *b, size_t t)
{
    (void)t;
    set_hdr(b, hdr(b, 8) + hdr(b, 36) - 4, 3); /* a PROP after the root, running off the end */
}
static void node_name_unterminated(uint8_t *b, size_t t)
{
    /* Fill the structure block after the root's BEGIN_NODE with non-zero bytes. */
    (void)t;
    memset(b + hdr(b, 8) + 4, 'a', hdr(b, 36) - 4);
}
static void second_root(uint8_t *b, size_t t)
{
    (void)t;
    /* The END token becomes a BEGIN_NODE whose name runs to the end of the block. */
    set_hdr(b, hdr(b, 8) + hdr(b, 36) - 4, 1);
}

TEST(fdt_malformed_blobs_refused)
{
    CHECK(refused(bad_magic, FDT_ERR_MAGIC));
    CHECK(refused(total_over_capacity, FDT_ERR_TRUNCATED));
    CHECK(refused(total_too_small, FDT_ERR_TRUNCATED));
    CHECK(refused(version_16, FDT_ERR_VERSION));
    CHECK(refused(last_comp_18, FDT_ERR_VERSION));
    CHECK(refused(struct_misaligned, FDT_ERR_LAYOUT));
    CHECK(refused(struct_over_strings, FDT_ERR_LAYOUT));
    CHECK(refused(strings_past_total, FDT_ERR_TRUNCATED));
    CHECK(refused(strings_before_struct, FDT_ERR_LAYOUT));
    CHECK(refused(rsvmap_unterminated, FDT_ERR_LAYOUT));
    CHECK(refused(rsvmap_in_header, FDT_ERR_LAYOUT));
    CHECK(refused(unknown_token, FDT_ERR_STRUCTURE));
    CHECK(refused(prop_name_out_of_range, FDT_ERR_STRUCTURE));
    CHECK(refused(prop_len_huge, FDT_ERR_STRUCTURE));
    CHECK(refused(prop_len_past_block, FDT_ERR_STRUCTURE));
    CHECK(refused(strings_unterminated, FDT_ERR_STRUCTURE));
    CHECK(refused(no_end_token, FDT_ERR_STRUCTURE));
    CHECK(refused(end_node_at_top, FDT_ERR_STRUCTURE));
    CHECK(refused(prop_after_root, FDT_ERR_STRUCTURE));
    CHECK(refused(node_name_unterminated, FDT_ERR_STRUCTURE));
    CHECK(refused(second_root, FDT_ERR_STRUCTURE));
    CHECK_EQ(fdt_check(NULL, CAP, NULL), FDT_ERR_TRUNCATED);
}

TEST(fdt_every_truncation_refused)
{
    size_t total = sample(blob, CAP);
    for (size_t cap = 0; cap < total; cap++) {
        /* A copy of exactly `cap` bytes on the heap, so ASan sees any read past it. */
        uint8_t *b = malloc(cap ? cap : 1);
        memcpy(b, blob, cap);
        enum fdt_status st = all_calls(b, cap);
        free(b);
        CHECK(st != FDT_OK);
    }
}

/* Every single-byte corruption of a valid blob: no call may crash or read outside it, and an edit
 * that succeeds leaves a blob that checks. */
TEST(fdt_every_byte_corrupted)
{
    static const uint8_t flips[] = { 0x01, 0x80, 0xff };
    static uint8_t pristine[CAP];
    size_t total = sample(pristine, CAP);
    unsigned accepted = 0, edited = 0;
    for (size_t i = 0; i < total; i++) {
        for (unsigned f = 0; f < sizeof(flips); f++) {
            size_t cap = total + 256;
            uint8_t *b = malloc(cap);
            memcpy(b, pristine, cap);
            b[i] ^= flips[f];
            const uint8_t *v;
            uint32_t len;
            int broken = 0;
            accepted += fdt_check(b, cap, NULL) == FDT_OK;
            (void)fdt_get_prop(b, cap, "/chosen", "bootargs", &v, &len);
            if (fdt_set_prop(b, cap, "/chosen", "kaslr-seed", "12345678", 8) == FDT_OK) {
                edited++;
                broken |= fdt_check(b, cap, NULL) != FDT_OK;
            }
            if (fdt_add_node(b, cap, "/", "chosen2") == FDT_OK)
                broken |= fdt_check(b, cap, NULL) != FDT_OK;
            free(b);
            CHECK(!broken);
        }
    }
    /* Some corruptions are harmless (a byte of a property value): they must stay editable. */
    CHECK(accepted > 0);
    CHECK(edited > 0);
}
