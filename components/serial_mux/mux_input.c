/* Input from the UART: to the client that has it, or, after Ctrl-\, a command to the mux. */
#include "mux_internal.h"

void text_client(struct text *t, const struct mux *m, unsigned idx)
{
    text_mem(t, m->client[idx].name, m->client[idx].name_len);
    text_str(t, " (");
    text_u64(t, idx + 1);
    text_str(t, ")");
}

static void help(struct mux *m)
{
    struct text t = { .len = 0 };
    if (!m->num_clients) {
        text_str(&t, "no clients: input is dropped");
        mux_line(m, &t);
        return;
    }
    text_str(&t, "Ctrl-\\ then 1-");
    text_u64(&t, m->num_clients);
    text_str(&t, " gives that client the input; Ctrl-\\ ? counters; Ctrl-\\ Ctrl-\\ sends Ctrl-\\");
    mux_line(m, &t);
}

void mux_list_clients(struct mux *m)
{
    for (unsigned i = 0; i < m->num_clients; i++) {
        const struct mux_client *c = &m->client[i];
        struct text t = { .len = 0 };
        text_u64(&t, i + 1);
        text_char(&t, ' ');
        text_mem(&t, c->name, c->name_len);
        if (!c->configured)
            text_str(&t, " (left out: bad configuration)");
        else if (c->ended)
            text_str(&t, " (connection ended)");
        if (i == m->focus)
            text_str(&t, " <- input");
        mux_line(m, &t);
    }
    help(m);
}

static void counters(struct mux *m)
{
    for (unsigned i = 0; i < m->num_clients; i++) {
        const struct mux_client_counters *k = &m->client[i].count;
        struct text t = { .len = 0 };
        text_client(&t, m, i);
        text_str(&t, ": out ");
        text_u64(&t, k->out_bytes);
        text_str(&t, " bytes (long lines cut ");
        text_u64(&t, k->long_lines);
        text_str(&t, "), in ");
        text_u64(&t, k->in_bytes);
        text_str(&t, " bytes, in dropped ");
        text_u64(&t, k->in_dropped);
        text_str(&t, ", bad entries ");
        text_u64(&t, k->bad_entries);
        if (m->client[i].ended)
            text_str(&t, ", connection ended");
        mux_line(m, &t);
    }
    struct uart_rx_errors e = m->uart->errors(&m->uart_state);
    struct text t = { .len = 0 };
    text_str(&t, "uart: receive errors: framing ");
    text_u64(&t, e.framing);
    text_str(&t, ", parity ");
    text_u64(&t, e.parity);
    text_str(&t, ", break ");
    text_u64(&t, e.brk);
    text_str(&t, ", overrun ");
    text_u64(&t, e.overrun);
    text_str(&t, "; mux lines dropped ");
    text_u64(&t, m->mux_lines_dropped);
    mux_line(m, &t);
}

bool mux_show_focus(struct mux *m, bool now)
{
    unsigned f = m->focus;
    if (f >= m->num_clients)
        return false;
    const struct mux_client *c = &m->client[f];
    if (!c->configured || !c->line_len)
        return false;
    if (m->line_open && m->line_owner == f && c->shown == c->line_len)
        return false;
    if (!now && !mux_client_drained(m, f))
        return false;
    return mux_out_client(m, f, false);
}

static void command(struct mux *m, uint8_t b)
{
    struct text t = { .len = 0 };
    if (b == '?') {
        counters(m);
        return;
    }
    if (b >= '1' && b <= '9' && (unsigned)(b - '1') < m->num_clients &&
        m->client[b - '1'].configured) {
        m->focus = b - '1';
        text_str(&t, "input -> ");
        text_client(&t, m, m->focus);
        if (m->client[m->focus].ended)
            text_str(&t, ": its connection has ended, input to it is dropped");
        mux_line(m, &t);
        mux_show_focus(m, true);
        return;
    }
    if (b >= '0' && b <= '9') {
        text_str(&t, "no client ");
        text_char(&t, (char)b);
    } else {
        text_str(&t, "unknown command ");
        if (b >= 0x21 && b <= 0x7e) {
            text_char(&t, '\'');
            text_char(&t, (char)b);
            text_str(&t, "' ");
        }
        text_str(&t, "(");
        text_hex(&t, b);
        text_str(&t, ")");
    }
    text_str(&t, "; the clients are:");
    mux_line(m, &t);
    mux_list_clients(m);
}

void mux_input(struct mux *m, const uint8_t *in, size_t n)
{
    uint8_t pass[MUX_RX_BATCH];
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = in[i];
        if (np == sizeof(pass)) {
            mux_client_deliver(m, m->focus, pass, np);
            np = 0;
        }
        if (m->escape) {
            m->escape = false;
            if (b == MUX_ESCAPE) {
                pass[np++] = b;
                continue;
            }
            /* What came before the command goes to the client that had the input then. */
            mux_client_deliver(m, m->focus, pass, np);
            np = 0;
            command(m, b);
        } else if (b == MUX_ESCAPE) {
            m->escape = true;
        } else {
            pass[np++] = b;
        }
    }
    if (np)
        mux_client_deliver(m, m->focus, pass, np);
}
