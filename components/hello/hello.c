/* The example serial client (see hello.h). */
#include "hello.h"

static void flush(struct hello *h)
{
    if (h->out_len)
        serial_client_put(&h->serial, h->out, h->out_len);
    h->out_len = 0;
}

static void out_char(struct hello *h, char c)
{
    if (h->out_len == sizeof(h->out))
        flush(h);
    h->out[h->out_len++] = c;
}

static void out_str(struct hello *h, const char *s)
{
    while (*s)
        out_char(h, *s++);
}

static void out_u32(struct hello *h, uint32_t v)
{
    char d[10];
    unsigned n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        out_char(h, d[--n]);
}

static void prompt(struct hello *h)
{
    out_str(h, h->name);
    out_str(h, "> ");
}

static bool starts_with(const char *s, uint32_t len, const char *word)
{
    uint32_t i = 0;
    for (; word[i]; i++) {
        if (i >= len || s[i] != word[i])
            return false;
    }
    return true;
}

/* "flood N": N as a decimal number, at most 1,000,000 (0 if it is not one). */
static uint32_t flood_count(const char *s, uint32_t len)
{
    uint32_t n = 0, i = 6;
    if (i >= len)
        return 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || n > 100000)
            return 0;
        n = n * 10 + (uint32_t)(s[i] - '0');
    }
    return n <= 1000000 ? n : 0;
}

static void line_done(struct hello *h)
{
    out_str(h, "\r\n");
    if (h->line_len == 4 && starts_with(h->line, h->line_len, "deaf")) {
        h->deaf = true;
        out_str(h, h->name);
        out_str(h, ": deaf from now on: I no longer read my input\r\n");
        return;
    }
    if (starts_with(h->line, h->line_len, "flood ")) {
        h->flood_total = h->flood_left = flood_count(h->line, h->line_len);
        if (h->flood_left)
            return; /* the prompt comes when the flood is done */
    }
    if (h->line_len) {
        out_str(h, h->name);
        out_str(h, " got \"");
        for (uint32_t i = 0; i < h->line_len; i++)
            out_char(h, h->line[i]);
        out_str(h, "\"\r\n");
    }
    h->line_len = 0;
    prompt(h);
}

static void typed(struct hello *h, char c)
{
    if (c == '\r' || c == '\n') {
        line_done(h);
        h->line_len = 0;
    } else if (c == 0x7f || c == '\b') {
        if (h->line_len) {
            h->line_len--;
            out_str(h, "\b \b");
        }
    } else if (c >= 0x20 && c < 0x7f && h->line_len < HELLO_LINE_MAX) {
        h->line[h->line_len++] = c;
        out_char(h, c);
    }
}

/* Flood lines while the multiplexer has buffers free for them; the rest when it gives some back
 * (it notifies then). */
static void flood(struct hello *h)
{
    while (h->flood_left && serial_client_room(&h->serial) >= SERIAL_BUF_SIZE) {
        uint32_t i = h->flood_total - h->flood_left + 1;
        out_str(h, h->name);
        out_str(h, " flood line ");
        out_u32(h, i);
        out_str(h, " of ");
        out_u32(h, h->flood_total);
        out_str(h, "\r\n");
        if (--h->flood_left == 0) {
            out_str(h, h->name);
            out_str(h, ": flood done\r\n");
            prompt(h);
        }
        flush(h);
    }
}

void hello_init(struct hello *h, const struct conn_config *serial, const char *name)
{
    *h = (struct hello){ .name = name };
    serial_client_init(&h->serial, serial);
    out_str(h, name);
    out_str(h, ": hello! I echo what you type; 'flood N' prints N lines, 'deaf' stops my "
               "reading\r\n");
    prompt(h);
    flush(h);
}

void hello_notified(struct hello *h, unsigned channel)
{
    if (channel != h->serial.bc.conn.channel)
        return;
    serial_client_notified(&h->serial);
    char in[64];
    size_t n;
    while (!h->deaf && (n = serial_client_get(&h->serial, in, sizeof(in))) > 0) {
        for (size_t i = 0; i < n && !h->deaf; i++)
            typed(h, in[i]);
    }
    flush(h);
    flood(h);
}
