#include "dtb_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void emit(struct dtbb *b, const void *data, size_t len)
{
    size_t padded = (len + 3) & ~(size_t)3;
    if (b->st_len + padded > b->st_cap) {
        b->st_cap = (b->st_len + padded) * 2 + 64;
        b->st = realloc(b->st, b->st_cap);
        if (!b->st)
            abort();
    }
    memcpy(b->st + b->st_len, data, len);
    memset(b->st + b->st_len + len, 0, padded - len);
    b->st_len += padded;
}

static void emit_u32(struct dtbb *b, uint32_t v)
{
    uint8_t w[4];
    put_be32(w, v);
    emit(b, w, 4);
}

void dtbb_init(struct dtbb *b)
{
    memset(b, 0, sizeof(*b));
    dtbb_node(b, "");
}

void dtbb_node(struct dtbb *b, const char *name)
{
    emit_u32(b, 1);
    emit(b, name, strlen(name) + 1);
}

void dtbb_end(struct dtbb *b)
{
    emit_u32(b, 2);
}

static uint32_t string_offset(struct dtbb *b, const char *name)
{
    size_t n = strlen(name) + 1;
    for (size_t i = 0; i < b->str_len; i += strlen(b->strings + i) + 1) {
        if (!strcmp(b->strings + i, name))
            return (uint32_t)i;
    }
    if (b->str_len + n > sizeof(b->strings))
        abort();
    memcpy(b->strings + b->str_len, name, n);
    b->str_len += n;
    return (uint32_t)(b->str_len - n);
}

void dtbb_prop(struct dtbb *b, const char *name, const void *value, uint32_t len)
{
    emit_u32(b, 3);
    emit_u32(b, len);
    emit_u32(b, string_offset(b, name));
    if (len)
        emit(b, value, len);
}

void dtbb_prop_str(struct dtbb *b, const char *name, const char *value)
{
    dtbb_prop(b, name, value, (uint32_t)strlen(value) + 1);
}

size_t dtbb_finish(struct dtbb *b, uint8_t *out, size_t cap)
{
    dtbb_end(b); /* the root */
    emit_u32(b, 9);
    size_t off_struct = 40 + 16, off_strings = off_struct + b->st_len;
    size_t total = off_strings + b->str_len;
    if (total > cap) {
        free(b->st);
        return 0;
    }
    memset(out, 0, cap);
    put_be32(out, 0xd00dfeed);
    put_be32(out + 4, (uint32_t)total);
    put_be32(out + 8, (uint32_t)off_struct);
    put_be32(out + 12, (uint32_t)off_strings);
    put_be32(out + 16, 40);
    put_be32(out + 20, 17);
    put_be32(out + 24, 16);
    put_be32(out + 28, 0);
    put_be32(out + 32, (uint32_t)b->str_len);
    put_be32(out + 36, (uint32_t)b->st_len);
    memcpy(out + off_struct, b->st, b->st_len);
    memcpy(out + off_strings, b->strings, b->str_len);
    free(b->st);
    b->st = NULL;
    return total;
}

size_t dtbb_fixture(uint8_t *out, size_t cap)
{
    struct dtbb b;
    dtbb_init(&b);
    dtbb_prop_str(&b, "compatible", "vmm,test");
    dtbb_node(&b, "chosen");
    dtbb_prop_str(&b, "bootargs", "test");
    dtbb_end(&b);
    return dtbb_finish(&b, out, cap);
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* strnlen is POSIX, not C11. */
static size_t bounded_len(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

struct text {
    char *s;
    size_t len, cap;
};

static void add_text(struct text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        if (!t->s)
            abort();
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

char *dtb_dump(const uint8_t *blob, size_t cap)
{
    if (cap < 40 || get_be32(blob) != 0xd00dfeed)
        return NULL;
    uint32_t total = get_be32(blob + 4), off_st = get_be32(blob + 8), off_str = get_be32(blob + 12),
             size_str = get_be32(blob + 32), size_st = get_be32(blob + 36);
    if (total > cap || (uint64_t)off_st + size_st > total || (uint64_t)off_str + size_str > total)
        return NULL;
    const uint8_t *st = blob + off_st;
    const char *strs = (const char *)blob + off_str;
    char path[1024] = "";
    size_t plen = 0;
    size_t stack[64];
    int depth = 0;
    struct text out = { NULL, 0, 0 };
    add_text(&out, "", 0);
    for (size_t off = 0; off + 4 <= size_st;) {
        uint32_t tag = get_be32(st + off);
        if (tag == 1) {
            const char *name = (const char *)st + off + 4;
            size_t n = bounded_len(name, size_st - off - 4);
            if (off + 4 + n >= size_st || depth == 64 || plen + n + 2 > sizeof(path))
                break;
            stack[depth++] = plen;
            if (depth > 1) {
                path[plen++] = '/';
                memcpy(path + plen, name, n);
                plen += n;
            }
            path[plen] = '\0';
            add_text(&out, depth == 1 ? "/" : path, depth == 1 ? 1 : plen);
            add_text(&out, "\n", 1);
            off = (off + 4 + n + 1 + 3) & ~(size_t)3;
        } else if (tag == 2) {
            if (depth == 0)
                break;
            plen = stack[--depth];
            path[plen] = '\0';
            off += 4;
        } else if (tag == 3) {
            if (off + 12 > size_st || depth == 0)
                break;
            uint32_t len = get_be32(st + off + 4), nameoff = get_be32(st + off + 8);
            if (nameoff >= size_str || (uint64_t)off + 12 + len > size_st ||
                bounded_len(strs + nameoff, size_str - nameoff) == size_str - nameoff)
                break;
            char line[64];
            add_text(&out, depth == 1 ? "/" : path, depth == 1 ? 1 : plen);
            snprintf(line, sizeof(line), " %s=", strs + nameoff);
            add_text(&out, line, strlen(line));
            for (uint32_t i = 0; i < len; i++) {
                snprintf(line, sizeof(line), "%02x", st[off + 12 + i]);
                add_text(&out, line, 2);
            }
            add_text(&out, "\n", 1);
            off = (off + 12 + len + 3) & ~(size_t)3;
        } else if (tag == 4) {
            off += 4;
        } else if (tag == 9) {
            if (depth != 0)
                break;
            return out.s;
        } else {
            break;
        }
    }
    free(out.s);
    return NULL;
}
