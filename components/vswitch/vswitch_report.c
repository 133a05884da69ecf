/*
 * The switch's lines in its log (the debug console). Every line a port can cause is rate-limited
 * (lib/limit.h); the counters are printed when a port asks (proto/net.h).
 */
#include <lib/text.h>
#include <pd/pd.h>

#include "vswitch_internal.h"

static const char *const ring_names[CONN_RINGS] = { "TX_ACTIVE", "TX_FREE", "RX_FREE",
                                                    "RX_ACTIVE" };

static void start(struct text *t, const struct vswitch *s)
{
    t->len = 0;
    text_str(t, s->prefix);
}

static void port_name(struct text *t, const struct vswitch *s, unsigned p)
{
    text_str(t, "port ");
    text_u64(t, p + 1);
    if (p < s->num_ports && s->port[p].cfg && s->port[p].cfg->name) {
        text_char(t, ' ');
        text_str(t, s->port[p].cfg->name);
    }
}

static void put(struct text *t)
{
    text_char(t, '\n');
    pd_puts(text_cstr(t));
}

void vswitch_report_config(struct vswitch *s, unsigned p, const char *why)
{
    struct text t;
    start(&t, s);
    text_str(&t, "error: ");
    if (p < VSWITCH_MAX_PORTS) {
        port_name(&t, s, p);
        text_str(&t, ": ");
    }
    text_str(&t, why);
    text_str(&t, p < VSWITCH_MAX_PORTS ? "; the port is left out" : "; the switch is off");
    put(&t);
}

void vswitch_report_start(struct vswitch *s)
{
    struct text t;
    start(&t, s);
    text_str(&t, "switching between ");
    text_u64(&t, s->num_ports);
    text_str(&t, " ports (a port's frames with another source MAC are dropped)");
    put(&t);
    for (unsigned p = 0; p < s->num_ports; p++) {
        const struct vswitch_port *port = &s->port[p];
        if (!port->configured)
            continue;
        start(&t, s);
        port_name(&t, s, p);
        text_str(&t, port->cfg->uplink ? ": uplink (" : ": ");
        text_mac(&t, port->cfg->mac);
        if (port->cfg->uplink)
            text_str(&t, "), any outside source MAC");
        put(&t);
    }
}

void vswitch_report_spoofed(struct vswitch *s, unsigned p, const uint8_t *src)
{
    if (!pd_limit_pass(&s->limit_spoof, s->prefix, "spoofed frames"))
        return;
    const struct vswitch_port *port = &s->port[p];
    struct text t;
    start(&t, s);
    text_str(&t, "warning: ");
    port_name(&t, s, p);
    text_str(&t, ": frame with source MAC ");
    text_mac(&t, src);
    text_str(&t, port->cfg->uplink ? " (a group address or another port's)" : ", not its own ");
    if (!port->cfg->uplink)
        text_mac(&t, port->cfg->mac);
    text_str(&t, ": dropped (");
    text_u64(&t, port->count.spoofed);
    text_str(&t, " spoofed so far)");
    put(&t);
}

void vswitch_report_bad_entry(struct vswitch *s, unsigned p, const char *ring,
                              const struct ring_entry *e, uint64_t region_size)
{
    if (!pd_limit_pass(&s->limit_bad, s->prefix, "bad ring entries"))
        return;
    struct text t;
    start(&t, s);
    text_str(&t, "warning: ");
    port_name(&t, s, p);
    text_bad_entry(&t, ring, e, region_size);
    text_str(&t, " bytes, frames 14-1514, buffers 2048): dropped (");
    text_u64(&t, s->port[p].count.bad_entries);
    text_str(&t, " so far)");
    put(&t);
}

void vswitch_report_dropping(struct vswitch *s, unsigned q)
{
    if (!pd_limit_pass(&s->limit_drop, s->prefix, "ports not taking frames"))
        return;
    struct text t;
    start(&t, s);
    text_str(&t, "warning: ");
    port_name(&t, s, q);
    text_str(&t, " has no free receive buffer: its frames are dropped until it has (");
    text_u64(&t, s->port[q].count.out_dropped);
    text_str(&t, " so far)");
    put(&t);
}

void vswitch_report_end(struct vswitch *s, unsigned p)
{
    if (!pd_limit_pass(&s->limit_end, s->prefix, "ended connections"))
        return;
    const struct vswitch_port *port = &s->port[p];
    const struct ring *r = &port->conn.ring[port->end_ring];
    struct text t;
    start(&t, s);
    text_str(&t, "error: ");
    port_name(&t, s, p);
    text_ring_corrupt(&t, ring_names[port->end_ring], r);
    put(&t);
}

void vswitch_print_counters(struct vswitch *s, unsigned asked_by)
{
    struct text t;
    start(&t, s);
    text_str(&t, "counters");
    if (asked_by < s->num_ports) {
        text_str(&t, " (asked by ");
        text_str(&t, s->port[asked_by].cfg->name);
        text_char(&t, ')');
    }
    text_str(&t, ": learned ");
    text_u64(&t, s->learned);
    text_str(&t, ", replaced ");
    text_u64(&t, s->fdb_replaced);
    text_str(&t, ", passes cut ");
    text_u64(&t, s->passes_cut);
    put(&t);
    for (unsigned p = 0; p < s->num_ports; p++) {
        const struct vswitch_port *port = &s->port[p];
        const struct vswitch_port_counters *c = &port->count;
        start(&t, s);
        port_name(&t, s, p);
        if (!port->configured)
            text_str(&t, " (left out)");
        else if (port->ended)
            text_str(&t, " (ended)");
        text_str(&t, ": in ");
        text_u64(&t, c->in_frames);
        text_str(&t, " frames ");
        text_u64(&t, c->in_bytes);
        text_str(&t, " bytes, spoofed ");
        text_u64(&t, c->spoofed);
        text_str(&t, ", to itself ");
        text_u64(&t, c->to_self);
        text_str(&t, ", bad entries ");
        text_u64(&t, c->bad_entries);
        text_str(&t, "; out ");
        text_u64(&t, c->out_frames);
        text_str(&t, " frames ");
        text_u64(&t, c->out_bytes);
        text_str(&t, " bytes, dropped ");
        text_u64(&t, c->out_dropped);
        put(&t);
    }
}
