/* The fixture's virtio device as a network device (for tests/host/test_virtio_net.c and
 * bench/net_cost.c): in the same slot, on the same channel, with its own connection of
 * NDFX_BUFS buffers each way, and a guest driver that negotiates what Linux does. */
#ifndef NET_DEV_FX_H
#define NET_DEV_FX_H

#include <proto/net.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio_fx.h"

#define NDFX_BUFS 8u
#define NDFX_QN 16u
#define NDFX_HDR 12u
#define NDFX_F_MTU (1u << 3)
#define NDFX_F_MAC (1u << 5)
#define NDFX_F_STATUS (1u << 16)

extern const uint8_t ndfx_mac[6];

/* fx_config(1) with a network device of this MTU (not yet started). */
void ndfx_config(uint16_t mtu);
/* Linux's probe: VERSION_1, MAC, MTU, STATUS; both queues of NDFX_QN; DRIVER_OK. */
bool ndfx_driver_up(void);
/* ndfx_config(1500), vm_init, vm_boot, fb_attach, ndfx_driver_up. */
bool ndfx_up(void);

#endif
