/* The multiplexer's output stream: whole lines, each with its client's name in front. */
#include "mux_internal.h"

static uint32_t out_used(const struct mux *m)
{
    return m->out_head - m->out_tail;
}

/* Room for a client's output: the last MUX_OUT_MUX_ONLY bytes are kept for the mux's lines. */
static uint32_t out_room(const struct mux *m, bool for_mux)
{
    uint32_t limit = for_mux ? MUX_OUT_SIZE : MUX_OUT_SIZE - MUX_OUT_MUX_ONLY;
    uint32_t used = out_used(m);
    return used < limit ? limit - used : 0;
}

static void out_put(struct mux *m, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        m->out[m->out_head++ % MUX_OUT_SIZE] = b[i];
}

static void out_end_line(struct mux *m)
{
    out_put(m, "\r\n", 2);
    m->line_open = false;
}

bool mux_out_client(struct mux *m, unsigned idx, bool end_line)
{
    struct mux_client *c = &m->client[idx];
    bool continuing = m->line_open && m->line_owner == idx;
    uint32_t from = continuing ? c->shown : 0;
    size_t need = (m->line_open && !continuing ? 2 : 0) + (continuing ? 0 : c->name_len + 3) +
                  (c->line_len - from) + (end_line ? 2 : 0);
    if (need > out_room(m, false))
        return false;
    if (m->line_open && !continuing)
        out_end_line(m);
    if (!continuing) {
        out_put(m, "[", 1);
        out_put(m, c->name, c->name_len);
        out_put(m, "] ", 2);
    }
    out_put(m, c->line + from, c->line_len - from);
    if (end_line) {
        out_end_line(m);
        c->line_len = c->shown = 0;
    } else {
        m->line_open = true;
        m->line_owner = idx;
        c->shown = c->line_len;
    }
    return true;
}

void mux_line(struct mux *m, const struct text *t)
{
    size_t need = (m->line_open ? 2 : 0) + 6 + t->len + 2;
    if (need > out_room(m, true)) {
        m->mux_lines_dropped++;
        return;
    }
    if (m->line_open)
        out_end_line(m);
    out_put(m, "[mux] ", 6);
    out_put(m, t->buf, t->len);
    out_end_line(m);
}

bool mux_out_flush(struct mux *m)
{
    bool took = false;
    while (out_used(m)) {
        uint32_t at = m->out_tail % MUX_OUT_SIZE, chunk = out_used(m);
        if (chunk > MUX_OUT_SIZE - at)
            chunk = MUX_OUT_SIZE - at;
        size_t n = m->uart->tx(&m->uart_state, m->out + at, chunk);
        if (n > chunk) /* a driver may not say it took more than it was given */
            n = chunk;
        m->out_tail += (uint32_t)n;
        took |= n > 0;
        if (n < chunk)
            break;
    }
    return took;
}
