/* The echo service (see echo.h). */
#include <lib/text.h>
#include <pd/pd.h>

#include "echo.h"

void echo_init(struct echo *e, const struct echo_config *cfg, const char *name)
{
    struct text t = { .len = 0 };
    text_str(&t, name);
    e->ready = net_client_init(&e->net, &cfg->net);
    if (!e->ready) {
        text_str(&t, ": error: its connection to the switch is not usable (ring capacity, "
                     "regions): no echo service\n");
        pd_puts(text_cstr(&t));
        return;
    }
    echo_stack_init(&e->stack, cfg->mac, cfg->ip, cfg->udp_port);
    text_str(&t, ": echo service at ");
    text_ipv4(&t, cfg->ip);
    text_str(&t, " (");
    text_mac(&t, cfg->mac);
    text_str(&t, "): ARP, ICMP echo, UDP echo on port ");
    text_u64(&t, cfg->udp_port);
    text_char(&t, '\n');
    pd_puts(text_cstr(&t));
    net_client_flush(&e->net);
}

void echo_notified(struct echo *e, unsigned channel)
{
    if (!e->ready || channel != e->net.bc.conn.channel)
        return;
    net_client_notified(&e->net);
    /* A frame is taken only when its reply has a buffer to go in: while the switch holds every
     * TX buffer, requests wait in the RX ring (and the switch drops what does not fit there). The
     * switch notifies when it gives buffers back. */
    uint32_t n;
    while (net_client_tx_room(&e->net) &&
           (n = net_client_recv(&e->net, e->in, sizeof(e->in))) > 0) {
        uint32_t r = echo_stack_input(&e->stack, e->in, n, e->out);
        if (r)
            net_client_send(&e->net, e->out, r);
    }
    net_client_flush(&e->net);
}
