/* Reading and editing a flattened device tree the VMM does not trust (see include/vmm/fdt.h). */
#include <stdbool.h>
#include <vmm/fdt.h>
#include <vmm/util.h>

#define FDT_VERSION 17u
#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE 2u
#define FDT_PROP 3u
#define FDT_NOP 4u
#define FDT_END 9u

/* Header fields (byte offsets). */
#define HDR_TOTALSIZE 4u
#define HDR_OFF_STRUCT 8u
#define HDR_OFF_STRINGS 12u
#define HDR_OFF_RSVMAP 16u
#define HDR_VERSION 20u
#define HDR_LAST_COMP 24u
#define HDR_SIZE_STRINGS 32u
#define HDR_SIZE_STRUCT 36u

#define RSV_ENTRY 16u
#define PROP_HEADER 12u /* token, length, name offset */

struct fdt {
    uint8_t *b;
    size_t cap;
    uint32_t total, off_rsv, off_struct, size_struct, off_strings, size_strings, version;
};

/* One token of the structure block; offsets are from the start of the block. */
struct token {
    uint32_t tag, off, next;
    const char *name; /* node or property name, NUL-terminated inside the blob */
    uint32_t name_len;
    uint32_t len; /* property value length; the value starts at off + PROP_HEADER */
};

