/* The uplink (see uplink.h). */
#include "uplink.h"

#include <lib/text.h>
#include <pd/pd.h>

void uplink_init(struct uplink *u, const struct uplink_config *cfg, uint64_t dma_paddr,
                 const char *name)
{
    *u = (struct uplink){ .cfg = cfg };
    struct text t = { .len = 0 };
    text_str(&t, name);
    const char *why = NULL;
    if (!net_client_init(&u->net, &cfg->net))
        why = "its connection to the switch is not usable (ring capacity, regions)";
    else if (!dma_paddr)
        why = "the DMA region's physical address was not set (setvar region_paddr)";
    else
        why = vnet_start(&u->nic, cfg->regs, (void *)cfg->dma, dma_paddr, cfg->dma_size);
    if (why) {
        text_str(&t, ": error: the NIC at ");
        text_hex(&t, cfg->regs_phys);
        text_str(&t, ": ");
        text_str(&t, why);
        text_str(&t, "; no uplink\n");
        pd_puts(text_cstr(&t));
        return;
    }
    u->ready = true;
    text_str(&t, ": uplink of switch ");
    text_str(&t, cfg->switch_name);
    text_str(&t, " on the virtio-net device at ");
    text_hex(&t, cfg->regs_phys);
    if (u->nic.has_mac) {
        text_str(&t, " (");
        text_mac(&t, u->nic.mac);
        text_char(&t, ')');
    }
    text_char(&t, '\n');
    pd_puts(text_cstr(&t));
    net_client_flush(&u->net);
}

void uplink_notified(struct uplink *u, unsigned channel)
{
    if (!u->ready)
        return;
    bool irq = channel == u->cfg->irq_channel;
    if (irq)
        vnet_irq_ack(&u->nic);
    net_client_notified(&u->net);
    uint32_t n;
    /* Out: the switch's frames onto the wire while the NIC has descriptors. */
    while (vnet_tx_room(&u->nic) && (n = net_client_recv(&u->net, u->frame, sizeof(u->frame))))
        vnet_send(&u->nic, u->frame, n);
    /* In: the NIC's frames to the switch while it has TX buffers for them. */
    while (net_client_tx_room(&u->net) && (n = vnet_recv(&u->nic, u->frame, sizeof(u->frame))))
        net_client_send(&u->net, u->frame, n);
    vnet_kick(&u->nic);
    net_client_flush(&u->net);
    if (irq)
        pd_irq_ack(channel);
}
