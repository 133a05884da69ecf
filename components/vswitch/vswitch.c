/* The virtual switch's forwarding (see vswitch.h). */
#include <pd/pd.h>
#include <stddef.h>

#include "vswitch_internal.h"

_Static_assert(VSWITCH_FDB_SIZE > VSWITCH_MAX_PORTS, "room to learn beside the ports' own MACs");
_Static_assert(VSWITCH_MAX_PORTS <= 255, "ports fit a table entry");

/* ---- the forwarding table ------------------------------------------------------------------ */

static struct vswitch_fdb_entry *fdb_find(struct vswitch *s, uint64_t mac)
{
    for (unsigned i = 0; i < VSWITCH_FDB_SIZE; i++) {
        if (s->fdb[i].used && s->fdb[i].mac == mac)
            return &s->fdb[i];
    }
    return NULL;
}

int vswitch_lookup(const struct vswitch *s, const uint8_t *mac)
{
    uint64_t key = vswitch_mac_key(mac);
    for (unsigned i = 0; i < VSWITCH_FDB_SIZE; i++) {
        if (s->fdb[i].used && s->fdb[i].mac == key)
            return s->fdb[i].port;
    }
    return -1;
}

/* An uplink's frame came from `mac`: remember where it lives. */
static void learn(struct vswitch *s, unsigned p, uint64_t mac)
{
    struct vswitch_fdb_entry *e = fdb_find(s, mac);
    if (e) {
        if (e->port != p)
            s->learned++; /* moved from one uplink to another */
        e->port = (uint8_t)p;
        e->last_seen = s->clock;
        return;
    }
    struct vswitch_fdb_entry *victim = NULL;
    for (unsigned i = 0; i < VSWITCH_FDB_SIZE; i++) {
        struct vswitch_fdb_entry *c = &s->fdb[i];
        if (!c->used) {
            victim = c;
            break;
        }
        if (!c->fixed && (!victim || c->last_seen < victim->last_seen))
            victim = c;
    }
    if (!victim)
        return; /* every entry is a port's own: nothing learnt, its frames flood */
    if (victim->used)
        s->fdb_replaced++;
    *victim = (struct vswitch_fdb_entry){
        .mac = mac, .last_seen = s->clock, .port = (uint8_t)p, .used = true, .fixed = false
    };
    s->learned++;
}

/* ---- one frame ------------------------------------------------------------------------------ */

/* May port p send with this source address? */
static bool source_ok(struct vswitch *s, unsigned p, const uint8_t *src, uint64_t key)
{
    const struct vswitch_port *port = &s->port[p];
    if (net_mac_is_group(src) || key == 0)
        return false;
    if (!port->cfg->uplink)
        return key == port->mac;
    const struct vswitch_fdb_entry *e = fdb_find(s, key);
    return !e || !e->fixed || e->port == p;
}

static void flood(struct vswitch *s, unsigned from, const uint8_t *hdr, const uint8_t *frame,
                  uint32_t len)
{
    for (unsigned q = 0; q < s->num_ports; q++) {
        if (q != from)
            vswitch_port_deliver(s, q, hdr, frame, len);
    }
}

static void forward(struct vswitch *s, unsigned p, const struct ring_entry *e)
{
    struct vswitch_port *port = &s->port[p];
    const uint8_t *frame = port->conn.tx_data + e->offset;
    /* The header is read once: what is checked is what is delivered. */
    uint8_t hdr[NET_MIN_FRAME];
    const volatile uint8_t *vf = frame;
    for (unsigned i = 0; i < NET_MIN_FRAME; i++)
        hdr[i] = vf[i];
    const uint8_t *src = hdr + NET_SRC_MAC, *dst = hdr + NET_DST_MAC;
    uint64_t src_key = vswitch_mac_key(src);
    s->clock++;
    if (!source_ok(s, p, src, src_key)) {
        port->count.spoofed++;
        vswitch_report_spoofed(s, p, src);
        return;
    }
    port->count.in_frames++;
    port->count.in_bytes += e->len;
    if (port->cfg->uplink)
        learn(s, p, src_key);
    if (net_mac_is_group(dst)) {
        flood(s, p, hdr, frame, e->len);
        return;
    }
    int q = vswitch_lookup(s, dst);
    if (q < 0)
        flood(s, p, hdr, frame, e->len);
    else if ((unsigned)q == p)
        port->count.to_self++;
    else
        vswitch_port_deliver(s, (unsigned)q, hdr, frame, e->len);
}

/* Takes one entry from port p and deals with it; false if it had none to take. */
static bool serve_one(struct vswitch *s, unsigned p)
{
    struct vswitch_port *port = &s->port[p];
    struct ring_entry e;
    if (!vswitch_port_take(s, p, &e))
        return false;
    if (!ring_entry_inside(&e, port->conn.tx_size) ||
        (e.len && (e.len < NET_MIN_FRAME || e.len > NET_MAX_FRAME))) {
        port->count.bad_entries++;
        vswitch_report_bad_entry(s, p, "TX", &e, port->conn.tx_size);
    } else if (e.len == 0) {
        vswitch_print_counters(s, p);
    } else {
        forward(s, p, &e);
    }
    vswitch_port_give_back(s, p, &e);
    return true;
}