static uint32_t be32(const uint8_t *p)
{
    return read_be32(p);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint64_t align4(uint64_t v)
{
    return (v + 3) & ~(uint64_t)3;
}

static size_t str_len(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

const char *fdt_strerror(enum fdt_status status)
{
    switch (status) {
    case FDT_OK: return "no error";
    case FDT_ERR_TRUNCATED: return "is truncated (a block lies outside the blob)";
    case FDT_ERR_MAGIC: return "has no device tree magic";
    case FDT_ERR_VERSION: return "is not a version 17 device tree";
    case FDT_ERR_LAYOUT: return "has its blocks misaligned, overlapping or out of order";
    case FDT_ERR_STRUCTURE: return "has a malformed structure block";
    case FDT_ERR_NOT_FOUND: return "has no such node or property";
    case FDT_ERR_EXISTS: return "already has that node";
    case FDT_ERR_NO_SPACE: return "has no room left for the edit";
    case FDT_ERR_BAD_NAME: return "cannot hold that path or name";
    }
    return "has an unknown problem";
}

static bool rsvmap_terminated(const struct fdt *f)
{
    for (uint64_t o = f->off_rsv; o + RSV_ENTRY <= f->off_struct; o += RSV_ENTRY) {
        bool zero = true;
        for (unsigned i = 0; i < RSV_ENTRY; i++)
            zero = zero && f->b[o + i] == 0;
        if (zero)
            return true;
    }
    return false;
}

/* Read and check the header: the blocks must lie inside totalsize, which lies inside the
 * capacity, in the order reservations, structure, strings. */
static enum fdt_status open_header(struct fdt *f, const uint8_t *blob, size_t cap)
{
    if (!blob || cap < FDT_HEADER_SIZE)
        return FDT_ERR_TRUNCATED;
    f->b = (uint8_t *)blob; /* written only through the editing calls, which own the blob */
    f->cap = cap;
    if (be32(blob) != FDT_MAGIC)
        return FDT_ERR_MAGIC;
    f->total = be32(blob + HDR_TOTALSIZE);
    f->off_struct = be32(blob + HDR_OFF_STRUCT);
    f->off_strings = be32(blob + HDR_OFF_STRINGS);
    f->off_rsv = be32(blob + HDR_OFF_RSVMAP);
    f->version = be32(blob + HDR_VERSION);
    f->size_strings = be32(blob + HDR_SIZE_STRINGS);
    f->size_struct = be32(blob + HDR_SIZE_STRUCT);
    if (f->total < FDT_HEADER_SIZE || f->total > cap)
        return FDT_ERR_TRUNCATED;
    if (f->version < FDT_VERSION || be32(blob + HDR_LAST_COMP) > FDT_VERSION)
        return FDT_ERR_VERSION;
    if (f->off_rsv < FDT_HEADER_SIZE || (f->off_rsv & 7) || (f->off_struct & 3) ||
        (f->size_struct & 3) || f->off_rsv > f->off_struct ||
        (uint64_t)f->off_struct + f->size_struct > f->off_strings)
        return FDT_ERR_LAYOUT;
    if ((uint64_t)f->off_strings + f->size_strings > f->total)
        return FDT_ERR_TRUNCATED;
    if (!rsvmap_terminated(f))
        return FDT_ERR_LAYOUT;
    return FDT_OK;
}

/* Decode the token at `off`; everything it names must lie inside its block. */
static enum fdt_status read_token(const struct fdt *f, uint32_t off, struct token *t)
{
    const uint8_t *s = f->b + f->off_struct;
    if ((uint64_t)off + 4 > f->size_struct)
        return FDT_ERR_STRUCTURE;
    t->tag = be32(s + off);
    t->off = off;
    t->name = NULL;
    t->name_len = t->len = 0;
    switch (t->tag) {
    case FDT_BEGIN_NODE: {
        uint32_t n = off + 4;
        while (n < f->size_struct && s[n])
            n++;
        if (n >= f->size_struct)
            return FDT_ERR_STRUCTURE;
        t->name = (const char *)s + off + 4;
        t->name_len = n - (off + 4);
        uint64_t next = align4((uint64_t)n + 1);
        if (next > f->size_struct)
            return FDT_ERR_STRUCTURE;
        t->next = (uint32_t)next;
        return FDT_OK;
    }
    case FDT_PROP: {
        if ((uint64_t)off + PROP_HEADER > f->size_struct)
            return FDT_ERR_STRUCTURE;
        t->len = be32(s + off + 4);
        uint32_t nameoff = be32(s + off + 8);
        uint64_t next = align4((uint64_t)off + PROP_HEADER + t->len);
        if (next > f->size_struct || nameoff >= f->size_strings)
            return FDT_ERR_STRUCTURE;
        const uint8_t *str = f->b + f->off_strings;
        uint32_t n = nameoff;
        while (n < f->size_strings && str[n])
            n++;
        if (n >= f->size_strings)
            return FDT_ERR_STRUCTURE;
        t->name = (const char *)str + nameoff;
        t->name_len = n - nameoff;
        t->next = (uint32_t)next;
        return FDT_OK;
    }
    case FDT_END_NODE:
    case FDT_NOP:
    case FDT_END: t->next = off + 4; return FDT_OK;
    default: return FDT_ERR_STRUCTURE;
    }
}

/* Every token in bounds, nodes nested properly under one root, properties inside nodes, an END
 * after the root. */
static enum fdt_status check_structure(const struct fdt *f)
{
    uint32_t off = 0, depth = 0;
    bool root_done = false;
    for (;;) {
        struct token t;
        enum fdt_status st = read_token(f, off, &t);
        if (st != FDT_OK)
            return st;
        switch (t.tag) {
        case FDT_BEGIN_NODE:
            if (root_done)
                return FDT_ERR_STRUCTURE;
            depth++;
            break;
        case FDT_END_NODE:
            if (depth == 0)
                return FDT_ERR_STRUCTURE;
            if (--depth == 0)
                root_done = true;
            break;
        case FDT_PROP:
            if (depth == 0)
                return FDT_ERR_STRUCTURE;
            break;
        case FDT_END: return depth == 0 && root_done ? FDT_OK : FDT_ERR_STRUCTURE;
        default: break; /* NOP */
        }
        off = t.next; /* strictly increasing, bounded by size_struct: the loop ends */
    }
}

static enum fdt_status open_blob(struct fdt *f, const uint8_t *blob, size_t cap)
{
    enum fdt_status st = open_header(f, blob, cap);
    return st != FDT_OK ? st : check_structure(f);
}

enum fdt_status fdt_check(const uint8_t *blob, size_t capacity, struct fdt_info *info)
{
    struct fdt f;
    enum fdt_status st = open_blob(&f, blob, capacity);
    if (st == FDT_OK && info) {
        info->total_size = f.total;
        info->used_end = f.off_strings + f.size_strings;
    }
    return st;
}

/* Does the node name match path component comp[0..clen)? A component without a unit address
 * matches any unit address. */
static bool name_matches(const struct token *t, const char *comp, size_t clen)
{
    if (t->name_len < clen || vmm_memcmp(t->name, comp, clen) != 0)
        return false;
    return t->name_len == clen || t->name[clen] == '@';
}

static const char *skip_slashes(const char *p)
{
    while (*p == '/')
        p++;
    return p;
}

/* Offset of the BEGIN_NODE token of the node at `path` (the blob has been checked). */
static enum fdt_status find_node(const struct fdt *f, const char *path, uint32_t *node_off)
{
    if (!path || path[0] != '/')
        return FDT_ERR_BAD_NAME;
    const char *comp = skip_slashes(path);
    uint32_t off = 0, depth = 0, matched = 0; /* the matched node is at depth matched + 1 */
    for (;;) {
        struct token t;
        if (read_token(f, off, &t) != FDT_OK)
            return FDT_ERR_STRUCTURE;
        if (t.tag == FDT_BEGIN_NODE) {
            depth++;
            bool hit = false;
            if (depth == 1) {
                hit = true; /* the root */
            } else if (depth == matched + 2) {
                size_t clen = 0;
                while (comp[clen] && comp[clen] != '/')
                    clen++;
                if (name_matches(&t, comp, clen)) {
                    matched++;
                    comp = skip_slashes(comp + clen);
                    hit = true;
                }
            }
            if (hit && *comp == '\0') {
                *node_off = off;
                return FDT_OK;
            }
        } else if (t.tag == FDT_END_NODE) {
            if (depth == matched + 1)
                return FDT_ERR_NOT_FOUND; /* the matched node ended without the next component */
            depth--;
        } else if (t.tag == FDT_END) {
            return FDT_ERR_NOT_FOUND;
        }
        off = t.next;
    }
}

static bool same_name(const struct token *t, const char *name, size_t len)
{
    return t->name_len == len && vmm_memcmp(t->name, name, len) == 0;
}

/* The property `name` of the node at node_off: FDT_OK with *prop set, or FDT_ERR_NOT_FOUND
 * with *first_prop_off where a new property goes (right after the node's name). */
static enum fdt_status find_prop(const struct fdt *f, uint32_t node_off, const char *name,
                                 struct token *prop, uint32_t *first_prop_off)
{
    struct token t;
    if (read_token(f, node_off, &t) != FDT_OK)
        return FDT_ERR_STRUCTURE;
    *first_prop_off = t.next;
    size_t len = str_len(name);
    for (uint32_t off = t.next;; off = t.next) {
        if (read_token(f, off, &t) != FDT_OK)
            return FDT_ERR_STRUCTURE;
        if (t.tag == FDT_PROP && same_name(&t, name, len)) {
            *prop = t;
            return FDT_OK;
        }
        if (t.tag != FDT_PROP && t.tag != FDT_NOP)
            return FDT_ERR_NOT_FOUND;
    }
}

enum fdt_status fdt_find_node(const uint8_t *blob, size_t capacity, const char *path)
{
    struct fdt f;
    uint32_t off;
    enum fdt_status st = open_blob(&f, blob, capacity);
    return st != FDT_OK ? st : find_node(&f, path, &off);
}

enum fdt_status fdt_get_prop(const uint8_t *blob, size_t capacity, const char *path,
                             const char *name, const uint8_t **value, uint32_t *len)
{
    struct fdt f;
    struct token p;
    uint32_t node, first;
    enum fdt_status st = open_blob(&f, blob, capacity);
    if (st == FDT_OK)
        st = find_node(&f, path, &node);
    if (st == FDT_OK)
        st = find_prop(&f, node, name, &p, &first);
    if (st != FDT_OK)
        return st;
    *value = f.b + f.off_struct + p.off + PROP_HEADER;
    *len = p.len;
    return FDT_OK;
}

/* Property names: 1-31 characters of [0-9a-zA-Z,._+?#-] (Devicetree Specification 2.2.4). */
static bool valid_prop_name(const char *s)
{
    size_t n = str_len(s);
    if (n == 0 || n > 31)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == ',' || c == '.' || c == '_' || c == '+' || c == '?' || c == '#' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* Node names: a name of [0-9a-zA-Z,._+-], optionally "@" and a unit address of the same. */
static bool valid_node_name(const char *s)
{
    size_t n = str_len(s);
    unsigned ats = 0;
    if (n == 0 || n > 255 || s[0] == '@')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == ',' || c == '.' || c == '_' || c == '+' || c == '-';
        if (c == '@') {
            ok = ++ats == 1 && i + 1 < n;
        }
        if (!ok)
            return false;
    }
    return true;
}

static uint32_t used_end(const struct fdt *f)
{
    return f->off_strings + f->size_strings;
}

/* Move everything from structure offset `at` to the end of the strings by `delta` bytes (a
 * multiple of 4; negative shrinks the structure block). The caller checked the room. */
static void shift_struct(struct fdt *f, uint32_t at, int64_t delta)
{
    uint8_t *from = f->b + f->off_struct + at;
    size_t n = used_end(f) - (f->off_struct + at);
    uint8_t *to = from + delta;
    /* An overlapping move in either direction: copy from the safe end. */
    if (delta > 0) {
        for (size_t i = n; i-- > 0;)
            to[i] = from[i];
    } else {
        for (size_t i = 0; i < n; i++)
            to[i] = from[i];
        vmm_memset(to + n, 0, (size_t)-delta); /* the freed tail becomes zeroed free space */
    }
    f->size_struct = (uint32_t)((int64_t)f->size_struct + delta);
    f->off_strings = (uint32_t)((int64_t)f->off_strings + delta);
}

/* Write the header fields an edit changes; totalsize grows to cover the blocks. */
static void store_header(struct fdt *f)
{
    if (used_end(f) > f->total)
        f->total = used_end(f);
    put_be32(f->b + HDR_TOTALSIZE, f->total);
    put_be32(f->b + HDR_OFF_STRINGS, f->off_strings);
    put_be32(f->b + HDR_SIZE_STRINGS, f->size_strings);
    put_be32(f->b + HDR_SIZE_STRUCT, f->size_struct);
    if (f->version > FDT_VERSION)
        put_be32(f->b + HDR_VERSION, FDT_VERSION); /* fields of later versions are not kept up */
}

/* Offset of `name` in the strings block (any NUL-terminated occurrence, suffixes included), or
 * -1. */
static int64_t find_string(const struct fdt *f, const char *name, size_t len)
{
    const uint8_t *s = f->b + f->off_strings;
    for (uint32_t i = 0; (uint64_t)i + len < f->size_strings; i++) {
        if (s[i + len] == 0 && vmm_memcmp(s + i, name, len) == 0)
            return i;
    }
    return -1;
}

static void write_value(uint8_t *dst, const void *value, uint32_t len)
{
    vmm_memcpy(dst, value, len);
    for (uint64_t i = len; i < align4(len); i++)
        dst[i] = 0;
}

enum fdt_status fdt_set_prop(uint8_t *blob, size_t capacity, const char *path, const char *name,
                             const void *value, uint32_t len)
{
    struct fdt f;
    struct token p;
    uint32_t node, first;
    if (!name || !valid_prop_name(name) || (len && !value))
        return FDT_ERR_BAD_NAME;
    if (len > capacity)
        return FDT_ERR_NO_SPACE;
    enum fdt_status st = open_blob(&f, blob, capacity);
    if (st == FDT_OK)
        st = find_node(&f, path, &node);
    if (st != FDT_OK)
        return st;
    st = find_prop(&f, node, name, &p, &first);
    if (st == FDT_OK) {
        int64_t delta = (int64_t)align4(len) - (int64_t)align4(p.len);
        if ((uint64_t)((int64_t)used_end(&f) + delta) > capacity)
            return FDT_ERR_NO_SPACE;
        shift_struct(&f, p.off + PROP_HEADER + (uint32_t)align4(p.len), delta);
        uint8_t *tok = f.b + f.off_struct + p.off;
        put_be32(tok + 4, len);
        write_value(tok + PROP_HEADER, value, len);
        store_header(&f);
        return FDT_OK;
    }
    if (st != FDT_ERR_NOT_FOUND)
        return st;
    size_t nlen = str_len(name);
    int64_t nameoff = find_string(&f, name, nlen);
    uint64_t grow = PROP_HEADER + align4(len);
    uint64_t string_bytes = nameoff < 0 ? nlen + 1 : 0;
    if ((uint64_t)used_end(&f) + grow + string_bytes > capacity)
        return FDT_ERR_NO_SPACE;
    shift_struct(&f, first, (int64_t)grow);
    if (nameoff < 0) {
        nameoff = f.size_strings;
        vmm_memcpy(f.b + used_end(&f), name, nlen + 1);
        f.size_strings += (uint32_t)(nlen + 1);
    }
    uint8_t *tok = f.b + f.off_struct + first;
    put_be32(tok, FDT_PROP);
    put_be32(tok + 4, len);
    put_be32(tok + 8, (uint32_t)nameoff);
    write_value(tok + PROP_HEADER, value, len);
    store_header(&f);
    return FDT_OK;
}

enum fdt_status fdt_add_node(uint8_t *blob, size_t capacity, const char *parent, const char *name)
{
    struct fdt f;
    uint32_t node;
    if (!name || !valid_node_name(name))
        return FDT_ERR_BAD_NAME;
    enum fdt_status st = open_blob(&f, blob, capacity);
    if (st == FDT_OK)
        st = find_node(&f, parent, &node);
    if (st != FDT_OK)
        return st;
    /* Find the parent's END_NODE, checking its children's names on the way. */
    size_t nlen = str_len(name);
    uint32_t off = node, depth = 0;
    struct token t;
    for (;; off = t.next) {
        if (read_token(&f, off, &t) != FDT_OK)
            return FDT_ERR_STRUCTURE;
        if (t.tag == FDT_BEGIN_NODE) {
            depth++;
            if (depth == 2 && same_name(&t, name, nlen))
                return FDT_ERR_EXISTS;
        } else if (t.tag == FDT_END_NODE) {
            if (--depth == 0)
                break;
        } else if (t.tag == FDT_END) {
            return FDT_ERR_STRUCTURE; /* cannot happen in a checked blob */
        }
    }
    uint64_t grow = 4 + align4(nlen + 1) + 4;
    if ((uint64_t)used_end(&f) + grow > capacity)
        return FDT_ERR_NO_SPACE;
    shift_struct(&f, off, (int64_t)grow);
    uint8_t *tok = f.b + f.off_struct + off;
    put_be32(tok, FDT_BEGIN_NODE);
    write_value(tok + 4, name, (uint32_t)nlen + 1);
    put_be32(tok + 4 + align4(nlen + 1), FDT_END_NODE);
    store_header(&f);
    return FDT_OK;
}
