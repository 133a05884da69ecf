# The block server PD. The build adds src/seL4/pd_seam.c and the generated configuration (a C file
# defining `const struct blk_server_config blk_server_config`, components/blk_server/config.h,
# and, for a RAM disk, the image), and compiles with -Icomponents -Idrivers besides -Iinclude.
blk_server_SRCS := components/blk_server/main.c components/blk_server/server.c \
        components/blk_server/storage.c components/blk_server/partition.c \
        drivers/virtio_blk/virtio_blk.c drivers/virtio_mmio/virtio_mmio.c
