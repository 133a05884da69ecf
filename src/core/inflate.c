/*
 * gzip/DEFLATE decompression (RFC 1951, RFC 1952) for guest images built into the VMM
 * compressed: no allocation, output straight into guest RAM, every length and distance checked.
 *
 * Huffman codes are decoded with a 10-bit lookup table, falling back to a canonical
 * bit-at-a-time walk for the rare longer codes.
 */
#include <vmm/inflate.h>
#include <vmm/util.h>

#define MAX_BITS 15
#define FAST_BITS 10
#define MAX_LITLEN 288
#define MAX_DIST 32

struct huffman {
    uint16_t count[MAX_BITS + 1];
    uint16_t symbol[MAX_LITLEN];
    uint16_t fast[1u << FAST_BITS]; /* (length << 9) | symbol; 0 when the code is longer */
};

struct inflater {
    const uint8_t *in;
    size_t in_len, in_pos;
    uint64_t bits;
    unsigned nbits;
    unsigned overrun; /* bytes of zero padding read past the end */
    uint8_t *out;
    size_t out_cap, out_pos;
    bool stop_when_full;
    const char *error;
};

static void refill(struct inflater *s)
{
    while (s->nbits <= 56) {
        uint64_t byte = 0;
        if (s->in_pos < s->in_len)
            byte = s->in[s->in_pos++];
        else
            s->overrun++;
        s->bits |= byte << s->nbits;
        s->nbits += 8;
    }
}

static uint32_t getbits(struct inflater *s, unsigned n)
{
    if (s->nbits < n)
        refill(s);
    uint32_t v = (uint32_t)(s->bits & ((UINT64_C(1) << n) - 1));
    s->bits >>= n;
    s->nbits -= n;
    return v;
}

/* Build a decoder from code lengths; false if the lengths over-subscribe the code space. */
static bool build(struct huffman *h, const uint8_t *lengths, unsigned n)
{
    uint16_t offs[MAX_BITS + 2];
    vmm_memset(h, 0, sizeof(*h));
    for (unsigned i = 0; i < n; i++)
        h->count[lengths[i]]++;
    h->count[0] = 0;
    int left = 1;
    for (unsigned len = 1; len <= MAX_BITS; len++) {
        left = left * 2 - h->count[len];
        if (left < 0)
            return false;
    }
    offs[1] = 0;
    for (unsigned len = 1; len <= MAX_BITS; len++)
        offs[len + 1] = (uint16_t)(offs[len] + h->count[len]);
    for (unsigned i = 0; i < n; i++) {
        if (lengths[i])
            h->symbol[offs[lengths[i]]++] = (uint16_t)i;
    }
    /* Canonical codes in order; index the fast table by the bit-reversed code. */
    unsigned code = 0, k = 0;
    for (unsigned len = 1; len <= FAST_BITS; len++) {
        for (unsigned c = 0; c < h->count[len]; c++, k++, code++) {
            unsigned rev = 0;
            for (unsigned b = 0; b < len; b++)
                rev |= ((code >> b) & 1u) << (len - 1 - b);
            for (unsigned fill = rev; fill < (1u << FAST_BITS); fill += 1u << len)
                h->fast[fill] = (uint16_t)(len << 9 | h->symbol[k]);
        }
        code <<= 1;
    }
    return true;
}

static int decode(struct inflater *s, const struct huffman *h)
{
    if (s->nbits < MAX_BITS)
        refill(s);
    uint16_t e = h->fast[s->bits & ((1u << FAST_BITS) - 1)];
    if (e) {
        s->bits >>= e >> 9;
        s->nbits -= e >> 9;
        return e & 0x1ff;
    }
    int code = 0, first = 0, index = 0;
    for (unsigned len = 1; len <= MAX_BITS; len++) {
        code |= (int)getbits(s, 1);
        int count = h->count[len];
        if (code - count < first)
            return h->symbol[index + (code - first)];
        index += count;
        first = (first + count) << 1;
        code <<= 1;
    }
    return -1;
}

