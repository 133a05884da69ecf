/* The fixture's network device (see net_dev_fx.h). */
#include "net_dev_fx.h"

#include <string.h>

#include "fixture.h"

const uint8_t ndfx_mac[6] = { 0x02, 0, 0, 0, 0, 0x0a };
static uint8_t net_mem[4096 + 2 * NDFX_BUFS * NET_BUF_SIZE] __attribute__((aligned(64)));

void ndfx_config(uint16_t mtu)
{
    fx_config(1);
    memset(net_mem, 0, sizeof(net_mem));
    fx.virtio[0] = (struct vmm_virtio_device){
        .type = VMM_VIRTIO_NET,
        .name = "net_lan",
        .base = FX_VIRTIO_BASE,
        .size = FX_VIRTIO_SIZE,
        .irq = FX_VIRTIO_IRQ,
        .conn = { .queue = (uintptr_t)net_mem,
                  .capacity = NDFX_BUFS,
                  .tx_data = (uintptr_t)(net_mem + 4096),
                  .tx_size = NDFX_BUFS * NET_BUF_SIZE,
                  .rx_data = (uintptr_t)(net_mem + 4096 + NDFX_BUFS * NET_BUF_SIZE),
                  .rx_size = NDFX_BUFS * NET_BUF_SIZE,
                  .channel = FX_VIRTIO_CH },
    };
    memcpy(fx.virtio[0].u.net.mac, ndfx_mac, 6);
    fx.virtio[0].u.net.mtu = mtu;
    fx.cfg.virtio = fx.virtio;
    fx.cfg.num_virtio = 1;
}

bool ndfx_driver_up(void)
{
    const uint32_t ok = VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK | VIO_S_DRIVER_OK;
    if (!(vdrv_negotiate(VIO_F_VERSION_1_HI, NDFX_F_MAC | NDFX_F_MTU | NDFX_F_STATUS) &
          VIO_S_FEATURES_OK))
        return false;
    vdrv_queue_setup(VIO_RXQ, NDFX_QN);
    vdrv_queue_setup(VIO_TXQ, NDFX_QN);
    vio_write(VIO_STATUS, ok);
    return vio_read(VIO_STATUS) == ok;
}

bool ndfx_up(void)
{
    ndfx_config(1500);
    if (!vm_init(&fx.vm, &fx.cfg, fx.ram) || !vm_boot(&fx.vm))
        return false;
    fb_attach();
    return ndfx_driver_up();
}
