/* A small bounded string builder for native PDs' own lines (no libc in a PD). Text that
 * does not fit is cut off. */
#ifndef LIB_TEXT_H
#define LIB_TEXT_H

#include <proto/ring.h>
#include <stddef.h>
#include <stdint.h>

#define TEXT_MAX 220

struct text {
    char buf[TEXT_MAX];
    size_t len;
};

static inline void text_char(struct text *t, char c)
{
    if (t->len < TEXT_MAX)
        t->buf[t->len++] = c;
}

static inline void text_str(struct text *t, const char *s)
{
    while (*s)
        text_char(t, *s++);
}

static inline void text_mem(struct text *t, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        text_char(t, s[i]);
}

static inline void text_u64(struct text *t, uint64_t v)
{
    char digits[20];
    unsigned n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        text_char(t, digits[--n]);
}

static inline void text_hex(struct text *t, uint64_t v)
{
    text_str(t, "0x");
    int shift = 60;
    while (shift > 0 && !((v >> shift) & 0xf))
        shift -= 4;
    for (; shift >= 0; shift -= 4)
        text_char(t, "0123456789abcdef"[(v >> shift) & 0xf]);
}

/* "02:00:5e:10:00:01" */
static inline void text_mac(struct text *t, const uint8_t *mac)
{
    for (unsigned i = 0; i < 6; i++) {
        if (i)
            text_char(t, ':');
        text_char(t, "0123456789abcdef"[mac[i] >> 4]);
        text_char(t, "0123456789abcdef"[mac[i] & 0xf]);
    }
}

/* "10.0.0.100" from an address in network byte order */
static inline void text_ipv4(struct text *t, const uint8_t *ip)
{
    for (unsigned i = 0; i < 4; i++) {
        if (i)
            text_char(t, '.');
        text_u64(t, ip[i]);
    }
}

/* ": bad RING entry (offset X, length N; region S bytes": what a server says of a queue entry
 * it drops; the caller adds what the entry should have been and what happens now. */
static inline void text_bad_entry(struct text *t, const char *ring, const struct ring_entry *e,
                                  uint64_t region_size)
{
    text_str(t, ": bad ");
    text_str(t, ring);
    text_str(t, " entry (offset ");
    text_hex(t, e->offset);
    text_str(t, ", length ");
    text_u64(t, e->len);
    text_str(t, "; region ");
    text_hex(t, region_size);
}

/* ": connection ended: its NAME ring is corrupt (head H, tail T, capacity C)": what a server
 * says when a client's ring makes no sense; the caller adds what happens now. */
static inline void text_ring_corrupt(struct text *t, const char *name, const struct ring *r)
{
    text_str(t, ": connection ended: its ");
    text_str(t, name);
    text_str(t, " ring is corrupt (head ");
    text_u64(t, ring_load(&r->shm->head));
    text_str(t, ", tail ");
    text_u64(t, ring_load(&r->shm->tail));
    text_str(t, ", capacity ");
    text_u64(t, r->capacity);
    text_str(t, ")");
}

/* The text so far, NUL-terminated (the last byte is sacrificed if it is full). */
static inline const char *text_cstr(struct text *t)
{
    if (t->len == TEXT_MAX)
        t->len--;
    t->buf[t->len] = '\0';
    return t->buf;
}

#endif