static const uint16_t len_base[29] = { 3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                       15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                       67, 83, 99, 115, 131, 163, 195, 227, 258 };
static const uint8_t len_extra[29] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                       2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0 };
static const uint16_t dist_base[30] = { 1,    2,    3,    4,     5,     7,    9,    13,
                                        17,   25,   33,   49,    65,    97,   129,  193,
                                        257,  385,  513,  769,   1025,  1537, 2049, 3073,
                                        4097, 6145, 8193, 12289, 16385, 24577 };
static const uint8_t dist_extra[30] = { 0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                        6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13 };

static bool fail(struct inflater *s, const char *why)
{
    s->error = why;
    return false;
}

/* Emit one byte; false when the output is full. */
static bool put(struct inflater *s, uint8_t b)
{
    if (s->out_pos == s->out_cap)
        return s->stop_when_full ? false : fail(s, "output larger than its stated size");
    s->out[s->out_pos++] = b;
    return true;
}

static bool codes(struct inflater *s, const struct huffman *lit, const struct huffman *dist)
{
    for (;;) {
        int sym = decode(s, lit);
        if (sym < 0 || s->overrun > 8)
            return fail(s, "corrupt data (bad code or truncated input)");
        if (sym < 256) {
            if (!put(s, (uint8_t)sym))
                return false;
            continue;
        }
        if (sym == 256)
            return true;
        sym -= 257;
        if (sym >= 29)
            return fail(s, "corrupt data (bad length code)");
        size_t len = len_base[sym] + getbits(s, len_extra[sym]);
        int dsym = decode(s, dist);
        if (dsym < 0 || dsym >= 30)
            return fail(s, "corrupt data (bad distance code)");
        size_t d = dist_base[dsym] + getbits(s, dist_extra[dsym]);
        if (d > s->out_pos)
            return fail(s, "corrupt data (distance before the start)");
        if (s->out_cap - s->out_pos < len) {
            if (!s->stop_when_full)
                return fail(s, "output larger than its stated size");
            len = s->out_cap - s->out_pos;
        }
        uint8_t *o = s->out + s->out_pos;
        if (d >= len) {
            vmm_memcpy(o, o - d, len);
        } else {
            const uint8_t *from = o - d; /* overlapping: byte by byte, repeating the pattern */
            for (size_t i = 0; i < len; i++)
                o[i] = from[i];
        }
        s->out_pos += len;
        if (s->out_pos == s->out_cap && s->stop_when_full)
            return false;
    }
}

static bool stored(struct inflater *s)
{
    /* Drop to a byte boundary: the bit buffer holds whole bytes after this. */
    getbits(s, s->nbits % 8);
    uint32_t len = getbits(s, 16);
    uint32_t nlen = getbits(s, 16);
    if (len != (~nlen & 0xffff))
        return fail(s, "corrupt data (stored block length check)");
    while (len--) {
        if (!put(s, (uint8_t)getbits(s, 8)))
            return false;
        if (s->overrun > 8)
            return fail(s, "truncated input");
    }
    return true;
}

