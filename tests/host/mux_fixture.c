/* The serial multiplexer fixture (see mux_fixture.h). */
#include "mux_fixture.h"

#include <pd/pd.h>
#include <stdio.h>
#include <string.h>

#include "sim_pd.h"

struct mfx mfx;

static const char *const names[MFX_CLIENTS] = { "linux1", "linux2", "linux3" };

void mfx_setup(unsigned clients, bool instant_tx)
{
    memset(&mfx, 0, sizeof(mfx));
    sim_pd_reset();
    sim_pl011_init(&mfx.uart, 16, instant_tx);
    mfx.cfg.uart_regs = sim_pl011_base(&mfx.uart);
    mfx.cfg.uart_irq_channel = MFX_IRQ_CH;
    mfx.cfg.driver = SERIAL_DRIVER_PL011;
    mfx.cfg.num_clients = clients;
    for (unsigned i = 0; i < clients && i < MFX_CLIENTS; i++) {
        struct mfx_conn *c = &mfx.c[i];
        struct conn_config v = { (uintptr_t)c->queue, MFX_CAPACITY, (uintptr_t)c->tx, MFX_TX_SIZE,
                                 (uintptr_t)c->rx,    MFX_RX_SIZE,  MFX_MUX_CH(i) };
        mfx.cfg.clients[i] = (struct serial_mux_client_config){ names[i], v };
        v.channel = MFX_CLIENT_CH(i);
        c->client_view = v;
        conn_attach(&c->raw, &v);
    }
}

void mfx_start(void)
{
    mux_init(&mfx.mux, &mfx.cfg);
    mfx_pump();
}

void mfx_use_api(unsigned i)
{
    mfx.c[i].uses_api = true;
    serial_client_init(&mfx.c[i].api, &mfx.c[i].client_view);
    mfx_pump();
}

void mfx_put(unsigned i, const char *s)
{
    serial_client_puts(&mfx.c[i].api, s);
    mfx_pump();
}

void mfx_raw_tx(unsigned i, uint64_t offset, uint32_t len, uint32_t id)
{
    struct ring_entry e = { offset, len, id };
    bool notify = false;
    if (ring_push(&mfx.c[i].raw.ring[CONN_TX_ACTIVE], &e, &notify) && notify)
        pd_notify(MFX_CLIENT_CH(i));
    mfx_pump();
}

void mfx_type_bytes(const void *bytes, size_t n)
{
    const uint8_t *b = bytes;
    for (size_t i = 0; i < n; i++) {
        sim_pl011_receive(&mfx.uart, b[i], 0);
        if (sim_pl011_irq(&mfx.uart))
            mfx_pump();
    }
    sim_pl011_rx_idle(&mfx.uart);
    mfx_pump();
}

void mfx_type(const char *s)
{
    mfx_type_bytes(s, strlen(s));
}

void mfx_pump(void)
{
    for (unsigned round = 0; round < 10000; round++) {
        bool any = false;
        if (sim_pl011_irq(&mfx.uart)) {
            unsigned acks = sim_pd.irq_acks[MFX_IRQ_CH];
            mux_notified(&mfx.mux, MFX_IRQ_CH);
            if (mfx.mux.ready && sim_pd.irq_acks[MFX_IRQ_CH] != acks + 1) {
                printf("    mfx: the mux did not acknowledge the UART interrupt\n");
                __builtin_trap();
            }
            any = mfx.mux.ready;
        }
        for (unsigned i = 0; i < MFX_CLIENTS; i++) {
            if (sim_pd_take_notify(MFX_CLIENT_CH(i))) {
                mux_notified(&mfx.mux, MFX_MUX_CH(i));
                any = true;
            }
            if (sim_pd_take_notify(MFX_MUX_CH(i))) {
                struct mfx_conn *c = &mfx.c[i];
                c->notified++;
                if (c->on_notify)
                    c->on_notify(i);
                else if (c->uses_api)
                    serial_client_notified(&c->api);
                any = true;
            }
        }
        if (!any)
            return;
    }
    printf("    mfx: notifications never stopped\n");
    __builtin_trap();
}

size_t mfx_get(unsigned i, char *buf, size_t max)
{
    size_t n = serial_client_get(&mfx.c[i].api, buf, max - 1);
    buf[n] = '\0';
    mfx_pump();
    return n;
}

const char *mfx_wire(void)
{
    return sim_pl011_wire(&mfx.uart);
}

const char *mfx_wire_since(void)
{
    const char *s = sim_pl011_wire(&mfx.uart) + mfx.wire_mark;
    mfx.wire_mark = mfx.uart.wire_len;
    return s;
}

unsigned mfx_wire_count(const char *needle)
{
    unsigned n = 0;
    for (const char *p = mfx_wire(); (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}
