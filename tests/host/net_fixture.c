/* The virtual switch fixture (see net_fixture.h). */
#include "net_fixture.h"

#include <string.h>

#include "sim_pd.h"

struct nfx nfx;

static const char *const names[NFX_PORTS] = { "port1", "port2", "port3", "port4", "port5" };

void nfx_mac(unsigned i, uint8_t *mac)
{
    const uint8_t m[6] = { 0x02, 0, 0, 0, 0, (uint8_t)(i + 1) };
    memcpy(mac, m, 6);
}

void nfx_setup(unsigned ports, unsigned uplinks)
{
    sim_pd_reset();
    memset(&nfx, 0, sizeof(nfx));
    nfx.n = ports;
    nfx.cfg.name = "lan";
    nfx.cfg.num_ports = ports;
    for (unsigned i = 0; i < ports; i++) {
        struct nfx_port *p = &nfx.p[i];
        struct vswitch_port_config *c = &nfx.cfg.ports[i];
        c->name = names[i];
        nfx_mac(i, c->mac);
        c->uplink = i >= ports - uplinks;
        c->conn = (struct conn_config){ .queue = (uintptr_t)p->queue,
                                        .capacity = NFX_CAPACITY,
                                        .tx_data = (uintptr_t)p->tx,
                                        .tx_size = NFX_DATA,
                                        .rx_data = (uintptr_t)p->rx,
                                        .rx_size = NFX_DATA,
                                        .channel = NFX_SW_CH(i) };
        p->client_view = c->conn;
        p->client_view.channel = NFX_CLIENT_CH(i);
        conn_attach(&p->raw, &p->client_view);
    }
}

void nfx_start(void)
{
    for (unsigned i = 0; i < nfx.n; i++) {
        net_client_init(&nfx.p[i].cl, &nfx.p[i].client_view);
        net_client_flush(&nfx.p[i].cl);
    }
    vswitch_init(&nfx.sw, &nfx.cfg);
    nfx_pump();
}

void nfx_pump(void)
{
    for (unsigned round = 0; round < 1000; round++) {
        bool any = false;
        for (unsigned i = 0; i < nfx.n; i++) {
            if (sim_pd_take_notify(NFX_CLIENT_CH(i))) {
                any = true;
                vswitch_notified(&nfx.sw, NFX_SW_CH(i));
            }
        }
        for (unsigned i = 0; i < nfx.n; i++) {
            if (sim_pd_take_notify(NFX_SW_CH(i))) {
                any = true;
                if (nfx.p[i].on_notify)
                    nfx.p[i].on_notify(i);
                else
                    net_client_notified(&nfx.p[i].cl);
            }
        }
        if (!any)
            return;
    }
}

bool nfx_send(unsigned i, const uint8_t *frame, uint32_t len)
{
    bool ok = net_client_send(&nfx.p[i].cl, frame, len);
    net_client_flush(&nfx.p[i].cl);
    nfx_pump();
    return ok;
}

void nfx_raw_tx(unsigned i, uint64_t offset, uint32_t len, uint32_t id)
{
    struct ring_entry e = { offset, len, id };
    bool notify = false;
    ring_push(&nfx.p[i].raw.ring[CONN_TX_ACTIVE], &e, &notify);
    vswitch_notified(&nfx.sw, NFX_SW_CH(i));
}

uint32_t nfx_recv(unsigned i, uint8_t *buf)
{
    uint32_t n = net_client_recv(&nfx.p[i].cl, buf, NET_BUF_SIZE);
    net_client_flush(&nfx.p[i].cl);
    return n;
}

uint32_t nfx_waiting(unsigned i)
{
    struct ring_shm *s = nfx.p[i].raw.ring[CONN_RX_ACTIVE].shm;
    return ring_load(&s->head) - ring_load(&s->tail);
}

uint32_t nfx_frame(uint8_t *buf, const uint8_t *dst, const uint8_t *src, uint32_t payload,
                   uint8_t seed)
{
    memcpy(buf, dst, 6);
    memcpy(buf + 6, src, 6);
    buf[12] = 0x88;
    buf[13] = 0xb5;
    for (uint32_t i = 0; i < payload; i++)
        buf[14 + i] = (uint8_t)(seed + i * 7);
    return 14 + payload;
}