/* Serves the ports in turn, one frame each per round, until none has anything. A port that
 * keeps queuing from another core cannot hold the switch: a pass ends after a budget of frames
 * (every ring's worth, four times), and what is left is taken at the next notification. */
static void pass(struct vswitch *s)
{
    uint64_t budget = 0;
    for (unsigned p = 0; p < s->num_ports; p++)
        budget += 4ull * s->port[p].conn.ring[CONN_TX_ACTIVE].capacity;
    /* Round robin from where the last pass stopped; a whole turn with nothing taken ends it. */
    unsigned idle = 0;
    while (idle < s->num_ports && budget) {
        unsigned p = s->next;
        s->next = (p + 1) % s->num_ports;
        if (vswitch_port_live(s, p) && serve_one(s, p)) {
            idle = 0;
            budget--;
        } else {
            idle++;
        }
    }
    if (!budget)
        s->passes_cut++;
    for (unsigned p = 0; p < s->num_ports; p++) {
        struct vswitch_port *port = &s->port[p];
        vswitch_port_live(s, p); /* reports a connection that ended in this pass */
        if (port->notify) {
            port->notify = false;
            pd_notify(port->conn.channel);
        }
    }
}

/* ---- start ---------------------------------------------------------------------------------- */

/* What is wrong with port p's configuration, or NULL. */
static const char *port_problem(const struct vswitch *s, unsigned p)
{
    const struct vswitch_port_config *c = &s->port[p].cfg[0];
    if (!c->name || !c->name[0])
        return "it has no name";
    if (!ring_capacity_ok(c->conn.capacity))
        return "its ring capacity is not a power of two";
    if (!c->conn.queue || !c->conn.tx_data || !c->conn.rx_data)
        return "a region of its connection is not mapped";
    if (c->conn.tx_size < NET_BUF_SIZE || c->conn.rx_size < NET_BUF_SIZE)
        return "a data region of its connection is smaller than one buffer";
    if (c->conn.channel >= 63)
        return "its channel is not a Microkit channel (0..62)";
    if (!c->uplink && (net_mac_is_group(c->mac) || vswitch_mac_key(c->mac) == 0))
        return "its MAC is a group address or zero";
    for (unsigned q = 0; q < p; q++) {
        const struct vswitch_port *o = &s->port[q];
        if (!o->configured)
            continue;
        if (o->cfg->conn.channel == c->conn.channel)
            return "its channel is another port's";
        if (!c->uplink && !o->cfg->uplink && o->mac == vswitch_mac_key(c->mac))
            return "its MAC is another port's";
    }
    return NULL;
}

void vswitch_init(struct vswitch *s, const struct vswitch_config *cfg)
{
    *s = (struct vswitch){ .name = cfg->name ? cfg->name : "?" };
    unsigned n = 0;
    const char *lead = "vswitch ";
    for (unsigned i = 0; lead[i]; i++)
        s->prefix[n++] = lead[i];
    for (unsigned i = 0; i < VSWITCH_NAME_MAX && s->name[i]; i++)
        s->prefix[n++] = s->name[i];
    s->prefix[n++] = ':';
    s->prefix[n++] = ' ';
    s->prefix[n] = '\0';
    if (cfg->num_ports > VSWITCH_MAX_PORTS || cfg->num_ports == 0) {
        vswitch_report_config(s, VSWITCH_MAX_PORTS,
                              cfg->num_ports ? "more ports than the switch serves" : "no ports");
        return;
    }
    s->num_ports = cfg->num_ports;
    for (unsigned p = 0; p < s->num_ports; p++) {
        struct vswitch_port *port = &s->port[p];
        port->cfg = &cfg->ports[p];
        port->mac = vswitch_mac_key(port->cfg->mac);
        const char *why = port_problem(s, p);
        if (why) {
            vswitch_report_config(s, p, why);
            continue;
        }
        conn_attach(&port->conn, &port->cfg->conn);
        port->configured = true;
        if (!port->cfg->uplink) {
            for (unsigned i = 0; i < VSWITCH_FDB_SIZE; i++) {
                if (!s->fdb[i].used) {
                    s->fdb[i] = (struct vswitch_fdb_entry){
                        .mac = port->mac, .port = (uint8_t)p, .used = true, .fixed = true
                    };
                    break;
                }
            }
        }
    }
    s->ready = true;
    vswitch_report_start(s);
    pass(s);
}

void vswitch_notified(struct vswitch *s, unsigned channel)
{
    (void)channel; /* any port's notification: every port is looked at */
    if (s->ready)
        pass(s);
}
