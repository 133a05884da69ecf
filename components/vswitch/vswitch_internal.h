/* What the switch's files share (see vswitch.h for what it does). */
#ifndef VSWITCH_INTERNAL_H
#define VSWITCH_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "vswitch.h"

/* vswitch_port.c: one port's connection. */
/* True if the port's connection is usable; a ring found corrupt ends it (reported once). */
bool vswitch_port_live(struct vswitch *s, unsigned p);
/* Takes the next frame entry the port queued, if TX_FREE has room to give it back: true with
 * the entry in *e. */
bool vswitch_port_take(struct vswitch *s, unsigned p, struct ring_entry *e);
/* Gives a TX buffer back to its port (TX_FREE). */
void vswitch_port_give_back(struct vswitch *s, unsigned p, const struct ring_entry *e);
/* Copies a frame into one of the port's free RX buffers and queues it on RX_ACTIVE; no free
 * buffer: dropped and counted. `hdr` is the checked copy of the frame's first NET_MIN_FRAME
 * bytes, which replace those of `frame` (the sender's buffer, which it may still change). */
void vswitch_port_deliver(struct vswitch *s, unsigned q, const uint8_t *hdr, const uint8_t *frame,
                          uint32_t len);

/* vswitch_report.c: lines in the switch's log. */
void vswitch_report_start(struct vswitch *s);
void vswitch_report_spoofed(struct vswitch *s, unsigned p, const uint8_t *src);
void vswitch_report_bad_entry(struct vswitch *s, unsigned p, const char *ring,
                              const struct ring_entry *e, uint64_t region_size);
void vswitch_report_dropping(struct vswitch *s, unsigned q);
void vswitch_report_end(struct vswitch *s, unsigned p);
void vswitch_report_config(struct vswitch *s, unsigned p, const char *why);

/* A MAC as a 48-bit number, byte 0 most significant. */
static inline uint64_t vswitch_mac_key(const uint8_t *mac)
{
    uint64_t k = 0;
    for (unsigned i = 0; i < NET_MAC_LEN; i++)
        k = k << 8 | mac[i];
    return k;
}

#endif
