# The uplink PD: a NIC (QEMU's virtio-net-device) as a port of a virtual switch. The build adds
# src/seL4/pd_seam.c and the generated configuration (`const struct uplink_config uplink_config`,
# components/uplink/config.h).
uplink_SRCS := components/uplink/main.c components/uplink/uplink.c components/lib/buf_client.c components/lib/net_client.c \
        drivers/virtio_net/virtio_net.c
