/* gzip decompression: dynamic, fixed and stored blocks, and corrupt input refused cleanly. */
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

/* The same pattern the test vectors were made from (tests/host/data, Python's random(7)). */
static int check_file(const char *path, size_t expect_len, const char *prefix)
{
    size_t len, out_len;
    const char *err;
    uint8_t *in = load(path, &len);
    if (!in)
        return 0;
    size_t size = (size_t)gzip_size(in, len);
    uint8_t *out = malloc(size + 1);
    int ok = size == expect_len && gunzip(in, len, out, size, &out_len, false, &err) &&
             out_len == size && memcmp(out, prefix, strlen(prefix)) == 0;
    free(in);
    free(out);
    return ok;
}

TEST(inflate_fixed_huffman)
{
    CHECK(check_file("tests/host/data/inflate-fixed.gz", 29, "hello hello hello, seL4 VMM!\n"));
}

TEST(inflate_dynamic_and_stored_agree)
{
    size_t la, lb, na, nb;
    const char *err;
    uint8_t *a = load("tests/host/data/inflate-dynamic.gz", &la);
    uint8_t *b = load("tests/host/data/inflate-stored.gz", &lb);
    CHECK(a && b);
    static uint8_t oa[200000], ob[70000];
    CHECK_EQ(gzip_size(a, la), sizeof(oa));
    CHECK(gunzip(a, la, oa, sizeof(oa), &na, false, &err));
    CHECK(gunzip(b, lb, ob, sizeof(ob), &nb, false, &err));
    CHECK(memcmp(oa, ob, sizeof(ob)) == 0);
    /* Just the first bytes, as the VMM does to read a kernel header. */
    uint8_t head[64];
    CHECK(gunzip(a, la, head, sizeof(head), &na, true, &err));
    CHECK_EQ(na, 64);
    CHECK(memcmp(head, oa, 64) == 0);
    free(a);
    free(b);
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
