/* The serial multiplexer: start-up and the round that serves the UART and every client. */
#include "mux_internal.h"

#include <pd/pd.h>

static void zero(void *p, size_t n)
{
    volatile uint8_t *b = p;
    while (n--)
        *b++ = 0;
}

/* One line on the debug console, for what keeps the multiplexer from using its UART at all. */
static void refuse(struct text *t)
{
    struct text line = { .len = 0 };
    text_str(&line, "serial_mux: error: ");
    text_mem(&line, t->buf, t->len);
    line.len = line.len < TEXT_MAX - 14 ? line.len : TEXT_MAX - 14;
    text_str(&line, ": no console\n");
    line.buf[line.len] = '\0';
    pd_puts(line.buf);
}

/* The configuration's UART is one the multiplexer can drive; if not, says why. */
static bool uart_ok(const struct serial_mux_config *cfg)
{
    struct text t = { .len = 0 };
    if (!uart_driver_find(cfg->driver)) {
        text_str(&t, "the UART's driver kind ");
        text_u64(&t, cfg->driver);
        text_str(&t, " is not one this multiplexer has (");
        for (unsigned k = 1, n = 0; k < uart_driver_kinds(); k++) {
            if (uart_driver_find(k)) {
                text_str(&t, n++ ? ", " : "");
                text_u64(&t, k);
                text_str(&t, " = ");
                text_str(&t, uart_driver_find(k)->name);
            }
        }
        text_str(&t, ")");
    } else if (!cfg->uart_regs) {
        text_str(&t, "the UART has no register address");
    } else if (cfg->uart_irq_channel > 61) {
        text_str(&t, "the UART's interrupt channel ");
        text_u64(&t, cfg->uart_irq_channel);
        text_str(&t, " is not 0-61");
    } else {
        return true;
    }
    refuse(&t);
    return false;
}

static void send_notifications(struct mux *m)
{
    for (unsigned i = 0; i < m->num_clients; i++) {
        if (m->client[i].notify) {
            m->client[i].notify = false;
            pd_notify(m->client[i].conn.channel);
        }
    }
}

/* Serves everything until nothing moves: input, one step of each client in turn (a different
 * one first each round), output to the UART, and the prompt of the client with the input. */
static void mux_run(struct mux *m)
{
    for (;;) {
        bool moved = false;
        uint8_t in[MUX_RX_BATCH];
        size_t n = m->uart->rx(&m->uart_state, in, sizeof(in));
        if (n) {
            mux_input(m, in, n);
            moved = true;
        }
        for (unsigned k = 0; k < m->num_clients; k++)
            moved |= mux_client_step(m, (m->next + k) % m->num_clients);
        if (m->num_clients)
            m->next = (m->next + 1) % m->num_clients;
        moved |= mux_out_flush(m);
        if (!moved && mux_show_focus(m, false)) {
            mux_out_flush(m);
            moved = true;
        }
        if (!moved)
            break;
    }
    send_notifications(m);
}

void mux_init(struct mux *m, const struct serial_mux_config *cfg)
{
    zero(m, sizeof(*m));
    if (!uart_ok(cfg))
        return;
    m->uart = uart_driver_find(cfg->driver);
    m->irq_channel = cfg->uart_irq_channel;
    m->uart->init(&m->uart_state, cfg->uart_regs);
    m->ready = true;
    m->num_clients =
        cfg->num_clients <= SERIAL_MUX_MAX_CLIENTS ? cfg->num_clients : SERIAL_MUX_MAX_CLIENTS;
    struct text t = { .len = 0 };
    if (cfg->num_clients > SERIAL_MUX_MAX_CLIENTS) {
        text_str(&t, "error: ");
        text_u64(&t, cfg->num_clients);
        text_str(&t, " clients configured, at most 9 served: clients 10 and up left out");
        mux_line(m, &t);
        t.len = 0;
    }
    bool any = false;
    for (unsigned i = 0; i < m->num_clients; i++)
        any |= mux_client_setup(m, i, &cfg->clients[i]);
    m->focus = cfg->first_input;
    if (m->focus >= m->num_clients || !m->client[m->focus].configured) {
        m->focus = 0;
        while (m->focus + 1 < m->num_clients && !m->client[m->focus].configured)
            m->focus++;
    }
    text_str(&t, "serial multiplexer on ");
    text_str(&t, m->uart->name);
    text_str(&t, ": ");
    text_u64(&t, m->num_clients);
    text_str(&t, m->num_clients == 1 ? " client" : " clients");
    if (any) {
        text_str(&t, "; input -> ");
        text_client(&t, m, m->focus);
    }
    mux_line(m, &t);
    if (m->num_clients)
        mux_list_clients(m);
    mux_run(m);
}

void mux_notified(struct mux *m, unsigned channel)
{
    if (!m->ready)
        return;
    if (channel == m->irq_channel) {
        m->uart->irq_clear(&m->uart_state);
        mux_run(m);
        pd_irq_ack(channel);
        return;
    }
    /* A client's channel: every client is looked at anyway. */
    mux_run(m);
}