static bool fixed(struct inflater *s)
{
    static struct huffman lit, dist;
    static bool ready;
    if (!ready) {
        uint8_t l[MAX_LITLEN];
        for (unsigned i = 0; i < MAX_LITLEN; i++)
            l[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
        build(&lit, l, MAX_LITLEN);
        for (unsigned i = 0; i < MAX_DIST; i++)
            l[i] = 5;
        build(&dist, l, 30);
        ready = true;
    }
    return codes(s, &lit, &dist);
}

static bool dynamic(struct inflater *s)
{
    static const uint8_t order[19] = { 16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                       11, 4,  12, 3, 13, 2, 14, 1, 15 };
    static struct huffman lit, dist, lencode;
    uint8_t lengths[MAX_LITLEN + MAX_DIST];
    unsigned nlit = getbits(s, 5) + 257, ndist = getbits(s, 5) + 1, ncode = getbits(s, 4) + 4;
    if (nlit > 286 || ndist > 30)
        return fail(s, "corrupt data (too many codes)");
    vmm_memset(lengths, 0, sizeof(lengths));
    for (unsigned i = 0; i < ncode; i++)
        lengths[order[i]] = (uint8_t)getbits(s, 3);
    if (!build(&lencode, lengths, 19))
        return fail(s, "corrupt data (code length code)");
    for (unsigned i = 0; i < nlit + ndist;) {
        int sym = decode(s, &lencode);
        if (sym < 0 || s->overrun > 8)
            return fail(s, "corrupt data (code lengths)");
        if (sym < 16) {
            lengths[i++] = (uint8_t)sym;
            continue;
        }
        uint8_t value = 0;
        unsigned repeat;
        if (sym == 16) {
            if (i == 0)
                return fail(s, "corrupt data (repeat with no length)");
            value = lengths[i - 1];
            repeat = 3 + getbits(s, 2);
        } else if (sym == 17) {
            repeat = 3 + getbits(s, 3);
        } else {
            repeat = 11 + getbits(s, 7);
        }
        if (i + repeat > nlit + ndist)
            return fail(s, "corrupt data (lengths overflow)");
        while (repeat--)
            lengths[i++] = value;
    }
    if (lengths[256] == 0)
        return fail(s, "corrupt data (no end-of-block code)");
    if (!build(&lit, lengths, nlit) || !build(&dist, lengths + nlit, ndist))
        return fail(s, "corrupt data (over-subscribed code)");
    return codes(s, &lit, &dist);
}

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
    static uint32_t table[256];
    if (!table[1]) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    }
    crc = ~crc;
    while (n--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static size_t gzip_header(const uint8_t *in, size_t len, const char **err)
{
    if (len < 18 || in[0] != 0x1f || in[1] != 0x8b || in[2] != 8) {
        *err = "not gzip data (bad magic or method)";
        return 0;
    }
    uint8_t flags = in[3];
    size_t pos = 10;
    if (flags & 4) /* FEXTRA: the 18-byte minimum covers its length field */
        pos = 12 + (size_t)(in[10] | in[11] << 8);
    for (int field = 8; field <= 16; field <<= 1) { /* FNAME, FCOMMENT: NUL-terminated */
        if (!(flags & field))
            continue;
        while (pos < len && in[pos])
            pos++;
        pos++;
    }
    if (flags & 2) /* FHCRC */
        pos += 2;
    if (pos + 8 > len) {
        *err = "truncated gzip header";
        return 0;
    }
    return pos;
}

uint64_t gzip_size(const uint8_t *in, size_t len)
{
    if (len < 18)
        return 0;
    return read_le32(in + len - 4);
}

static bool run(struct inflater *s)
{
    for (;;) {
        uint32_t last = getbits(s, 1), type = getbits(s, 2);
        bool ok = type == 0   ? stored(s)
                  : type == 1 ? fixed(s)
                  : type == 2 ? dynamic(s)
                              : fail(s, "bad block type");
        if (!ok)
            return false;
        if (last)
            return true;
    }
}

bool gunzip(const uint8_t *in, size_t len, uint8_t *out, size_t out_cap, size_t *out_len,
            bool prefix_only, const char **err)
{
    struct inflater s = { 0 };
    *err = NULL;
    size_t start = gzip_header(in, len, err);
    if (!start) {
        if (!*err)
            *err = "truncated gzip header";
        return false;
    }
    s.in = in + start;
    s.in_len = len - start - 8;
    s.out = out;
    s.out_cap = out_cap;
    s.stop_when_full = prefix_only;
    bool ok = run(&s);
    *out_len = s.out_pos;
    if (prefix_only)
        return s.error == NULL && (ok || s.out_pos == out_cap);
    if (!ok) {
        *err = s.error ? s.error : "corrupt data";
        return false;
    }
    if (s.overrun > 8) {
        *err = "truncated input";
        return false;
    }
    if (s.out_pos != gzip_size(in, len) || s.out_pos != out_cap) {
        *err = "decompressed size differs from the gzip trailer";
        return false;
    }
    if (crc32_update(0, out, s.out_pos) != read_le32(in + len - 8)) {
        *err = "CRC mismatch: the data is corrupt";
        return false;
    }
    return true;
}
