/* A virtual switch under test: up to NFX_PORTS ports with their shared regions, each driven by a
 * client (pd/net_client.h) or by hand, and a pump that delivers notifications both ways. */
#ifndef NET_FIXTURE_H
#define NET_FIXTURE_H

#include <pd/net_client.h>
#include <stdbool.h>
#include <stdint.h>
#include <vswitch/vswitch.h>

#define NFX_PORTS 5
#define NFX_CAPACITY 8
#define NFX_DATA (NFX_CAPACITY * NET_BUF_SIZE)
#define NFX_SW_CH(i) (1 + (i))      /* the switch's channel to port i */
#define NFX_CLIENT_CH(i) (21 + (i)) /* port i's channel to the switch */

struct nfx_port {
    _Alignas(64) uint8_t queue[4096];
    _Alignas(64) uint8_t tx[NFX_DATA];
    _Alignas(64) uint8_t rx[NFX_DATA];
    struct conn_config client_view;
    struct net_client cl;
    struct conn raw;               /* the client's rings, for entries a test makes by hand */
    bool deaf;                     /* the pump does not take its frames (a slow receiver) */
    void (*on_notify)(unsigned i); /* instead of the pump's own handling */
};

struct nfx {
    struct vswitch_config cfg;
    struct vswitch sw;
    struct nfx_port p[NFX_PORTS];
    unsigned n;
};

extern struct nfx nfx;

/* MAC of port i: 02:00:00:00:00:(i+1). */
void nfx_mac(unsigned i, uint8_t *mac);
/* `ports` ports named port1.., the last `uplinks` of them uplinks; the switch is not started. */
void nfx_setup(unsigned ports, unsigned uplinks);
/* Clients attach (RX buffers lent), then the switch starts. */
void nfx_start(void);
/* Port i sends a frame through its client; then everything is delivered. True if queued. */
bool nfx_send(unsigned i, const uint8_t *frame, uint32_t len);
/* Port i queues an entry by hand and notifies the switch (not pumped). */
void nfx_raw_tx(unsigned i, uint64_t offset, uint32_t len, uint32_t id);
/* Delivers notifications until quiet. */
void nfx_pump(void);
/* Port i's next received frame (0: none). */
uint32_t nfx_recv(unsigned i, uint8_t *buf);
/* Frames waiting for port i (received by the switch's side, not yet taken). */
uint32_t nfx_waiting(unsigned i);
/* A frame dst, src, EtherType 0x88b5, then `payload` bytes of pattern `seed`; its length. */
uint32_t nfx_frame(uint8_t *buf, const uint8_t *dst, const uint8_t *src, uint32_t payload,
                   uint8_t seed);

#endif
