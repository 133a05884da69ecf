/* gzip decompression checked against zlib: the crafted fixtures (fixed, dynamic and stored
 * blocks) and the real kernel compressed by zlib, every byte; corrupt input refused cleanly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vmm/inflate.h>

#include "test.h"

static uint8_t *load(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len ? *len : 1);
    if (fread(b, 1, *len, f) != *len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

/* Where tests/host/zlib_reference.py put zlib's answers (make test-host and run-all.sh run it). */
static void reference_path(char *buf, size_t size, const char *name)
{
    const char *dir = getenv("ZLIB_REFERENCE_DIR");
    snprintf(buf, size, "%s/%s", dir ? dir : "build/host/zlib", name);
}

/* Inflate `gz` whole and compare every byte with `expect`; says where they first differ. */
static int inflates_to(const uint8_t *gz, size_t gz_len, const uint8_t *expect, size_t expect_len)
{
    size_t n;
    const char *err = NULL;
    if (gzip_size(gz, gz_len) != expect_len) {
        printf("    trailer says %llu bytes, expected %zu\n",
               (unsigned long long)gzip_size(gz, gz_len), expect_len);
        return 0;
    }
    uint8_t *out = malloc(expect_len ? expect_len : 1);
    int ok = gunzip(gz, gz_len, out, expect_len, &n, false, &err) && n == expect_len;
    if (!ok)
        printf("    gunzip failed: %s\n", err ? err : "short output");
    for (size_t i = 0; ok && i < expect_len; i++) {
        if (out[i] != expect[i]) {
            printf("    byte %zu of %zu: inflated 0x%02x, expected 0x%02x\n", i, expect_len, out[i],
                   expect[i]);
            ok = 0;
        }
    }
    free(out);
    return ok;
}

/* A crafted fixture against zlib's own inflation of it, every byte. */
static void check_fixture(const char *name, size_t expect_len)
{
    char gz_path[512], raw_name[128], raw_path[512], why[700];
    size_t gz_len, raw_len;
    snprintf(gz_path, sizeof(gz_path), "tests/host/data/%s.gz", name);
    snprintf(raw_name, sizeof(raw_name), "%s.raw", name);
    reference_path(raw_path, sizeof(raw_path), raw_name);
    uint8_t *gz = load(gz_path, &gz_len);
    CHECK(gz != NULL);
    uint8_t *raw = load(raw_path, &raw_len);
    if (!raw) {
        free(gz);
        snprintf(why, sizeof(why), "no zlib reference %s (tests/host/zlib_reference.py makes it)",
                 raw_path);
        SKIP(why);
    }
    int ok = raw_len == expect_len && inflates_to(gz, gz_len, raw, raw_len);
    free(gz);
    free(raw);
    CHECK(ok);
}

TEST(inflate_fixed_huffman)
{
    check_fixture("inflate-fixed", 29);
}

TEST(inflate_dynamic_huffman_matches_zlib)
{
    check_fixture("inflate-dynamic", 200000);
}

TEST(inflate_stored_blocks_match_zlib)
{
    check_fixture("inflate-stored", 70000);
}

TEST(inflate_prefix_only_reads_a_header)
{
    size_t len, n;
    const char *err;
    uint8_t *a = load("tests/host/data/inflate-dynamic.gz", &len);
    CHECK(a);
    /* Just the first bytes, as the VMM does to read a kernel header. */
    uint8_t head[64];
    int ok = gunzip(a, len, head, sizeof(head), &n, true, &err);
    free(a);
    CHECK(ok);
    CHECK_EQ(n, 64);
    CHECK(memcmp(head, "vmmvmmvmmvmmvmmvmmvmmvmmvmmvmmvmmvmmvmmseL4seL4seL4seL4seL4s", 60) == 0);
}

/* The real Debian kernel compressed by zlib at level 9: inflating it must give back the whole
 * image, byte for byte. */
TEST(inflate_real_kernel_matches_zlib)
{
    char gz_path[512], image_path[512], why[1200];
    size_t gz_len, image_len;
    const char *dir = getenv("GUEST_IMAGE_DIR");
    snprintf(image_path, sizeof(image_path), "%s/linux", dir ? dir : "build/images");
    reference_path(gz_path, sizeof(gz_path), "linux.gz");
    uint8_t *image = load(image_path, &image_len);
    uint8_t *gz = load(gz_path, &gz_len);
    if (!image || !gz) {
        free(image);
        free(gz);
        snprintf(why, sizeof(why),
                 "no real kernel %s or its zlib compression %s (tests/run-all.sh "
                 "makes both)",
                 image_path, gz_path);
        SKIP(why);
    }
    int ok = image_len > (1u << 20) && inflates_to(gz, gz_len, image, image_len);
    free(image);
    free(gz);
    CHECK(ok);
}

TEST(inflate_refuses_corruption)
{
    size_t len, n;
    const char *err;
    uint8_t *in = load("tests/host/data/inflate-dynamic.gz", &len);
    CHECK(in);
    static uint8_t out[200000];
    /* Flipped bits in the body: refused (bad code, bad distance or CRC), never a crash. */
    for (size_t pos = 20; pos < len - 8; pos += len / 37) {
        in[pos] ^= 0x5a;
        CHECK(!gunzip(in, len, out, sizeof(out), &n, false, &err));
        CHECK(err != NULL);
        in[pos] ^= 0x5a;
    }
    CHECK(!gunzip(in, len / 2, out, sizeof(out), &n, false, &err));
    CHECK(!gunzip(in, len, out, sizeof(out) - 1, &n, false, &err));
    in[0] = 0;
    CHECK(!gunzip(in, len, out, sizeof(out), &n, false, &err));
    CHECK(strstr(err, "not gzip") != NULL);
    free(in);
}
